// PostgreSQL schedules: scaffolding the pg-core engineer replaces with the real statements.
import { CtlError } from '../../errors.js'
import type { PgDb } from './db.js'

function notBuilt(what: string): never {
  throw new CtlError('E_INTERNAL', `the PostgreSQL store has no ${what} yet`)
}

export function getSchedule(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('getSchedule')
}

export function putSchedule(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('putSchedule')
}

export function deleteSchedule(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('deleteSchedule')
}

export function listSchedules(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('listSchedules')
}

export function getMeta(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('getMeta')
}

export function setMeta(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('setMeta')
}
