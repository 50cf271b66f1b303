// The store contract, identity and access: users, API keys, role bindings, workspaces, grants, audit (issue 4).
// Times are ISO-8601 UTC text with milliseconds (`2024-05-01T12:00:00.000Z`), which sorts as text
// in both databases. Records are plain data: what a call returns stays whole after the store closes.

export type UserType = 'person' | 'application'
export type WorkspaceLayer = 'user' | 'system'

export interface UserRecord {
  id: string
  name: string
  type: UserType
  email?: string
  createdAt: string
  deletedAt?: string
}

export interface CreateUserInput {
  id: string
  name: string
  type: UserType
  email?: string
}

export interface ApiKeyRecord {
  id: string
  userId: string
  name: string
  createdAt: string
  expiresAt?: string
  revokedAt?: string
  lastUsedAt?: string
}

export interface CreateApiKeyInput {
  userId: string
  name: string
  /** sha256 (hex) of the token; the token itself is never stored. */
  hash: string
  expiresAt?: string
}

export interface RoleBindingRecord {
  userId: string
  role: string
  /** null: tenant-wide. */
  workspace: string | null
  createdBy: string
  createdAt: string
}

export interface WorkspaceRecord {
  name: string
  description?: string
  layer: WorkspaceLayer
  tags: string[]
  createdAt: string
}

export interface GrantRecord {
  resourceId: string
  userId: string
  permission: string
  grantedBy: string
  createdAt: string
}

export interface AuditRecord {
  seq: number
  time: string
  actor: string
  action: string
  target: string
  result: string
  detail?: unknown
}

export type AuditInput = Omit<AuditRecord, 'seq' | 'time'> & { time?: string }

export interface IdentityStore {
  /** E_CONFLICT when a user with that id exists; a deleted user of that id is revived (with no keys, bindings, grants). */
  createUser(input: CreateUserInput): Promise<UserRecord>
  getUser(id: string, options?: { includeDeleted?: boolean }): Promise<UserRecord | undefined>
  /** Ordered by id. */
  listUsers(options?: { includeDeleted?: boolean }): Promise<UserRecord[]>
  /** Marks the user deleted, revokes its keys, drops its bindings and grants. E_NOT_FOUND when absent. */
  deleteUser(id: string): Promise<void>

  createApiKey(input: CreateApiKeyInput): Promise<ApiKeyRecord>
  /** Oldest first, revoked ones included. */
  listApiKeys(userId: string): Promise<ApiKeyRecord[]>
  /** Sets revoked_at; false when no such (unrevoked) key of that user. */
  revokeApiKey(userId: string, keyId: string): Promise<boolean>
  /** The key with this hash and its user (deleted users too: the caller says why it fails). */
  findApiKeyByHash(hash: string): Promise<{ key: ApiKeyRecord; user: UserRecord } | undefined>
  touchApiKey(keyId: string, time: string): Promise<void>

  /** false when the binding existed already. E_NOT_FOUND for an unknown user or workspace. */
  addRoleBinding(input: Omit<RoleBindingRecord, 'createdAt'>): Promise<boolean>
  /** false when there was no such binding. */
  removeRoleBinding(userId: string, role: string, workspace: string | null): Promise<boolean>
  /** Ordered by user, workspace ('' = tenant-wide first), role. */
  listRoleBindings(filter: { userId?: string; workspace?: string | null }): Promise<RoleBindingRecord[]>

  /** E_CONFLICT when it exists (a deleted one is revived). */
  createWorkspace(input: Omit<WorkspaceRecord, 'createdAt'>): Promise<WorkspaceRecord>
  getWorkspace(name: string): Promise<WorkspaceRecord | undefined>
  /** Ordered by name. */
  listWorkspaces(): Promise<WorkspaceRecord[]>
  /** Marks it deleted and drops the bindings in it; the caller deals with its resources first. */
  deleteWorkspace(name: string): Promise<void>

  /** false when it existed already. */
  addGrant(input: Omit<GrantRecord, 'createdAt'>): Promise<boolean>
  removeGrant(resourceId: string, userId: string, permission: string): Promise<boolean>
  listGrants(filter: { resourceId?: string; userId?: string }): Promise<GrantRecord[]>
  deleteGrantsForResource(resourceId: string): Promise<void>

  appendAudit(entry: AuditInput): Promise<void>
  /** Oldest first; `since` inclusive; `limit` keeps the NEWEST entries. */
  listAudit(filter: { since?: string; limit?: number }): Promise<AuditRecord[]>
}
