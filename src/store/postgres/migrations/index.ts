// PostgreSQL's own versioned migrations. They start from the schema SQLite had reached when this
// store was added (SQLite's migration 12), split by area; later schema changes get a file here and
// one in ../../migrations (SQLite) each. Versions are dense and never edited once released.
import { migration as m0001 } from './0001_core.js'
import { migration as m0002 } from './0002_logs_identity_leases.js'
import { migration as m0003 } from './0003_run_trace_id.js'

export interface PgMigration {
  version: number
  name: string
  /** Statements run in one transaction (PostgreSQL's DDL is transactional). */
  sql: string
}

export const PG_MIGRATIONS: readonly PgMigration[] = [m0001, m0002, m0003]
export const PG_LATEST_SCHEMA_VERSION = PG_MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0)
