import type { PgMigration } from './index.js'

// Resources and revisions, runs and step attempts, schedules, backfills, meta.
export const migration: PgMigration = {
  version: 1,
  name: 'core',
  sql: `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`,
}
