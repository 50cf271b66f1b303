// Console sessions: a cookie standing in for the API key it was made from. The cookie is self-contained
// and signed with a key derived from the master key, so every replica sharing the store (and the master
// key) accepts it with no session table; it names the user and the API key, and that key is checked on
// every request (revoked, expired, user deleted: the session ends with it). Sign-in codes (`ctl ui`) are
// signed the same way under another kind, valid 60 s, and claimed once across replicas (claimFire).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { CtlError } from '../errors.js'
import type { IdentityStore, LeaseStore } from '../store/types.js'
import { checkKey, type Authenticated } from './auth-key.js'

export const SESSION_COOKIE = 'ctl_session'
export const CSRF_HEADER = 'x-csrf-token'
/** A session's default (and longest) life; never past its API key's own expiry. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000
export const SIGNIN_CODE_TTL_MS = 60_000
/** Longest cookie value or code accepted: a signed token is ~200 characters. */
export const MAX_TOKEN_LENGTH = 1000

/** What a session cookie or a sign-in code says: user, API key, expiry (ms since the epoch), a random nonce. */
export interface SessionClaims {
  u: string
  k: string
  e: number
  n: string
}

type Kind = 's1' | 'c1'

/** Signs and verifies session cookies, sign-in codes and CSRF tokens with one derived key. */
export class SessionSigner {
  constructor(private readonly key: Buffer) {}

  private mac(text: string): Buffer {
    return createHmac('sha256', this.key).update(text).digest()
  }

  private sign(kind: Kind, claims: SessionClaims): string {
    const body = `${kind}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
    return `${body}.${this.mac(body).toString('base64url')}`
  }

  /** The claims of a well-signed token of this kind (expiry not checked here), or undefined. */
  private verify(kind: Kind, token: string): SessionClaims | undefined {
    if (token.length > MAX_TOKEN_LENGTH) return undefined
    const parts = token.split('.')
    if (parts.length !== 3 || parts[0] !== kind) return undefined
    const given = Buffer.from(parts[2]!, 'base64url')
    const expected = this.mac(`${parts[0]}.${parts[1]}`)
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined
    try {
      const c = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Partial<SessionClaims>
      if (typeof c.u !== 'string' || typeof c.k !== 'string' || typeof c.e !== 'number' || typeof c.n !== 'string') return undefined
      return { u: c.u, k: c.k, e: c.e, n: c.n }
    } catch {
      return undefined
    }
  }

  newClaims(userId: string, keyId: string, expiresAt: number): SessionClaims {
    return { u: userId, k: keyId, e: expiresAt, n: randomBytes(16).toString('base64url') }
  }

  cookie(claims: SessionClaims): string {
    return this.sign('s1', claims)
  }

  code(claims: SessionClaims): string {
    return this.sign('c1', claims)
  }

  readCookie(value: string): SessionClaims | undefined {
    return this.verify('s1', value)
  }

  readCode(value: string): SessionClaims | undefined {
    return this.verify('c1', value)
  }

  /** The session's CSRF token: an HMAC of the cookie, so only a page that was given it (or can read the cookie) knows it. */
  csrf(cookie: string): string {
    return this.mac(`csrf.${cookie}`).toString('base64url')
  }

  csrfMatches(cookie: string, given: string): boolean {
    const a = Buffer.from(this.csrf(cookie))
    const b = Buffer.from(given)
    return a.length === b.length && timingSafeEqual(a, b)
  }
}

/** The value of the session cookie in the request's Cookie header, if any (bounded). */
export function sessionCookieOf(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie
  if (typeof header !== 'string' || header.length > 8192) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    if (part.slice(0, eq).trim() === SESSION_COOKIE) {
      const value = part.slice(eq + 1).trim()
      return value.length > 0 && value.length <= MAX_TOKEN_LENGTH ? value : undefined
    }
  }
  return undefined
}

/** Secure when the request came over TLS (request.protocol follows the app's proxy trust, which is off by default). */
function cookieAttributes(request: FastifyRequest, maxAgeS: number): string {
  return `; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeS}${request.protocol === 'https' ? '; Secure' : ''}`
}

export function setSessionCookie(request: FastifyRequest, reply: FastifyReply, value: string, expiresAt: number): void {
  reply.header('set-cookie', `${SESSION_COOKIE}=${value}${cookieAttributes(request, Math.max(1, Math.floor((expiresAt - Date.now()) / 1000)))}`)
}

export function clearSessionCookie(request: FastifyRequest, reply: FastifyReply): void {
  reply.header('set-cookie', `${SESSION_COOKIE}=${cookieAttributes(request, 0)}`)
}

/**
 * Refuses a request whose Origin names another host than the one it was sent to (a page elsewhere using
 * the browser's cookie). No Origin header: not a cross-site browser request (same-origin GETs omit it).
 */
export function refuseForeignOrigin(request: FastifyRequest): void {
  const origin = request.headers.origin
  if (origin === undefined) return
  let host: string | undefined
  try {
    host = typeof origin === 'string' && origin !== 'null' ? new URL(origin).host : undefined
  } catch {
    host = undefined
  }
  if (host === undefined || host !== request.headers.host) {
    throw new CtlError('E_FORBIDDEN', `request from another origin (${String(origin).slice(0, 100)}) refused: the console session works only on pages of this control plane`)
  }
}

/** Where a session's sign-out is remembered (a shared counter, so every replica sees it) until the session would have expired. */
export function signedOutKey(claims: SessionClaims): { key: string; window: string } {
  return { key: `signout:${claims.n}`, window: new Date(claims.e).toISOString() }
}

/**
 * The principal behind a session cookie, checked now: signature, expiry, sign-out, and the API key it
 * names (still there, not revoked or expired, its user not deleted). Throws E_UNAUTHENTICATED saying why not.
 */
export async function authenticateSession(store: IdentityStore & LeaseStore, signer: SessionSigner, cookie: string, now = new Date()): Promise<Authenticated & { claims: SessionClaims }> {
  const claims = signer.readCookie(cookie)
  if (!claims) throw new CtlError('E_UNAUTHENTICATED', 'the console session is not valid (signed by another control plane key?); sign in again')
  if (claims.e <= now.getTime()) throw new CtlError('E_UNAUTHENTICATED', `the console session expired at ${new Date(claims.e).toISOString()}; sign in again`)
  const out = signedOutKey(claims)
  if ((await store.readCounter(out.key, out.window)) > 0) throw new CtlError('E_UNAUTHENTICATED', 'the console session was signed out; sign in again')
  return { ...(await authenticateKeyId(store, claims.u, claims.k, now)), claims }
}

/** The principal of API key `keyId` of user `userId`, with the same checks as a presented key. */
export async function authenticateKeyId(store: IdentityStore, userId: string, keyId: string, now = new Date()): Promise<Authenticated> {
  const user = await store.getUser(userId, { includeDeleted: true })
  const key = user ? (await store.listApiKeys(userId)).find((k) => k.id === keyId) : undefined
  if (!user || !key) throw new CtlError('E_UNAUTHENTICATED', `the API key of this console session (${keyId}) no longer exists; sign in again`)
  return checkKey(store, key, user, now)
}

/** A session's expiry: `ttlMs` from now, never past the key's own expiry. */
export function sessionExpiry(keyExpiresAt: string | undefined, now = Date.now(), ttlMs = SESSION_TTL_MS): number {
  const cap = keyExpiresAt !== undefined ? Date.parse(keyExpiresAt) : Infinity
  return Math.min(now + ttlMs, cap)
}
