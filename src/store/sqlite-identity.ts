// Identity in the SQLite store: users, API keys, role bindings, workspaces, grants, audit.
// Every multi-row change (deleting a user, reviving one) is one IMMEDIATE transaction.
import { CtlError } from '../errors.js'
import { newId, nowIso } from './ids.js'
import type { SqliteDb } from './sqlite-db.js'
import { wsToDb } from './rows.js'
import { queueUpdate } from './sqlite-runs.js'
import type {
  ApiKeyRecord, AuditInput, AuditRecord, CreateApiKeyInput, CreateUserInput, GrantRecord, RoleBindingRecord, UserRecord,
  UserType, WorkspaceRecord,
} from './types.js'

interface UserRow { id: string; name: string; type: string; email: string | null; created_at: string; deleted_at: string | null }
interface KeyRow {
  id: string; user_id: string; name: string; created_at: string; expires_at: string | null; revoked_at: string | null
  last_used_at: string | null
}
interface BindingRow { user_id: string; role: string; workspace: string; created_by: string; created_at: string }
interface WorkspaceRow { name: string; description: string | null; layer: string; tags: string; created_at: string; deleted_at: string | null }
interface GrantRow { resource_id: string; user_id: string; permission: string; granted_by: string; created_at: string }
interface AuditRow { seq: number; time: string; actor: string; action: string; target: string; result: string; detail: string | null }

const KEY_COLUMNS = 'id, user_id, name, created_at, expires_at, revoked_at, last_used_at'
/** The key of a hash with its user's columns (prefixed u_); no row when either is missing. */
const KEY_WITH_USER = `SELECT ${KEY_COLUMNS.split(', ').map((c) => `k.${c}`).join(', ')},
  u.name AS u_name, u.type AS u_type, u.email AS u_email, u.created_at AS u_created_at, u.deleted_at AS u_deleted_at
  FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.hash = ?`
interface UserOfKey { u_name: string; u_type: string; u_email: string | null; u_created_at: string; u_deleted_at: string | null }

function toUser(r: UserRow): UserRecord {
  const u: UserRecord = { id: r.id, name: r.name, type: r.type as UserType, createdAt: r.created_at }
  if (r.email !== null) u.email = r.email
  if (r.deleted_at !== null) u.deletedAt = r.deleted_at
  return u
}

function toKey(r: KeyRow): ApiKeyRecord {
  const k: ApiKeyRecord = { id: r.id, userId: r.user_id, name: r.name, createdAt: r.created_at }
  if (r.expires_at !== null) k.expiresAt = r.expires_at
  if (r.revoked_at !== null) k.revokedAt = r.revoked_at
  if (r.last_used_at !== null) k.lastUsedAt = r.last_used_at
  return k
}

function toBinding(r: BindingRow): RoleBindingRecord {
  return { userId: r.user_id, role: r.role, workspace: r.workspace === '' ? null : r.workspace, createdBy: r.created_by, createdAt: r.created_at }
}

function toWorkspace(r: WorkspaceRow): WorkspaceRecord {
  const w: WorkspaceRecord = { name: r.name, layer: r.layer === 'system' ? 'system' : 'user', tags: JSON.parse(r.tags) as string[], createdAt: r.created_at }
  if (r.description !== null) w.description = r.description
  return w
}

function toGrant(r: GrantRow): GrantRecord {
  return { resourceId: r.resource_id, userId: r.user_id, permission: r.permission, grantedBy: r.granted_by, createdAt: r.created_at }
}

function toAudit(r: AuditRow): AuditRecord {
  const a: AuditRecord = { seq: r.seq, time: r.time, actor: r.actor, action: r.action, target: r.target, result: r.result }
  if (r.detail !== null) a.detail = JSON.parse(r.detail) as unknown
  return a
}

// ---- users

