// The audit log: every mutating call and every read of secret values, with who, what,
// when and the result — denied, unauthenticated and dry-run attempts included (a dry run's
// entry carries `dryRun: true` in its detail, whatever its result). Recorded in onSend
// (before the answer leaves), so once a client has its answer the entry is there.
// Routes name their action with `config: { audit: 'apply' }`; the target comes from the
// route's params unless the handler notes a better one (noteAudit).
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import { CtlError } from '../errors.js'
import { isDryRun } from './dry-run.js'
import type { IdentityStore } from '../store/types.js'

export interface AuditNote {
  /** Who acted when no principal did (a webhook call: `webhook:NAME`). */
  actor?: string
  target?: string
  detail?: Record<string, unknown>
}

declare module 'fastify' {
  interface FastifyRequest {
    auditNote: AuditNote | null
    auditError: { code: string; message: string } | null
  }
  interface FastifyContextConfig {
    /** The audit action of a mutating route (`apply`, `delete`, `user-create`, ...); `false`: not audited (can-i). */
    audit?: string | false
  }
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/** Adds to what the audit entry of this request says (target, detail). */
export function noteAudit(request: FastifyRequest, note: AuditNote): void {
  request.auditNote = { ...request.auditNote, ...note, detail: { ...request.auditNote?.detail, ...note.detail } }
}

function targetFromParams(params: Record<string, string | undefined>): string {
  if (params.type && params.name) return params.ws ? `${params.type}/${params.ws}/${params.name}` : `${params.type}/${params.name}`
  if (params.id) return params.keyId ? `user:${params.id}/apikey:${params.keyId}` : `user:${params.id}`
  if (params.ws) return `workspace:${params.ws}`
  return ''
}

function resultOf(status: number): string {
  if (status < 400) return 'ok'
  if (status === 401) return 'unauthenticated'
  if (status === 403) return 'denied'
  if (status === 429) return 'rate-limited'
  return 'error'
}

/** Whether this request is audited, and as which action. */
function actionOf(request: FastifyRequest): string | undefined {
  const config = request.routeOptions.config
  const query = (request.query ?? {}) as Record<string, unknown>
  if (request.method === 'GET') return query.unsanitized === true || query.unsanitized === 'true' ? 'secret-read' : undefined
  if (!MUTATING.has(request.method) || config?.audit === false) return undefined
  return config?.audit ?? `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`
}

export interface AuditOptions {
  store: IdentityStore
}

const auditPluginImpl: FastifyPluginAsync<AuditOptions> = async (fastify: FastifyInstance, opts: AuditOptions) => {
  fastify.decorateRequest('auditNote', null)
  fastify.decorateRequest('auditError', null)
  fastify.addHook('onError', async (request, _reply, err) => {
    const code = err instanceof CtlError ? err.code : (err as { code?: unknown }).code
    request.auditError = { code: typeof code === 'string' ? code : 'E_INTERNAL', message: err.message }
  })
  fastify.addHook('onSend', async (request, reply, payload) => {
    const action = actionOf(request)
    if (!action) return payload
    const status = reply.statusCode
    const note = request.auditNote
    const detail: Record<string, unknown> = { ...note?.detail }
    if (isDryRun(request)) detail.dryRun = true
    if (status >= 400) {
      detail.status = status
      if (request.auditError) Object.assign(detail, { code: request.auditError.code, message: request.auditError.message })
    }
    await opts.store.appendAudit({
      actor: request.principal?.id ?? note?.actor ?? 'anonymous',
      action,
      target: note?.target ?? targetFromParams((request.params ?? {}) as Record<string, string | undefined>),
      result: resultOf(status),
      ...(Object.keys(detail).length > 0 ? { detail } : {}),
    })
    return payload
  })
}
;(auditPluginImpl as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true
/** Not encapsulated, like authPlugin: its hooks cover the routes registered next to it. */
export const auditPlugin = auditPluginImpl
