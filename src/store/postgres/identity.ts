// PostgreSQL identity: scaffolding the pg-rest engineer replaces with the real statements.
import { CtlError } from '../../errors.js'
import type { PgDb } from './db.js'

function notBuilt(what: string): never {
  throw new CtlError('E_INTERNAL', `the PostgreSQL store has no ${what} yet`)
}

export function createUser(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('createUser')
}

export function getUser(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('getUser')
}

export function listUsers(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('listUsers')
}

export function deleteUser(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('deleteUser')
}

export function createApiKey(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('createApiKey')
}

export function listApiKeys(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('listApiKeys')
}

export function revokeApiKey(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('revokeApiKey')
}

export function findApiKeyByHash(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('findApiKeyByHash')
}

export function touchApiKey(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('touchApiKey')
}

export function addRoleBinding(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('addRoleBinding')
}

export function removeRoleBinding(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('removeRoleBinding')
}

export function listRoleBindings(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('listRoleBindings')
}

export function createWorkspace(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('createWorkspace')
}

export function getWorkspace(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('getWorkspace')
}

export function listWorkspaces(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('listWorkspaces')
}

export function deleteWorkspace(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('deleteWorkspace')
}

export function addGrant(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('addGrant')
}

export function removeGrant(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('removeGrant')
}

export function listGrants(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('listGrants')
}

export function deleteGrantsForResource(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('deleteGrantsForResource')
}

export function appendAudit(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('appendAudit')
}

export function listAudit(_db: PgDb, ..._args: unknown[]): never {
  return notBuilt('listAudit')
}
