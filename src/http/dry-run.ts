// `?dryRun=true` on a mutating route: a route that honours it says so with
// `config: { dryRun: true }` (it validates, authorizes and answers what it would do, changing
// nothing); on any other mutating route the request is refused with 400 before the handler
// runs, so a dry run can never make a change by accident. Either way it is audited (audit.ts).
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import { CtlError } from '../errors.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** True: the route honours `?dryRun=true`; otherwise a dry run of it is refused (400). */
    dryRun?: boolean
  }
}

const MUTATING: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/**
 * Whether the request asks for a dry run: `dryRun=true` (or a bare `dryRun`, `1`). Read from the
 * query as sent or as a schema coerced it, so routes without a query schema are covered too.
 */
export function isDryRun(request: FastifyRequest): boolean {
  const value = ((request.query ?? {}) as Record<string, unknown>).dryRun
  if (value === undefined || value === false) return false
  if (value === true) return true
  if (Array.isArray(value)) return value.some((v) => v !== 'false' && v !== '0' && v !== false)
  return value !== 'false' && value !== '0'
}

const dryRunPluginImpl: FastifyPluginAsync = async (fastify: FastifyInstance) => {
  // After authentication (onRequest), before body validation: an unknown caller still gets 401.
  fastify.addHook('preValidation', async (request) => {
    if (!MUTATING.has(request.method) || !isDryRun(request)) return
    if (request.routeOptions.config?.dryRun === true) return
    const route = `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`
    throw new CtlError('E_USAGE', `dryRun is not supported by ${route}; nothing was done (send the request without dryRun to do it)`)
  })
}
;(dryRunPluginImpl as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true
/** Not encapsulated, like authPlugin: its hook covers the routes registered next to it. */
export const dryRunPlugin = dryRunPluginImpl
