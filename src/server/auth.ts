// Authentication: `Authorization: Bearer <key>`. Runs on onRequest (before the body is
// read) so an anonymous client cannot make the server parse 8 MiB first. The plugin is
// not encapsulated (skip-override) so its hook covers the routes registered next to it.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import { CtlError } from '../errors.js'
import type { Store } from '../store/types.js'
import { ADMIN_PRINCIPAL, type Principal } from './authz.js'

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null
  }
}

export const ADMIN_KEY_META = 'admin_key_sha256'

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

export interface AuthOptions {
  store: Store
}

/** The principal a key belongs to, or undefined. The admin key's hash lives in store meta. */
export async function principalForKey(store: Store, key: string): Promise<Principal | undefined> {
  const expected = await store.getMeta(ADMIN_KEY_META)
  if (!expected) return undefined
  const given = Buffer.from(sha256Hex(key), 'hex')
  const want = Buffer.from(expected, 'hex')
  if (given.length === want.length && timingSafeEqual(given, want)) return ADMIN_PRINCIPAL
  return undefined
}

function bearerKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (typeof header !== 'string') return undefined
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return m?.[1]
}

const authPluginImpl: FastifyPluginAsync<AuthOptions> = async (fastify: FastifyInstance, opts: AuthOptions) => {
  fastify.decorateRequest('principal', null)
  fastify.addHook('onRequest', async (request) => {
    const key = bearerKey(request)
    if (!key) throw new CtlError('E_UNAUTHENTICATED', 'missing API key: send "Authorization: Bearer <key>"')
    const principal = await principalForKey(opts.store, key)
    if (!principal) throw new CtlError('E_UNAUTHENTICATED', 'unknown API key')
    request.principal = principal
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
