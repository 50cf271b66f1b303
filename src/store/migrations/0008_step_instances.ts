import type { Migration } from './types.js'

// A fanned-out step (forEach / matrix) runs as instances: step runs named like `shard-0` or
// `test-debian-3.11`, each pointing at its step (`parent_step`) and holding the values it
// renders with (`instance`: JSON `{"index":0,"item":…}` or `{"matrix":{…}}`). The step's
// own row stays and carries the state derived from its instances.
export const migration: Migration = {
  version: 8,
  name: 'step_instances',
  sqlite: `
ALTER TABLE step_runs ADD COLUMN parent_step TEXT;
ALTER TABLE step_runs ADD COLUMN instance TEXT;
`,
}
