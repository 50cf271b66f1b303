import type { Migration } from './types.js'

// A step that `runtime retry` carries over (it succeeded in an earlier run and is not run
// again) names the run that ran it, so its attempts' log lines can be read through the new
// run. No foreign key: it is a pointer for reading, and the run it names is always of the
// same resource (the engine sets it from the retried run only).
export const migration: Migration = {
  version: 5,
  name: 'step_kept_from',
  sqlite: `
ALTER TABLE step_runs ADD COLUMN kept_from TEXT;
`,
}
