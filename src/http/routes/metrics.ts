// GET /metrics: the Prometheus exposition of this control plane (src/metrics). Outside /api/v1 and its
// authentication plugin, because a dedicated metrics token (not an API key) opens it too: readable by a
// tenant-wide tenant-admin's key or by that token, by nobody else (401 without a valid key, 403 for others).
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsync } from 'fastify'
import { CtlError } from '../../errors.js'
import type { Store } from '../../store/types.js'
import { requireAllowed } from '../../access/policy.js'
import { authenticate, bearerKey, type AuthLimits } from '../auth.js'
import { SharedFailureLimiter } from '../shared-limiter.js'

export interface MetricsRoutesOptions {
  store: Store
  /** The exposition text and its content type (src/metrics). */
  exposition: () => Promise<string>
  contentType: string
  /** The dedicated metrics token (`--metrics-token-file`); none: only tenant-admins' keys open /metrics. */
  token?: string
  limits?: AuthLimits
  /** The API's own limiter (one per process): a replica checks the shared counter only once it saw a failure itself. */
  limiter?: SharedFailureLimiter
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest()

export const metricsRoutes: FastifyPluginAsync<MetricsRoutesOptions> = async (fastify, opts) => {
  // Wrong keys here count with the API's (the same `auth` counters, shared by the replicas): /metrics is no side door for guessing.
  const limiter = opts.limiter ?? new SharedFailureLimiter(opts.store, 'auth', opts.limits?.maxFailures ?? 10, opts.limits?.windowMs ?? 60_000)
  // Compared as digests of equal length, in constant time: the comparison tells nothing about the token's prefix.
  const tokenDigest = opts.token === undefined ? undefined : digest(opts.token)
  fastify.addHook('onRequest', async (request, reply) => {
    const key = bearerKey(request)
    if (!key) throw new CtlError('E_UNAUTHENTICATED', 'missing API key or metrics token: send "Authorization: Bearer <key>"')
    if (tokenDigest !== undefined && timingSafeEqual(digest(key), tokenDigest)) return
    const wait = await limiter.blockedFor(request.ip, key)
    if (wait > 0) {
      reply.header('Retry-After', String(Math.ceil(wait / 1000)))
      throw new CtlError('E_RATE_LIMITED', `too many failed authentications from ${request.ip} with this key; try again in ${Math.ceil(wait / 1000)} s`)
    }
    let who
    try {
      who = await authenticate(opts.store, key)
    } catch (err) {
      if (err instanceof CtlError && err.code === 'E_UNAUTHENTICATED') await limiter.fail(request.ip, key)
      throw err
    }
    requireAllowed(who.principal, 'admin', { workspace: null, type: 'metrics' })
  })

  fastify.get('/metrics', {
    schema: {
      summary: 'Prometheus metrics of this control plane (text format); a tenant-admin\'s key or the metrics token',
      tags: ['meta'],
      produces: 'text/plain',
    },
  }, async (_request, reply) => {
    const body = await opts.exposition()
    return reply.header('content-type', opts.contentType).header('cache-control', 'no-store').send(body)
  })
}
