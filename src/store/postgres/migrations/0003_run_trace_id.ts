import type { PgMigration } from './index.js'

// A run's OpenTelemetry trace id (SQLite's migration 13): NULL when traces were off as it was created.
export const migration: PgMigration = {
  version: 3,
  name: 'run_trace_id',
  sql: `
ALTER TABLE runs ADD COLUMN trace_id TEXT COLLATE "C";
`,
}
