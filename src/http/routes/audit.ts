// `auth can-i` (what decide() says, and why) and the audit log (tenant-admins only).
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import type { Store } from '../../store/types.js'
import type { AuditResponse, CanIRequest, CanIResponse } from '../../api/types.js'
import { principalOf } from '../auth.js'
import { decide, requireAllowed } from '../../access/policy.js'
import { decideOn } from '../../access/targets.js'
import { parseSince } from '../../duration.js'
import { DEFAULT_WORKSPACE, resourceKey } from '../keys.js'
import * as S from '../schemas.js'

export interface AuditRoutesOptions {
  store: Store
}

export const auditRoutes: FastifyPluginAsync<AuditRoutesOptions> = async (fastify: FastifyInstance, opts) => {
  const { store } = opts

  fastify.post<{ Body: CanIRequest }>('/api/v1/auth/can-i', {
    // A question, not a change: not audited.
    config: { audit: false, dryRun: true },
    schema: {
      summary: 'Whether the caller may do VERB on a resource type (or one resource), and which binding or grant decides',
      tags: ['auth'], body: S.canIBody, response: S.withErrors({ 200: S.canIResponse }),
    },
  }, async (request): Promise<CanIResponse> => {
    const principal = principalOf(request)
    const { verb, type, name, workspace } = request.body
    if (verb === 'admin') return decide(principal, 'admin', { workspace: workspace ?? null, type, ...(name !== undefined ? { name } : {}) })
    if (name === undefined) {
      const key = resourceKey(workspace ?? DEFAULT_WORKSPACE, type, 'x')
      return decide(principal, verb, { workspace: key.workspace, type })
    }
    const key = resourceKey(workspace ?? DEFAULT_WORKSPACE, type, name)
    return decideOn(store, principal, verb, key, await store.getResource(key))
  })

  fastify.get<{ Querystring: { since?: string; limit: number } }>('/api/v1/audit', {
    schema: {
      summary: 'Audit entries, oldest first: every mutating call and secret read; tenant-admin only', tags: ['auth'],
      querystring: S.auditQuery, response: S.withErrors({ 200: S.auditResponse }),
    },
  }, async (request): Promise<AuditResponse> => {
    requireAllowed(principalOf(request), 'admin', { workspace: null, type: 'audit' })
    const q = request.query
    const entries = await store.listAudit({ ...(q.since !== undefined ? { since: parseSince(q.since) } : {}), limit: q.limit })
    return { entries }
  })
}
