// PostgreSQL runs: scaffolding the pg-core engineer replaces with the real statements.
import { CtlError } from '../../errors.js'
import type { PgDb } from './db.js'

function notBuilt(what: string): never {
  throw new CtlError('E_INTERNAL', `the PostgreSQL store has no ${what} yet`)
}

export function createRun(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('createRun')
}

export function getRun(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('getRun')
}

export function listRuns(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('listRuns')
}

export function listLatestRuns(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('listLatestRuns')
}

export function updateRun(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('updateRun')
}

export function getStepRun(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('getStepRun')
}

export function listStepRuns(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('listStepRuns')
}

export function stepOutputs(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('stepOutputs')
}

export function createStepInstances(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('createStepInstances')
}

export function createStepAttempt(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('createStepAttempt')
}

export function updateStepRun(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('updateStepRun')
}

export function listActiveStepRuns(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('listActiveStepRuns')
}
