// Authentication: `Authorization: Bearer <key>`. Runs on onRequest (before the body is
// read) so an anonymous client cannot make the server parse 8 MiB first. The plugin is
// not encapsulated (skip-override) so its hook covers the routes registered next to it.
// Keys are looked up by their sha256 on every request (no cache), so a revoked or expired
// key stops working at once. Wrong keys are counted per client address and key prefix: past the
// limit, that prefix from that address gets 429 until its window ends (FailureLimiter).
import { randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import { CtlError } from '../errors.js'
import type { ApiKeyRecord, Store } from '../store/types.js'
import type { Principal } from '../api/types.js'
import { authenticate } from './auth-key.js'
import { authenticateSession, CSRF_HEADER, refuseForeignOrigin, sessionCookieOf, type SessionClaims, type SessionSigner } from './session.js'

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
  limiter?: FailureLimiter
  /** Console sessions: without a signer the session cookie is not accepted. */
  sessions?: SessionSigner
}

/** The limiter authentication uses with these limits. */
export function newFailureLimiter(limits?: AuthLimits): FailureLimiter {
  return new FailureLimiter(limits?.maxFailures ?? 10, limits?.windowMs ?? 60_000)
}

const SAFE_METHODS = new Set(['GET', 'HEAD'])

export { authenticate, checkKey, type Authenticated } from './auth-key.js'

function bearerKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (typeof header !== 'string') return undefined
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return m?.[1]
}

/** How much of a presented key names it for the limiter: `ctl_` and 12 more characters (72 random bits). */
export const KEY_PREFIX_LENGTH = 16

/**
 * Failed authentications per (client address, presented key prefix) in fixed windows. Counting
 * per prefix, not per address alone, means wrong keys lock out only that prefix: every step of a
 * machine calls from 127.0.0.1, and one of them sending wrong keys must not lock out its
 * neighbours' valid keys (whose prefixes the API never shows). Memory is bounded: at most
 * `maxEntries` windows, finished ones dropped first, then the oldest.
 */
export class FailureLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>()
  constructor(private readonly max: number, private readonly windowMs: number, private readonly maxEntries = 10_000) {}

  private static id(address: string, key: string): string {
    return `${address}\u0000${key.slice(0, KEY_PREFIX_LENGTH)}`
  }

  /** Milliseconds until `key` (by its prefix) may be tried again from `address`; 0 when it may now. */
  blockedFor(address: string, key: string, now = Date.now()): number {
    const id = FailureLimiter.id(address, key)
    const w = this.windows.get(id)
    if (!w) return 0
    if (now - w.start >= this.windowMs) {
      this.windows.delete(id)
      return 0
    }
    return w.count >= this.max ? w.start + this.windowMs - now : 0
  }

  fail(address: string, key: string, now = Date.now()): void {
    const id = FailureLimiter.id(address, key)
    const w = this.windows.get(id)
    if (w && now - w.start < this.windowMs) {
      w.count++
      return
    }
    this.windows.delete(id)
    if (this.windows.size >= this.maxEntries) {
      for (const [k, v] of this.windows) if (now - v.start >= this.windowMs) this.windows.delete(k)
      // Still full: drop the oldest windows (a Map iterates in insertion order).
      for (const k of this.windows.keys()) {
        if (this.windows.size < this.maxEntries) break
        this.windows.delete(k)
      }
    }
    this.windows.set(id, { start: now, count: 1 })
  }

  /** Windows held now (for tests of the memory bound). */
  get size(): number {
    return this.windows.size
  }
}

const authPluginImpl: FastifyPluginAsync<AuthOptions> = async (fastify: FastifyInstance, opts: AuthOptions) => {
  const limiter = opts.limiter ?? newFailureLimiter(opts.limits)
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
    const wait = limiter.blockedFor(address, key)
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
      if (err instanceof CtlError && err.code === 'E_UNAUTHENTICATED') limiter.fail(address, key)
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
