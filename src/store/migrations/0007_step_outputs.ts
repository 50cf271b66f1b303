import type { Migration } from './types.js'

// What a step attempt wrote to $CTL_OUTPUTS, as a JSON object of strings (at most 1 MiB, see OUTPUT_LIMITS),
// stored with the attempt's final state in the same UPDATE. Version 7: 6 belongs to run parameters (a gap is
// fine for the runner, which applies every migration above the database's version, in order).
export const migration: Migration = {
  version: 7,
  name: 'step_outputs',
  sqlite: `
ALTER TABLE step_runs ADD COLUMN outputs TEXT;
`,
}
