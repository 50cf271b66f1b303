import type { Migration } from './types.js'

// Approval steps (issue 12): a step run waiting for a person holds its request and, once
// decided, the decision in `approval` (JSON: deadline, rendered message, approvers, decision,
// by, comment, at). Kept on the row so a restart of the control plane loses neither.
export const migration: Migration = {
  version: 9,
  name: 'step_approval',
  sqlite: `
ALTER TABLE step_runs ADD COLUMN approval TEXT;
`,
}
