// PostgreSQL leases: scaffolding the pg-rest engineer replaces with the real statements.
import { CtlError } from '../../errors.js'
import type { PgDb } from './db.js'

function notBuilt(what: string): never {
  throw new CtlError('E_INTERNAL', `the PostgreSQL store has no ${what} yet`)
}

export function heartbeatReplica(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('heartbeatReplica')
}

export function listReplicas(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('listReplicas')
}

export function removeReplica(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('removeReplica')
}

export function acquireRunLease(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('acquireRunLease')
}

export function renewRunLeases(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('renewRunLeases')
}

export function releaseRunLease(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('releaseRunLease')
}

export function listRunLeases(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('listRunLeases')
}

export function claimFire(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('claimFire')
}

export function pruneFireClaims(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('pruneFireClaims')
}

export function addToCounter(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('addToCounter')
}

export function readCounter(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('readCounter')
}

export function pruneCounters(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('pruneCounters')
}
