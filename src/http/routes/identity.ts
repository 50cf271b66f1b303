// Users, their API keys and their role bindings (tags `roles:id:<role>`, DataOS style).
// Managing others is `admin`; anyone may see themselves and manage their own keys.
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import { CtlError } from '../../errors.js'
import type { RoleBindingRecord, Store, UserRecord } from '../../store/types.js'
import type {
  ApiKeyInfo, ApiKeysResponse, CreateApiKeyRequest, CreateApiKeyResponse, CreateUserRequest, Principal, Role,
  TagChangeResponse, TagRequest, TagsResponse, UserInfo, UserResponse, UsersResponse, UserTag,
} from '../../api/types.js'
import { ROLES } from '../../api/types.js'
import { newToken, principalOf, sha256Hex } from '../auth.js'
import { decide, requireAllowed, type AdminTargetType } from '../../access/policy.js'
import { noteAudit } from '../audit.js'
import { isDryRun } from '../dry-run.js'
import { MAX_CALENDAR_DURATION_MS, parseDuration } from '../../duration.js'
import * as S from '../schemas.js'
import { dryRunQuery, withDryRun } from '../schemas-access.js'

export interface IdentityRoutesOptions {
  store: Store
}

export function toUserInfo(u: UserRecord): UserInfo {
  const out: UserInfo = { id: u.id, name: u.name, type: u.type, createdAt: u.createdAt }
  if (u.email !== undefined) out.email = u.email
  if (u.deletedAt !== undefined) out.deletedAt = u.deletedAt
  return out
}

function toTag(b: RoleBindingRecord): UserTag {
  return { tag: `roles:id:${b.role}`, role: b.role as Role, workspace: b.workspace, createdBy: b.createdBy, createdAt: b.createdAt }
}

/** `roles:id:data-dev` → `data-dev`; anything else is a usage error naming the known roles. */
export function roleOfTag(tag: string): Role {
  const m = /^roles:id:([a-z-]+)$/.exec(tag)
  const role = m?.[1]
  if (!role || !(ROLES as readonly string[]).includes(role)) {
    throw new CtlError('E_USAGE', `unknown tag "${tag}"; role tags are ${ROLES.map((r) => `roles:id:${r}`).join(', ')}`)
  }
  return role as Role
}

/** Oneself, or an admin for anyone else. */
function requireSelfOrAdmin(request: FastifyRequest, userId: string, type: AdminTargetType = 'user'): void {
  const principal = principalOf(request)
  if (principal.id === userId) return
  requireAllowed(principal, 'admin', { workspace: null, type, name: userId })
}

/**
 * The expiry of a new key. A key cannot outlive the key that creates it: without `expiresIn` the
 * new key gets the creating key's expiry; asking for longer is refused (403), except for a
 * tenant-wide tenant-admin, who may set any explicit `expiresIn` (never "none" from an expiring key).
 */
export function newKeyExpiry(principal: Principal, creator: { expiresAt?: string } | null, expiresIn: string | undefined, now = Date.now()): string | undefined {
  const asked = expiresIn !== undefined ? new Date(now + parseDuration(expiresIn, { what: 'expiresIn', maxMs: MAX_CALENDAR_DURATION_MS })).toISOString() : undefined
  const cap = creator?.expiresAt
  if (cap === undefined) return asked
  if (asked === undefined) return cap
  if (asked <= cap) return asked
  if (decide(principal, 'admin', { workspace: null, type: 'apikey' }).allowed) return asked
  throw new CtlError('E_FORBIDDEN',
    `forbidden: a key cannot outlive the key that creates it: this key expires at ${cap}, expiresIn ${expiresIn} would end at ${asked} `
    + '(ask for less, or leave expiresIn out to get the same expiry; only a tenant-wide tenant-admin may set a longer one)')
}

async function loadUser(store: Store, id: string): Promise<UserRecord> {
  const user = await store.getUser(id)
  if (!user) throw new CtlError('E_NOT_FOUND', `user ${id} not found`)
  return user
}

