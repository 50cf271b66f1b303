// Authentication: `Authorization: Bearer <key>`. Runs on onRequest (before the body is
// read) so an anonymous client cannot make the server parse 8 MiB first. The plugin is
// not encapsulated (skip-override) so its hook covers the routes registered next to it.
// Keys are looked up by their sha256 on every request (no cache), so a revoked or expired
// key stops working at once. Wrong keys are counted per client address and key prefix: past the
// limit, that prefix from that address gets 429 until its window ends (FailureLimiter, shared by the
// replicas through the store: SharedFailureLimiter).
import { createHash, randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import { CtlError } from '../errors.js'
import type { ApiKeyRecord, IdentityStore, Store } from '../store/types.js'
import type { Principal } from '../api/types.js'
import { toPrincipal } from '../access/principals.js'
import { SharedFailureLimiter } from './shared-limiter.js'

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null
    /** The key the request authenticated with. */
    apiKey: Pick<ApiKeyRecord, 'id' | 'expiresAt'> | null
  }
}

/** Where the admin key's hash lived before users existed (migration 0004 moves it into api_keys). */
export const ADMIN_KEY_META = 'admin_key_sha256'

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

/** A new API key token: shown once, only its sha256 is stored. */
export function newToken(): string {
  return `ctl_${randomBytes(32).toString('base64url')}`
}

/** How often last_used_at is written at most: a write per request would cost every call a transaction. */
const TOUCH_EVERY_MS = 60_000

export interface AuthLimits {
  /** Failed authentications allowed from one address per window; default 10. */
  maxFailures?: number
  /** Default 60 s. */
  windowMs?: number
}

export interface AuthOptions {
  store: Store
  limits?: AuthLimits
}

/** Who called, and with which key (its expiry bounds the keys it may create). */
export interface Authenticated {
  principal: Principal
  key: Pick<ApiKeyRecord, 'id' | 'expiresAt'>
}

/** The principal a token belongs to, or E_UNAUTHENTICATED saying why not (unknown, revoked, expired, user deleted). */
export async function authenticate(store: IdentityStore, token: string, now = new Date()): Promise<Authenticated> {
  const found = await store.findApiKeyByHash(sha256Hex(token))
  if (!found) throw new CtlError('E_UNAUTHENTICATED', 'unknown API key')
  const { key, user } = found
  if (key.revokedAt !== undefined) throw new CtlError('E_UNAUTHENTICATED', `API key ${key.name} (${key.id}) was revoked at ${key.revokedAt}`)
  if (key.expiresAt !== undefined && key.expiresAt <= now.toISOString()) {
    throw new CtlError('E_UNAUTHENTICATED', `API key ${key.name} (${key.id}) expired at ${key.expiresAt}`)
  }
  if (user.deletedAt !== undefined) throw new CtlError('E_UNAUTHENTICATED', `user ${user.id} of this API key was deleted`)
  if (key.lastUsedAt === undefined || now.getTime() - Date.parse(key.lastUsedAt) >= TOUCH_EVERY_MS) {
    await store.touchApiKey(key.id, now.toISOString())
  }
  const principal = toPrincipal(user, await store.listRoleBindings({ userId: user.id }))
  return { principal, key: { id: key.id, ...(key.expiresAt !== undefined ? { expiresAt: key.expiresAt } : {}) } }
}

export function bearerKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (typeof header !== 'string') return undefined
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return m?.[1]
}

// The limiters live in shared-limiter.ts; re-exported for their users here.
export { FailureLimiter, KEY_PREFIX_LENGTH } from './shared-limiter.js'

const authPluginImpl: FastifyPluginAsync<AuthOptions> = async (fastify: FastifyInstance, opts: AuthOptions) => {
  // Across replicas: failures on every control plane sharing the store count together.
  const limiter = new SharedFailureLimiter(opts.store, 'auth', opts.limits?.maxFailures ?? 10, opts.limits?.windowMs ?? 60_000)
  fastify.decorateRequest('principal', null)
  fastify.decorateRequest('apiKey', null)
  fastify.addHook('onRequest', async (request, reply) => {
    const address = request.ip
    const key = bearerKey(request)
    // No key guesses nothing: only a wrong key counts towards the limit (a client not yet logged in is not throttled).
    if (!key) throw new CtlError('E_UNAUTHENTICATED', 'missing API key: send "Authorization: Bearer <key>"')
    const wait = await limiter.blockedFor(address, key)
    if (wait > 0) {
      reply.header('Retry-After', String(Math.ceil(wait / 1000)))
      throw new CtlError('E_RATE_LIMITED',
        `too many failed authentications from ${address} with this key; try again in ${Math.ceil(wait / 1000)} s`)
    }
    try {
      const who = await authenticate(opts.store, key)
      request.principal = who.principal
      request.apiKey = who.key
    } catch (err) {
      if (err instanceof CtlError && err.code === 'E_UNAUTHENTICATED') await limiter.fail(address, key)
      throw err
    }
  })
}
// Fastify's documented way to share hooks with the parent scope without fastify-plugin.
;(authPluginImpl as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true
export const authPlugin = authPluginImpl

/** The authenticated principal; routes behind authPlugin always have one. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new CtlError('E_UNAUTHENTICATED', 'not authenticated')
  return request.principal
}
