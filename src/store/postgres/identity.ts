// Identity on PostgreSQL: users, API keys, role bindings, workspaces, grants, audit — the same
// records, errors and orders as ../sqlite-identity.ts. Several replicas write at once, so every
// check-then-write either is one statement or locks the row it checked (FOR SHARE / FOR UPDATE).
import { CtlError } from '../../errors.js'
import { newId, nowIso } from '../ids.js'
import type {
  ApiKeyRecord, AuditInput, AuditRecord, CreateApiKeyInput, CreateUserInput, GrantRecord, RoleBindingRecord, UserRecord,
  UserType, WorkspaceRecord,
} from '../types.js'
import type { PgDb, PgQuery } from './db.js'

interface UserRow { id: string; name: string; type: string; email: string | null; created_at: string; deleted_at: string | null }
interface KeyRow {
  id: string; user_id: string; name: string; created_at: string; expires_at: string | null; revoked_at: string | null
  last_used_at: string | null
}
interface BindingRow { user_id: string; role: string; workspace: string; created_by: string; created_at: string }
interface WorkspaceRow { name: string; description: string | null; layer: string; tags: string; created_at: string; deleted_at: string | null }
interface GrantRow { resource_id: string; user_id: string; permission: string; granted_by: string; created_at: string }
interface AuditRow { seq: string | number; time: string; actor: string; action: string; target: string; result: string; detail: string | null }

/** A tenant-wide binding's workspace column is '' (NULLs are distinct in keys), as in SQLite. */
function wsToDb(workspace: string | null): string {
  return workspace ?? ''
}

const USER_COLUMNS = 'id, name, type, email, created_at, deleted_at'
const KEY_COLUMNS = 'id, user_id, name, created_at, expires_at, revoked_at, last_used_at'
const WORKSPACE_COLUMNS = 'name, description, layer, tags, created_at, deleted_at'
const GRANT_COLUMNS = 'resource_id, user_id, permission, granted_by, created_at'

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
  const a: AuditRecord = { seq: Number(r.seq), time: r.time, actor: r.actor, action: r.action, target: r.target, result: r.result }
  if (r.detail !== null) a.detail = JSON.parse(r.detail) as unknown
  return a
}

// ---- users

/** Creates the user, or revives a deleted one under the same id (one statement: no race between replicas). */
export async function createUser(db: PgDb, input: CreateUserInput): Promise<UserRecord> {
  const row = await db.one<UserRow>(
    `INSERT INTO users (id, name, type, email, created_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (id) DO UPDATE SET name = excluded.name, type = excluded.type, email = excluded.email,
       created_at = excluded.created_at, deleted_at = NULL
     WHERE users.deleted_at IS NOT NULL
     RETURNING ${USER_COLUMNS}`,
    [input.id, input.name, input.type, input.email ?? null, nowIso()],
  )
  if (!row) throw new CtlError('E_CONFLICT', `user ${input.id} exists already`)
  return toUser(row)
}

export async function getUser(db: PgDb, id: string, includeDeleted = false): Promise<UserRecord | undefined> {
  const row = await db.one<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id])
  if (!row || (row.deleted_at !== null && !includeDeleted)) return undefined
  return toUser(row)
}

export async function listUsers(db: PgDb, includeDeleted = false): Promise<UserRecord[]> {
  const sql = includeDeleted
    ? `SELECT ${USER_COLUMNS} FROM users ORDER BY id`
    : `SELECT ${USER_COLUMNS} FROM users WHERE deleted_at IS NULL ORDER BY id`
  return (await db.rows<UserRow>(sql)).map(toUser)
}

export async function deleteUser(db: PgDb, id: string): Promise<void> {
  await db.tx(async (q) => {
    const now = nowIso()
    // The UPDATE locks the user's row: a concurrent createApiKey/addRoleBinding (FOR SHARE) waits and then sees it deleted.
    const n = await q.exec('UPDATE users SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL', [now, id])
    if (n === 0) throw new CtlError('E_NOT_FOUND', `user ${id} not found`)
    await q.exec('UPDATE api_keys SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL', [now, id])
    await q.exec('DELETE FROM role_bindings WHERE user_id = $1', [id])
    await q.exec('DELETE FROM grants WHERE user_id = $1', [id])
  })
}

/** Locks a live user's row against deletion until the transaction ends; E_NOT_FOUND otherwise. */
async function requireUser(q: PgQuery, id: string): Promise<void> {
  const user = await q.one<{ deleted_at: string | null }>('SELECT deleted_at FROM users WHERE id = $1 FOR SHARE', [id])
  if (!user || user.deleted_at !== null) throw new CtlError('E_NOT_FOUND', `user ${id} not found`)
}

