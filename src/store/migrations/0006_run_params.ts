import type { Migration } from './types.js'

// A run keeps the parameters it was started with (resolved: defaults filled in), as JSON, so
// that `runtime get` shows them, `runtime retry` reuses them and the engine reads them at every
// step launch. NULL for runs of workflows without params and for runs made before this column.
// Secret params are stored as given: the API masks them, logs redact them.
export const migration: Migration = {
  version: 6,
  name: 'run_params',
  sqlite: `
ALTER TABLE runs ADD COLUMN params TEXT;
`,
}
