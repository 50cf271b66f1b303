// Console sign-in: a session cookie from an API key or a one-time code (`ctl ui`), who the session is,
// signing out, and making sign-in codes. The cookie and codes are described in ../session.ts.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { CtlError } from '../../errors.js'
import type { Store } from '../../store/types.js'
import type { SessionResponse, SignInLinkResponse } from '../../api/types.js'
import { noteAudit } from '../audit.js'
import { authenticate } from '../auth-key.js'
import { principalOf } from '../auth.js'
import type { SharedFailureLimiter } from '../shared-limiter.js'
import {
  authenticateKeyId, clearSessionCookie, MAX_TOKEN_LENGTH, refuseForeignOrigin, sessionExpiry, setSessionCookie, signedOutKey,
  SIGNIN_CODE_TTL_MS, type SessionSigner,
} from '../session.js'
import { whoamiResponse } from '../schemas-identity.js'
import * as S from '../schemas.js'
import { refuseUnknownFields } from '../run-params.js'

export interface SessionRoutesOptions {
  store: Store
  sessions: SessionSigner
  limiter: SharedFailureLimiter
  /** This control plane among the replicas: the owner recorded when it claims a sign-in code. */
  replicaId: string
}

const principalSchema = whoamiResponse.properties.principal
const sessionResponse = {
  type: 'object',
  properties: { user: principalSchema, csrfToken: { type: 'string' }, expiresAt: { type: 'string' } },
} as const
const signInBody = {
  type: 'object',
  properties: {
    apiKey: { type: 'string', minLength: 1, maxLength: 200 },
    code: { type: 'string', minLength: 1, maxLength: MAX_TOKEN_LENGTH },
  },
} as const
const linkResponse = {
  type: 'object',
  properties: { url: { type: 'string' }, code: { type: 'string' }, expiresAt: { type: 'string' } },
} as const

/** The limiter's name for a sign-in code: all codes from one address count together (their start is alike). */
const CODE_LIMIT_KEY = 'signin-code'

export const sessionRoutes: FastifyPluginAsync<SessionRoutesOptions> = async (fastify, opts) => {
  const { store, sessions, limiter } = opts

  const throttled = async (request: FastifyRequest, key: string): Promise<void> => {
    const wait = await limiter.blockedFor(request.ip, key)
    if (wait > 0) {
      throw new CtlError('E_RATE_LIMITED', `too many failed sign-ins from ${request.ip}; try again in ${Math.ceil(wait / 1000)} s`)
    }
  }

  fastify.post<{ Body: { apiKey?: string; code?: string } }>('/api/v1/session', {
    config: { auth: false, public: true, audit: 'session.create' },
    schema: {
      summary: 'Sign in to the console: a session cookie (ctl_session) from an API key or a one-time sign-in code', tags: ['session'],
      body: signInBody, response: S.withErrors({ 200: sessionResponse }, 429),
    },
  }, async (request, reply): Promise<SessionResponse> => {
    refuseForeignOrigin(request)
    refuseUnknownFields(request.body, ['apiKey', 'code'], 'POST /api/v1/session')
    const { apiKey, code } = request.body ?? {}
    if ((apiKey === undefined) === (code === undefined)) throw new CtlError('E_USAGE', 'send exactly one of apiKey and code')
    const limitKey = apiKey ?? CODE_LIMIT_KEY
    await throttled(request, limitKey)
    try {
      let who
      if (apiKey !== undefined) {
        who = await authenticate(store, apiKey)
        noteAudit(request, { detail: { keyId: who.key.id, with: 'apiKey' } })
      } else {
        const claims = sessions.readCode(code!)
        if (!claims) throw new CtlError('E_UNAUTHENTICATED', 'this sign-in code is not valid; run ctl ui again')
        noteAudit(request, { detail: { keyId: claims.k, with: 'code' } })
        if (claims.e <= Date.now()) throw new CtlError('E_UNAUTHENTICATED', 'this sign-in code expired (codes are valid 60 s); run ctl ui again')
        // Single use across replicas: the first claim of the code's nonce wins.
        if (!(await store.claimFire(`signin:${claims.n}`, new Date(claims.e).toISOString(), opts.replicaId))) {
          throw new CtlError('E_UNAUTHENTICATED', 'this sign-in code was used already; run ctl ui again')
        }
        who = await authenticateKeyId(store, claims.u, claims.k)
      }
      request.principal = who.principal
      const expiresAt = sessionExpiry(who.key.expiresAt)
      const cookie = sessions.cookie(sessions.newClaims(who.principal.id, who.key.id, expiresAt))
      setSessionCookie(request, reply, cookie, expiresAt)
      return { user: who.principal, csrfToken: sessions.csrf(cookie), expiresAt: new Date(expiresAt).toISOString() }
    } catch (err) {
      if (err instanceof CtlError && err.code === 'E_UNAUTHENTICATED') await limiter.fail(request.ip, limitKey)
      throw err
    }
  })

  fastify.get('/api/v1/session', {
    schema: { summary: 'The signed-in user (session cookie or API key), with the session\'s CSRF token', tags: ['session'], response: S.withErrors({ 200: sessionResponse }) },
  }, async (request): Promise<SessionResponse> => {
    const user = principalOf(request)
    const s = request.session
    if (!s) return { user }
    return { user, csrfToken: sessions.csrf(s.cookie), expiresAt: new Date(s.claims.e).toISOString() }
  })

  fastify.delete('/api/v1/session', {
    config: { audit: 'session.delete' },
    schema: { summary: 'Sign out of the console: the session ends on every replica and its cookie is cleared', tags: ['session'], response: S.withErrors({ 204: { type: 'null' } }) },
  }, async (request, reply) => {
    principalOf(request)
    const s = request.session
    if (s) {
      // Remembered until the session would have expired anyway, in the store every replica reads.
      const out = signedOutKey(s.claims)
      await store.addToCounter(out.key, out.window, 1)
      noteAudit(request, { detail: { keyId: s.claims.k } })
    }
    clearSessionCookie(request, reply)
    return reply.code(204).send()
  })

  fastify.post('/api/v1/session/links', {
    config: { audit: 'session.link' },
    schema: {
      summary: 'A one-time console sign-in URL (valid 60 s) for the calling key (ctl ui)', tags: ['session'],
      response: S.withErrors({ 200: linkResponse }),
    },
  }, async (request): Promise<SignInLinkResponse> => {
    const principal = principalOf(request)
    const key = request.apiKey
    if (!key) throw new CtlError('E_UNAUTHENTICATED', 'not authenticated')
    const expiresAt = Date.now() + SIGNIN_CODE_TTL_MS
    const code = sessions.code(sessions.newClaims(principal.id, key.id, expiresAt))
    noteAudit(request, { target: `user:${principal.id}`, detail: { keyId: key.id } })
    // The code goes in the fragment: browsers send neither it to the server nor in a Referer.
    return { url: `${request.protocol}://${request.host}/ui/signin#code=${code}`, code, expiresAt: new Date(expiresAt).toISOString() }
  })
}