// ---- API keys

export async function createApiKey(db: PgDb, input: CreateApiKeyInput): Promise<ApiKeyRecord> {
  return db.tx(async (q) => {
    await requireUser(q, input.userId)
    const row = await q.one<KeyRow>(
      `INSERT INTO api_keys (id, user_id, name, hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${KEY_COLUMNS}`,
      [newId('key'), input.userId, input.name, input.hash, nowIso(), input.expiresAt ?? null],
    )
    return toKey(row!)
  })
}

export async function listApiKeys(db: PgDb, userId: string): Promise<ApiKeyRecord[]> {
  return (await db.rows<KeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY created_at, id`, [userId])).map(toKey)
}

export async function revokeApiKey(db: PgDb, userId: string, keyId: string): Promise<boolean> {
  return (await db.exec('UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL', [nowIso(), keyId, userId])) > 0
}

export async function findApiKeyByHash(db: PgDb, hash: string): Promise<{ key: ApiKeyRecord; user: UserRecord } | undefined> {
  // One statement: the key and its user as of one snapshot.
  const row = await db.one<KeyRow & { u_id: string; u_name: string; u_type: string; u_email: string | null; u_created_at: string; u_deleted_at: string | null }>(
    `SELECT k.id, k.user_id, k.name, k.created_at, k.expires_at, k.revoked_at, k.last_used_at,
            u.id AS u_id, u.name AS u_name, u.type AS u_type, u.email AS u_email, u.created_at AS u_created_at, u.deleted_at AS u_deleted_at
     FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.hash = $1`,
    [hash],
  )
  if (!row) return undefined
  const user = toUser({ id: row.u_id, name: row.u_name, type: row.u_type, email: row.u_email, created_at: row.u_created_at, deleted_at: row.u_deleted_at })
  return { key: toKey(row), user }
}

export async function touchApiKey(db: PgDb, keyId: string, time: string): Promise<void> {
  await db.exec('UPDATE api_keys SET last_used_at = $1 WHERE id = $2', [time, keyId])
}

// ---- role bindings

export async function addRoleBinding(db: PgDb, input: Omit<RoleBindingRecord, 'createdAt'>): Promise<boolean> {
  return db.tx(async (q) => {
    await requireUser(q, input.userId)
    if (input.workspace !== null) await requireWorkspace(q, input.workspace)
    const n = await q.exec(
      'INSERT INTO role_bindings (user_id, role, workspace, created_by, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
      [input.userId, input.role, wsToDb(input.workspace), input.createdBy, nowIso()],
    )
    return n > 0
  })
}

export async function removeRoleBinding(db: PgDb, userId: string, role: string, workspace: string | null): Promise<boolean> {
  return (await db.exec('DELETE FROM role_bindings WHERE user_id = $1 AND role = $2 AND workspace = $3', [userId, role, wsToDb(workspace)])) > 0
}

export async function listRoleBindings(db: PgDb, filter: { userId?: string; workspace?: string | null }): Promise<RoleBindingRecord[]> {
  const where: string[] = []
  const args: string[] = []
  if (filter.userId !== undefined) {
    args.push(filter.userId)
    where.push(`user_id = $${args.length}`)
  }
  if (filter.workspace !== undefined) {
    args.push(wsToDb(filter.workspace))
    where.push(`workspace = $${args.length}`)
  }
  const sql = `SELECT user_id, role, workspace, created_by, created_at FROM role_bindings ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY user_id, workspace, role`
  return (await db.rows<BindingRow>(sql, args)).map(toBinding)
}

// ---- workspaces

/** Locks a live workspace's row against deletion until the transaction ends; E_NOT_FOUND otherwise. */
async function requireWorkspace(q: PgQuery, name: string): Promise<void> {
  const row = await q.one<{ deleted_at: string | null }>('SELECT deleted_at FROM workspaces WHERE name = $1 FOR SHARE', [name])
  if (!row || row.deleted_at !== null) throw new CtlError('E_NOT_FOUND', `workspace ${name} not found`)
}

/** Creates the workspace, or revives a deleted one of that name (one statement). */
export async function createWorkspace(db: PgDb, input: Omit<WorkspaceRecord, 'createdAt'>): Promise<WorkspaceRecord> {
  const row = await db.one<WorkspaceRow>(
    `INSERT INTO workspaces (name, description, layer, tags, created_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (name) DO UPDATE SET description = excluded.description, layer = excluded.layer, tags = excluded.tags,
       created_at = excluded.created_at, deleted_at = NULL
     WHERE workspaces.deleted_at IS NOT NULL
     RETURNING ${WORKSPACE_COLUMNS}`,
    [input.name, input.description ?? null, input.layer, JSON.stringify(input.tags), nowIso()],
  )
  if (!row) throw new CtlError('E_CONFLICT', `workspace ${input.name} exists already`)
  return toWorkspace(row)
}

export async function getWorkspace(db: PgDb, name: string): Promise<WorkspaceRecord | undefined> {
  const row = await db.one<WorkspaceRow>(`SELECT ${WORKSPACE_COLUMNS} FROM workspaces WHERE name = $1 AND deleted_at IS NULL`, [name])
  return row && toWorkspace(row)
}

export async function listWorkspaces(db: PgDb): Promise<WorkspaceRecord[]> {
  return (await db.rows<WorkspaceRow>(`SELECT ${WORKSPACE_COLUMNS} FROM workspaces WHERE deleted_at IS NULL ORDER BY name`)).map(toWorkspace)
}

export async function deleteWorkspace(db: PgDb, name: string): Promise<void> {
  await db.tx(async (q) => {
    const n = await q.exec('UPDATE workspaces SET deleted_at = $1 WHERE name = $2 AND deleted_at IS NULL', [nowIso(), name])
    if (n === 0) throw new CtlError('E_NOT_FOUND', `workspace ${name} not found`)
    await q.exec('DELETE FROM role_bindings WHERE workspace = $1', [name])
  })
}

// ---- grants

export async function addGrant(db: PgDb, input: Omit<GrantRecord, 'createdAt'>): Promise<boolean> {
  const n = await db.exec(
    'INSERT INTO grants (resource_id, user_id, permission, granted_by, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
    [input.resourceId, input.userId, input.permission, input.grantedBy, nowIso()],
  )
  return n > 0
}

export async function removeGrant(db: PgDb, resourceId: string, userId: string, permission: string): Promise<boolean> {
  return (await db.exec('DELETE FROM grants WHERE resource_id = $1 AND user_id = $2 AND permission = $3', [resourceId, userId, permission])) > 0
}

export async function listGrants(db: PgDb, filter: { resourceId?: string; userId?: string }): Promise<GrantRecord[]> {
  let rows: GrantRow[]
  if (filter.resourceId !== undefined && filter.userId !== undefined) {
    rows = await db.rows<GrantRow>(`SELECT ${GRANT_COLUMNS} FROM grants WHERE resource_id = $1 AND user_id = $2 ORDER BY permission`, [filter.resourceId, filter.userId])
  } else if (filter.resourceId !== undefined) {
    rows = await db.rows<GrantRow>(`SELECT ${GRANT_COLUMNS} FROM grants WHERE resource_id = $1 ORDER BY user_id, permission`, [filter.resourceId])
  } else if (filter.userId !== undefined) {
    rows = await db.rows<GrantRow>(`SELECT ${GRANT_COLUMNS} FROM grants WHERE user_id = $1 ORDER BY resource_id, permission`, [filter.userId])
  } else {
    rows = await db.rows<GrantRow>(`SELECT ${GRANT_COLUMNS} FROM grants ORDER BY resource_id, user_id, permission`)
  }
  return rows.map(toGrant)
}

export async function deleteGrantsForResource(db: PgDb, resourceId: string): Promise<void> {
  await db.exec('DELETE FROM grants WHERE resource_id = $1', [resourceId])
}

// ---- audit

export async function appendAudit(db: PgDb, entry: AuditInput): Promise<void> {
  await db.exec('INSERT INTO audit (time, actor, action, target, result, detail) VALUES ($1, $2, $3, $4, $5, $6)', [
    entry.time ?? nowIso(), entry.actor, entry.action, entry.target, entry.result,
    entry.detail === undefined ? null : JSON.stringify(entry.detail),
  ])
}

export async function listAudit(db: PgDb, filter: { since?: string; limit?: number }): Promise<AuditRecord[]> {
  // The newest `limit` (LIMIT NULL: all; a negative limit means all, as in SQLite), returned oldest first.
  const limit = filter.limit === undefined || filter.limit < 0 ? null : Math.floor(filter.limit)
  const cols = 'seq, time, actor, action, target, result, detail'
  const rows = filter.since !== undefined
    ? await db.rows<AuditRow>(`SELECT ${cols} FROM audit WHERE time >= $1 ORDER BY seq DESC LIMIT $2`, [filter.since, limit])
    : await db.rows<AuditRow>(`SELECT ${cols} FROM audit ORDER BY seq DESC LIMIT $1`, [limit])
  return rows.reverse().map(toAudit)
}
