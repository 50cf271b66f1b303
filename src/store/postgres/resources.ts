// PostgreSQL resources: scaffolding the pg-core engineer replaces with the real statements.
import { CtlError } from '../../errors.js'
import type { PgDb } from './db.js'

function notBuilt(what: string): never {
  throw new CtlError('E_INTERNAL', `the PostgreSQL store has no ${what} yet`)
}

export function applyResource(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('applyResource')
}

export function getResource(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('getResource')
}

export function getResourceById(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('getResourceById')
}

export function listResources(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('listResources')
}

export function listResourceSummaries(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('listResourceSummaries')
}

export function listRevisions(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('listRevisions')
}

export function getRevision(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('getRevision')
}

export function setResourceStatus(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('setResourceStatus')
}

export function deleteResource(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('deleteResource')
}
