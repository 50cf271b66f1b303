import type { PgMigration } from './index.js'

// Log chunks, identity and access (users, keys, bindings, workspaces, grants, audit), replicas,
// run leases and fire claims.
export const migration: PgMigration = {
  version: 2,
  name: 'logs_identity_leases',
  sql: `
SELECT 1;
`,
}