export async function createUser(db: SqliteDb, input: CreateUserInput): Promise<UserRecord> {
  return db.write(() => {
    const cur = db.stmt('SELECT * FROM users WHERE id = ?').get(input.id) as UserRow | undefined
    if (cur && cur.deleted_at === null) throw new CtlError('E_CONFLICT', `user ${input.id} exists already`)
    const now = nowIso()
    if (cur) {
      db.stmt('UPDATE users SET name = ?, type = ?, email = ?, created_at = ?, deleted_at = NULL WHERE id = ?')
        .run(input.name, input.type, input.email ?? null, now, input.id)
    } else {
      db.stmt('INSERT INTO users (id, name, type, email, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(input.id, input.name, input.type, input.email ?? null, now)
    }
    return toUser(db.stmt('SELECT * FROM users WHERE id = ?').get(input.id) as UserRow)
  })
}

export async function getUser(db: SqliteDb, id: string, includeDeleted = false): Promise<UserRecord | undefined> {
  return db.read(() => {
    const row = db.stmt('SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined
    if (!row || (row.deleted_at !== null && !includeDeleted)) return undefined
    return toUser(row)
  })
}

export async function listUsers(db: SqliteDb, includeDeleted = false): Promise<UserRecord[]> {
  return db.read(() => {
    const sql = includeDeleted ? 'SELECT * FROM users ORDER BY id' : 'SELECT * FROM users WHERE deleted_at IS NULL ORDER BY id'
    return (db.stmt(sql).all() as UserRow[]).map(toUser)
  })
}

export async function deleteUser(db: SqliteDb, id: string): Promise<void> {
  await db.write(() => {
    const now = nowIso()
    const r = db.stmt('UPDATE users SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL').run(now, id)
    if (r.changes === 0) throw new CtlError('E_NOT_FOUND', `user ${id} not found`)
    db.stmt('UPDATE api_keys SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL').run(now, id)
    db.stmt('DELETE FROM role_bindings WHERE user_id = ?').run(id)
    db.stmt('DELETE FROM grants WHERE user_id = ?').run(id)
  })
}

// ---- API keys

export async function createApiKey(db: SqliteDb, input: CreateApiKeyInput): Promise<ApiKeyRecord> {
  return db.write(() => {
    const user = db.stmt('SELECT deleted_at FROM users WHERE id = ?').get(input.userId) as { deleted_at: string | null } | undefined
    if (!user || user.deleted_at !== null) throw new CtlError('E_NOT_FOUND', `user ${input.userId} not found`)
    const id = newId('key')
    db.stmt('INSERT INTO api_keys (id, user_id, name, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(id, input.userId, input.name, input.hash, nowIso(), input.expiresAt ?? null)
    return toKey(db.stmt(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = ?`).get(id) as KeyRow)
  })
}

export async function listApiKeys(db: SqliteDb, userId: string): Promise<ApiKeyRecord[]> {
  return db.read(() => (db.stmt(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE user_id = ? ORDER BY created_at, id`).all(userId) as KeyRow[]).map(toKey))
}

export async function revokeApiKey(db: SqliteDb, userId: string, keyId: string): Promise<boolean> {
  return db.write(() =>
    db.stmt('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL').run(nowIso(), keyId, userId).changes > 0,
  )
}

export async function findApiKeyByHash(db: SqliteDb, hash: string): Promise<{ key: ApiKeyRecord; user: UserRecord } | undefined> {
  // Every request asks this: the key and its user in one statement (one read of the database, not two).
  return db.read(() => {
    const row = db.stmt(KEY_WITH_USER).get(hash) as (KeyRow & UserOfKey) | undefined
    if (!row) return undefined
    const user = { id: row.user_id, name: row.u_name, type: row.u_type, email: row.u_email, created_at: row.u_created_at, deleted_at: row.u_deleted_at }
    return { key: toKey(row), user: toUser(user) }
  })
}

export async function touchApiKey(db: SqliteDb, keyId: string, time: string): Promise<void> {
  await db.write(() => db.stmt('UPDATE api_keys SET last_used_at = ? WHERE id = ?').run(time, keyId))
}

// ---- role bindings

export async function addRoleBinding(db: SqliteDb, input: Omit<RoleBindingRecord, 'createdAt'>): Promise<boolean> {
  return db.write(() => {
    const user = db.stmt('SELECT deleted_at FROM users WHERE id = ?').get(input.userId) as { deleted_at: string | null } | undefined
    if (!user || user.deleted_at !== null) throw new CtlError('E_NOT_FOUND', `user ${input.userId} not found`)
    if (input.workspace !== null) requireWorkspace(db, input.workspace)
    return db.stmt(
      'INSERT INTO role_bindings (user_id, role, workspace, created_by, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ).run(input.userId, input.role, wsToDb(input.workspace), input.createdBy, nowIso()).changes > 0
  })
}

export async function removeRoleBinding(db: SqliteDb, userId: string, role: string, workspace: string | null): Promise<boolean> {
  return db.write(() =>
    db.stmt('DELETE FROM role_bindings WHERE user_id = ? AND role = ? AND workspace = ?').run(userId, role, wsToDb(workspace)).changes > 0,
  )
}

export async function listRoleBindings(db: SqliteDb, filter: { userId?: string; workspace?: string | null }): Promise<RoleBindingRecord[]> {
  return db.read(() => {
    const where: string[] = []
    const args: string[] = []
    if (filter.userId !== undefined) {
      where.push('user_id = ?')
      args.push(filter.userId)
    }
    if (filter.workspace !== undefined) {
      where.push('workspace = ?')
      args.push(wsToDb(filter.workspace))
    }
    const sql = `SELECT * FROM role_bindings ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY user_id, workspace, role`
    return (db.stmt(sql).all(...args) as BindingRow[]).map(toBinding)
  })
}

// ---- workspaces

function requireWorkspace(db: SqliteDb, name: string): void {
  const row = db.stmt('SELECT deleted_at FROM workspaces WHERE name = ?').get(name) as { deleted_at: string | null } | undefined
  if (!row || row.deleted_at !== null) throw new CtlError('E_NOT_FOUND', `workspace ${name} not found`)
}

export async function createWorkspace(db: SqliteDb, input: Omit<WorkspaceRecord, 'createdAt'>): Promise<WorkspaceRecord> {
  return db.write(() => {
    const cur = db.stmt('SELECT deleted_at FROM workspaces WHERE name = ?').get(input.name) as { deleted_at: string | null } | undefined
    if (cur && cur.deleted_at === null) throw new CtlError('E_CONFLICT', `workspace ${input.name} exists already`)
    const now = nowIso()
    const tags = JSON.stringify(input.tags)
    if (cur) {
      db.stmt('UPDATE workspaces SET description = ?, layer = ?, tags = ?, created_at = ?, deleted_at = NULL WHERE name = ?')
        .run(input.description ?? null, input.layer, tags, now, input.name)
    } else {
      db.stmt('INSERT INTO workspaces (name, description, layer, tags, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(input.name, input.description ?? null, input.layer, tags, now)
    }
    return toWorkspace(db.stmt('SELECT * FROM workspaces WHERE name = ?').get(input.name) as WorkspaceRow)
  })
}

export async function getWorkspace(db: SqliteDb, name: string): Promise<WorkspaceRecord | undefined> {
  return db.read(() => {
    const row = db.stmt('SELECT * FROM workspaces WHERE name = ? AND deleted_at IS NULL').get(name) as WorkspaceRow | undefined
    return row && toWorkspace(row)
  })
}

export async function listWorkspaces(db: SqliteDb): Promise<WorkspaceRecord[]> {
  return db.read(() => (db.stmt('SELECT * FROM workspaces WHERE deleted_at IS NULL ORDER BY name').all() as WorkspaceRow[]).map(toWorkspace))
}

export async function deleteWorkspace(db: SqliteDb, name: string): Promise<void> {
  await db.write(() => {
    const r = db.stmt('UPDATE workspaces SET deleted_at = ? WHERE name = ? AND deleted_at IS NULL').run(nowIso(), name)
    if (r.changes === 0) throw new CtlError('E_NOT_FOUND', `workspace ${name} not found`)
    db.stmt('DELETE FROM role_bindings WHERE workspace = ?').run(name)
  })
}

// ---- grants

export async function addGrant(db: SqliteDb, input: Omit<GrantRecord, 'createdAt'>): Promise<boolean> {
  return db.write(() =>
    db.stmt(
      'INSERT INTO grants (resource_id, user_id, permission, granted_by, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ).run(input.resourceId, input.userId, input.permission, input.grantedBy, nowIso()).changes > 0,
  )
}

export async function removeGrant(db: SqliteDb, resourceId: string, userId: string, permission: string): Promise<boolean> {
  return db.write(() =>
    db.stmt('DELETE FROM grants WHERE resource_id = ? AND user_id = ? AND permission = ?').run(resourceId, userId, permission).changes > 0,
  )
}

export async function listGrants(db: SqliteDb, filter: { resourceId?: string; userId?: string }): Promise<GrantRecord[]> {
  return db.read(() => {
    if (filter.resourceId !== undefined && filter.userId !== undefined) {
      return (db.stmt('SELECT * FROM grants WHERE resource_id = ? AND user_id = ? ORDER BY permission').all(filter.resourceId, filter.userId) as GrantRow[]).map(toGrant)
    }
    if (filter.resourceId !== undefined) {
      return (db.stmt('SELECT * FROM grants WHERE resource_id = ? ORDER BY user_id, permission').all(filter.resourceId) as GrantRow[]).map(toGrant)
    }
    if (filter.userId !== undefined) {
      return (db.stmt('SELECT * FROM grants WHERE user_id = ? ORDER BY resource_id, permission').all(filter.userId) as GrantRow[]).map(toGrant)
    }
    return (db.stmt('SELECT * FROM grants ORDER BY resource_id, user_id, permission').all() as GrantRow[]).map(toGrant)
  })
}

export async function deleteGrantsForResource(db: SqliteDb, resourceId: string): Promise<void> {
  await db.write(() => db.stmt('DELETE FROM grants WHERE resource_id = ?').run(resourceId))
}

// ---- audit

export async function appendAudit(db: SqliteDb, entry: AuditInput): Promise<void> {
  // In the next group commit with the run updates of the same loop turn: every audited request
  // waits for its entry, and under load a commit per request was a good part of what one cost.
  const time = entry.time ?? nowIso()
  const detail = entry.detail === undefined ? null : JSON.stringify(entry.detail)
  await queueUpdate(db, () => {
    db.stmt('INSERT INTO audit (time, actor, action, target, result, detail) VALUES (?, ?, ?, ?, ?, ?)').run(
      time, entry.actor, entry.action, entry.target, entry.result, detail,
    )
    return true
  })
}

export async function listAudit(db: SqliteDb, filter: { since?: string; limit?: number }): Promise<AuditRecord[]> {
  return db.read(() => {
    // Newest `limit` first from the index, then turned to oldest first.
    const limit = filter.limit ?? -1
    const rows = filter.since !== undefined
      ? (db.stmt('SELECT * FROM audit WHERE time >= ? ORDER BY seq DESC LIMIT ?').all(filter.since, limit) as AuditRow[])
      : (db.stmt('SELECT * FROM audit ORDER BY seq DESC LIMIT ?').all(limit) as AuditRow[])
    return rows.reverse().map(toAudit)
  })
}
