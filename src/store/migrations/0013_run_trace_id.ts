import type { Migration } from './types.js'

// A run's OpenTelemetry trace id, chosen when the run is created while traces are on (issue 14): the
// replica that ends a run may not be the one that started it, so the trace is a stored fact of the run.
// NULL for runs created with traces off and for runs made before this column.
export const migration: Migration = {
  version: 13,
  name: 'run_trace_id',
  sqlite: `
ALTER TABLE runs ADD COLUMN trace_id TEXT;
`,
}
