// PostgreSQL backfills: scaffolding the pg-core engineer replaces with the real statements.
import { CtlError } from '../../errors.js'
import type { PgDb } from './db.js'

function notBuilt(what: string): never {
  throw new CtlError('E_INTERNAL', `the PostgreSQL store has no ${what} yet`)
}

export function createBackfill(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('createBackfill')
}

export function getBackfill(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('getBackfill')
}

export function listBackfills(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('listBackfills')
}

export function listBackfillTimes(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('listBackfillTimes')
}

export function updateBackfillTime(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('updateBackfillTime')
}

export function finishBackfill(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('finishBackfill')
}