export const identityRoutes: FastifyPluginAsync<IdentityRoutesOptions> = async (fastify: FastifyInstance, opts) => {
  const { store } = opts

  fastify.post<{ Body: CreateUserRequest }>('/api/v1/users', {
    config: { audit: 'user-create', dryRun: true },
    schema: {
      summary: 'Create a user (person or application); tenant-admin only', tags: ['identity'], body: S.createUserBody,
      querystring: dryRunQuery, response: S.withErrors({ 200: withDryRun(S.userResponse) }, 409),
    },
  }, async (request): Promise<UserResponse> => {
    requireAllowed(principalOf(request), 'admin', { workspace: null, type: 'user', name: request.body.id })
    noteAudit(request, { target: `user:${request.body.id}` })
    if (isDryRun(request)) {
      const b = request.body
      if (await store.getUser(b.id)) throw new CtlError('E_CONFLICT', `user ${b.id} already exists`)
      const user: UserInfo = { id: b.id, name: b.name, type: b.type, createdAt: new Date().toISOString() }
      if (b.email !== undefined) user.email = b.email
      return { user, dryRun: true }
    }
    return { user: toUserInfo(await store.createUser(request.body)) }
  })

  fastify.get<{ Querystring: { all: boolean; tags: boolean } }>('/api/v1/users', {
    schema: {
      summary: 'Every user; all=true includes deleted ones; tenant-admin only', tags: ['identity'], querystring: S.usersQuery,
      response: S.withErrors({ 200: S.usersResponse }),
    },
  }, async (request): Promise<UsersResponse> => {
    requireAllowed(principalOf(request), 'admin', { workspace: null, type: 'user' })
    const users = (await store.listUsers({ includeDeleted: request.query.all })).map(toUserInfo)
    if (!request.query.tags) return { users }
    // Every binding in one query, grouped by user.
    const byUser = new Map<string, UserTag[]>()
    for (const b of await store.listRoleBindings({})) byUser.set(b.userId, [...(byUser.get(b.userId) ?? []), toTag(b)])
    return { users: users.map((u) => ({ ...u, tags: byUser.get(u.id) ?? [] })) }
  })

  fastify.get<{ Params: { id: string } }>('/api/v1/users/:id', {
    schema: {
      summary: 'One user: oneself, or anyone for a tenant-admin', tags: ['identity'], params: S.userParams,
      response: S.withErrors({ 200: S.userResponse }, 404),
    },
  }, async (request): Promise<UserResponse> => {
    requireSelfOrAdmin(request, request.params.id)
    return { user: toUserInfo(await loadUser(store, request.params.id)) }
  })

  fastify.delete<{ Params: { id: string } }>('/api/v1/users/:id', {
    config: { audit: 'user-delete', dryRun: true },
    schema: {
      summary: 'Delete a user: its keys stop working at once, its bindings and grants go; tenant-admin only', tags: ['identity'],
      params: S.userParams, querystring: dryRunQuery, response: S.withErrors({ 200: withDryRun(S.userResponse) }, 404, 409),
    },
  }, async (request): Promise<UserResponse> => {
    const principal = principalOf(request)
    requireAllowed(principal, 'admin', { workspace: null, type: 'user', name: request.params.id })
    if (request.params.id === principal.id) throw new CtlError('E_CONFLICT', 'you cannot delete yourself; ask another tenant-admin')
    const user = await loadUser(store, request.params.id)
    if (isDryRun(request)) return { user: toUserInfo(user), dryRun: true }
    await store.deleteUser(user.id)
    return { user: toUserInfo(user) }
  })

  // ---- API keys

  fastify.post<{ Params: { id: string }; Body: CreateApiKeyRequest | null }>('/api/v1/users/:id/apikeys', {
    config: { audit: 'apikey-create', dryRun: true },
    schema: {
      summary: 'Create an API key; the token is in this answer only (the server keeps its hash). '
        + 'It expires no later than the calling key, unless a tenant-wide tenant-admin sets expiresIn explicitly',
      tags: ['identity'], params: S.userParams, body: S.createApiKeyBody, querystring: dryRunQuery,
      response: S.withErrors({ 200: withDryRun(S.createApiKeyResponse) }, 404),
    },
  }, async (request): Promise<CreateApiKeyResponse> => {
    requireSelfOrAdmin(request, request.params.id, 'apikey')
    const body = request.body ?? {}
    const expiresAt = newKeyExpiry(principalOf(request), request.apiKey, body.expiresIn)
    const name = body.name ?? `key-${new Date().toISOString().slice(0, 10)}`
    if (isDryRun(request)) {
      await loadUser(store, request.params.id)
      noteAudit(request, { target: `user:${request.params.id}`, detail: { name, ...(expiresAt ? { expiresAt } : {}) } })
      // No key exists, so no id and no token.
      return { id: '', name, token: '', ...(expiresAt ? { expiresAt } : {}), dryRun: true }
    }
    const token = newToken()
    const key = await store.createApiKey({ userId: request.params.id, name, hash: sha256Hex(token), expiresAt })
    noteAudit(request, { target: `user:${key.userId}/apikey:${key.id}`, detail: { name, ...(expiresAt ? { expiresAt } : {}) } })
    const out: CreateApiKeyResponse = { id: key.id, name: key.name, token }
    if (key.expiresAt !== undefined) out.expiresAt = key.expiresAt
    return out
  })

  fastify.get<{ Params: { id: string } }>('/api/v1/users/:id/apikeys', {
    schema: {
      summary: 'API keys of a user (never their tokens or hashes)', tags: ['identity'], params: S.userParams,
      response: S.withErrors({ 200: S.apiKeysResponse }, 404),
    },
  }, async (request): Promise<ApiKeysResponse> => {
    requireSelfOrAdmin(request, request.params.id, 'apikey')
    await loadUser(store, request.params.id)
    return { apikeys: await store.listApiKeys(request.params.id) }
  })

  fastify.delete<{ Params: { id: string; keyId: string } }>('/api/v1/users/:id/apikeys/:keyId', {
    config: { audit: 'apikey-delete', dryRun: true },
    schema: {
      summary: 'Revoke an API key: it stops working at once', tags: ['identity'], params: S.apiKeyParams, querystring: dryRunQuery,
      response: S.withErrors({ 200: withDryRun(S.apiKeyResponse) }, 404),
    },
  }, async (request): Promise<{ apikey: ApiKeyInfo; dryRun?: boolean }> => {
    const { id, keyId } = request.params
    requireSelfOrAdmin(request, id, 'apikey')
    if (isDryRun(request)) {
      const active = (await store.listApiKeys(id)).find((k) => k.id === keyId && k.revokedAt === undefined)
      if (!active) throw new CtlError('E_NOT_FOUND', `user ${id} has no active API key ${keyId}`)
      return { apikey: active, dryRun: true }
    }
    if (!(await store.revokeApiKey(id, keyId))) throw new CtlError('E_NOT_FOUND', `user ${id} has no active API key ${keyId}`)
    const key = (await store.listApiKeys(id)).find((k) => k.id === keyId)!
    return { apikey: key }
  })

  // ---- role bindings

  const tagsOf = async (userId: string): Promise<UserTag[]> => (await store.listRoleBindings({ userId })).map(toTag)

  fastify.get<{ Params: { id: string } }>('/api/v1/users/:id/tags', {
    schema: {
      summary: 'Role bindings of a user as tags', tags: ['identity'], params: S.userParams, response: S.withErrors({ 200: S.tagsResponse }, 404),
    },
  }, async (request): Promise<TagsResponse> => {
    requireSelfOrAdmin(request, request.params.id, 'binding')
    await loadUser(store, request.params.id)
    return { tags: await tagsOf(request.params.id) }
  })

  const changeTag = (method: 'POST' | 'DELETE'): void => {
    fastify.route<{ Params: { id: string }; Body: TagRequest }>({
      method,
      url: '/api/v1/users/:id/tags',
      config: { audit: method === 'POST' ? 'tag-add' : 'tag-delete', dryRun: true },
      schema: {
        summary: method === 'POST'
          ? 'Bind a role (tag roles:id:ROLE) in a workspace, or tenant-wide without one'
          : 'Remove a role binding',
        tags: ['identity'], params: S.userParams, body: S.tagBody, querystring: dryRunQuery,
        response: S.withErrors({ 200: withDryRun(S.tagChangeResponse) }, 404),
      },
      handler: async (request): Promise<TagChangeResponse> => {
        const { id } = request.params
        const role = roleOfTag(request.body.tag)
        const workspace = request.body.workspace ?? null
        // Binding in one workspace is for a tenant-admin of it; tenant-wide bindings for a tenant-wide one.
        requireAllowed(principalOf(request), 'admin', { workspace, type: 'binding', name: id })
        noteAudit(request, { detail: { tag: request.body.tag, workspace } })
        await loadUser(store, id)
        if (isDryRun(request)) {
          // What the bindings would be: the change computed on the current list, nothing stored.
          const current = await tagsOf(id)
          const has = current.some((t) => t.role === role && t.workspace === workspace)
          if (method === 'DELETE') return { changed: has, tags: current.filter((t) => !(t.role === role && t.workspace === workspace)), dryRun: true }
          if (has) return { changed: false, tags: current, dryRun: true }
          const added: UserTag = { tag: `roles:id:${role}`, role, workspace, createdBy: principalOf(request).id, createdAt: new Date().toISOString() }
          return { changed: true, tags: [...current, added], dryRun: true }
        }
        const changed = method === 'POST'
          ? await store.addRoleBinding({ userId: id, role, workspace, createdBy: principalOf(request).id })
          : await store.removeRoleBinding(id, role, workspace)
        return { changed, tags: await tagsOf(id) }
      },
    })
  }
  changeTag('POST')
  changeTag('DELETE')
}
