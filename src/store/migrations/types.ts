// One schema step. Versions are dense (1, 2, 3, ...) and never edited once
// released: a change is a new file. A PostgreSQL dialect can be added as a
// second field when that store lands.
export interface Migration {
  version: number
  name: string
  /** Statements for SQLite, run as one script inside the migration's transaction. */
  sqlite: string
}
