// Authentication: `Authorization: Bearer <key>`. Runs on onRequest (before the body is
// read) so an anonymous client cannot make the server parse 8 MiB first. The plugin is
// not encapsulated (skip-override) so its hook covers the routes registered next to it.
// Keys are looked up by their sha256 on every request (no cache), so a revoked or expired
// key stops working at once. Wrong keys are counted per client address and key prefix: past the
// limit, that prefix from that address gets 429 until its window ends (FailureLimiter, shared by the
// replicas through the store: SharedFailureLimiter). A console session cookie (session.ts) may stand in for the key.
import { randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import { CtlError } from '../errors.js'
import type { ApiKeyRecord, Store } from '../store/types.js'
import type { Principal } from '../api/types.js'
import { authenticate } from './auth-key.js'
import { authenticateSession, CSRF_HEADER, refuseForeignOrigin, sessionCookieOf, type SessionClaims, type SessionSigner } from './session.js'
import { SharedFailureLimiter } from './shared-limiter.js'

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null
    /** The key the request authenticated with. */
    apiKey: Pick<ApiKeyRecord, 'id' | 'expiresAt'> | null
    /** The console session the request authenticated with (its cookie instead of an API key). */
    session: { cookie: string; claims: SessionClaims } | null
  }
}

/** Where the admin key's hash lived before users existed (migration 0004 moves it into api_keys). */
export const ADMIN_KEY_META = 'admin_key_sha256'

export { sha256Hex } from './auth-key.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: the route authenticates on its own terms (sign-in). */
    auth?: boolean
  }
}

/** A new API key token: shown once, only its sha256 is stored. */
export function newToken(): string {
  return `ctl_${randomBytes(32).toString('base64url')}`
}

export interface AuthLimits {
  /** Failed authentications allowed from one address per window; default 10. */
  maxFailures?: number
  /** Default 60 s. */
  windowMs?: number
}

export interface AuthOptions {
  store: Store
  limits?: AuthLimits
  /** Shared with sign-in (POST /api/v1/session), so wrong keys count alike there; default a new one from `limits`. */
  limiter?: SharedFailureLimiter
  /** Console sessions: without a signer the session cookie is not accepted. */
  sessions?: SessionSigner
}

/** The limiter authentication uses with these limits; across replicas, failures on every control plane sharing the store count together. */
export function newFailureLimiter(store: Store, limits?: AuthLimits): SharedFailureLimiter {
  return new SharedFailureLimiter(store, 'auth', limits?.maxFailures ?? 10, limits?.windowMs ?? 60_000)
}

const SAFE_METHODS = new Set(['GET', 'HEAD'])

export { authenticate, checkKey, type Authenticated } from './auth-key.js'

export function bearerKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (typeof header !== 'string') return undefined
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return m?.[1]
}

// The limiters live in shared-limiter.ts; re-exported for their users here.
export { FailureLimiter, KEY_PREFIX_LENGTH } from './shared-limiter.js'

const authPluginImpl: FastifyPluginAsync<AuthOptions> = async (fastify: FastifyInstance, opts: AuthOptions) => {
  const limiter = opts.limiter ?? newFailureLimiter(opts.store, opts.limits)
  fastify.decorateRequest('principal', null)
  fastify.decorateRequest('apiKey', null)
  fastify.decorateRequest('session', null)
  fastify.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config?.auth === false) return
    const address = request.ip
    const key = bearerKey(request)
    const cookie = key === undefined && opts.sessions ? sessionCookieOf(request) : undefined
    if (cookie !== undefined) {
      // The browser sends the cookie on its own: the request must come from a page of ours (Origin) and,
      // unless it only reads, carry the CSRF token that only such a page was given.
      refuseForeignOrigin(request)
      if (!SAFE_METHODS.has(request.method)) {
        const given = request.headers[CSRF_HEADER]
        if (typeof given !== 'string' || !opts.sessions!.csrfMatches(cookie, given)) {
          throw new CtlError('E_FORBIDDEN', `missing or wrong ${CSRF_HEADER} header: a console session's ${request.method} request must send the csrfToken POST /api/v1/session (or GET /api/v1/session) answered`)
        }
      }
      const who = await authenticateSession(opts.store, opts.sessions!, cookie)
      request.principal = who.principal
      request.apiKey = who.key
      request.session = { cookie, claims: who.claims }
      return
    }
    // No key guesses nothing: only a wrong key counts towards the limit (a client not yet logged in is not throttled).
    if (!key) throw new CtlError('E_UNAUTHENTICATED', 'missing API key: send "Authorization: Bearer <key>" (or sign in to the console)')
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
