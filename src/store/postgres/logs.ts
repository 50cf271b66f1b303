// PostgreSQL logs: scaffolding the pg-rest engineer replaces with the real statements.
import { CtlError } from '../../errors.js'
import type { PgDb } from './db.js'
import type { LogWaiters } from '../log-waiters.js'

function notBuilt(what: string): never {
  throw new CtlError('E_INTERNAL', `the PostgreSQL store has no ${what} yet`)
}

export function appendLogs(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('appendLogs')
}

export function readLogs(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('readLogs')
}

export function iterateLogs(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('iterateLogs')
}

export function iterateLogChunks(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('iterateLogChunks')
}

export function deleteLogsBefore(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('deleteLogsBefore')
}

export async function startLogNotifications(_db: PgDb, _waiters: LogWaiters): Promise<void> {}
