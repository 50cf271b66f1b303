// Grants on one resource: its owner (or a tenant-admin, or a holder of `manage`) gives
// `user:ID` read, run, use, manage or approve on it. Grants go with the resource when it is deleted.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { CtlError } from '../../errors.js'
import type { GrantRecord, ResourceRecord, Store } from '../../store/types.js'
import type { GrantChangeResponse, GrantInfo, GrantRequest, GrantsResponse, Permission, Principal } from '../../api/types.js'
import { principalOf } from '../auth.js'
import { requireOn } from '../../access/targets.js'
import { noteAudit } from '../audit.js'
import { loadResource, resourceKey } from '../keys.js'
import * as S from '../schemas.js'
import { dryRunQuery, withDryRun } from '../schemas-access.js'
import { isDryRun } from '../dry-run.js'

export interface GrantsRoutesOptions {
  store: Store
}

function toInfo(g: GrantRecord): GrantInfo {
  return { to: `user:${g.userId}`, permission: g.permission as Permission, grantedBy: g.grantedBy, createdAt: g.createdAt }
}

/** `user:ID` → ID. */
export function granteeOf(to: string): string {
  const m = /^user:(.+)$/.exec(to)
  if (!m) throw new CtlError('E_USAGE', `grant target "${to}" must be user:ID`)
  return m[1]!
}

export const grantsRoutes: FastifyPluginAsync<GrantsRoutesOptions> = async (fastify: FastifyInstance, opts) => {
  const { store } = opts

  /** The resource, after checking the principal may grant on it (existence is told only to those who may). */
  const resourceFor = async (ws: string | null, type: string, name: string, principal: Principal): Promise<ResourceRecord> => {
    const key = resourceKey(ws, type, name)
    const found = await store.getResource(key)
    await requireOn(store, principal, 'grant', key, found)
    return found ?? (await loadResource(store, key))
  }

  const register = (prefix: string, params: object, wsOf: (p: Record<string, string>) => string | null): void => {
    type P = { Params: Record<string, string> }
    fastify.get<P>(`${prefix}/:type/:name/grants`, {
      schema: {
        summary: 'Grants on a resource', tags: ['grants'], params, response: S.withErrors({ 200: S.grantsResponse }, 404),
      },
    }, async (request): Promise<GrantsResponse> => {
      const record = await resourceFor(wsOf(request.params), request.params.type!, request.params.name!, principalOf(request))
      return { grants: (await store.listGrants({ resourceId: record.id })).map(toInfo) }
    })

    for (const method of ['POST', 'DELETE'] as const) {
      fastify.route<P & { Body: GrantRequest }>({
        method,
        url: `${prefix}/:type/:name/grants`,
        config: { audit: method === 'POST' ? 'grant' : 'revoke', dryRun: true },
        schema: {
          summary: method === 'POST' ? 'Grant user:ID a permission (read, run, use, manage, approve) on a resource' : 'Revoke a grant',
          tags: ['grants'], params, body: S.grantBody, querystring: dryRunQuery,
          response: S.withErrors({ 200: withDryRun(S.grantChangeResponse) }, 404),
        },
        handler: async (request): Promise<GrantChangeResponse> => {
          const principal = principalOf(request)
          const record = await resourceFor(wsOf(request.params), request.params.type!, request.params.name!, principal)
          const userId = granteeOf(request.body.to)
          const { permission } = request.body
          noteAudit(request, { detail: { to: request.body.to, permission } })
          if (method === 'POST' && !(await store.getUser(userId))) throw new CtlError('E_NOT_FOUND', `user ${userId} not found`)
          if (isDryRun(request)) {
            // What the grants would be: the change computed on the current list, nothing stored.
            const current = await store.listGrants({ resourceId: record.id })
            const same = (g: GrantRecord) => g.userId === userId && g.permission === permission
            const has = current.some(same)
            if (method === 'DELETE') return { changed: has, grants: current.filter((g) => !same(g)).map(toInfo), dryRun: true }
            const added: GrantRecord = { resourceId: record.id, userId, permission, grantedBy: principal.id, createdAt: new Date().toISOString() }
            return { changed: !has, grants: (has ? current : [...current, added]).map(toInfo), dryRun: true }
          }
          let changed: boolean
          if (method === 'POST') {
            changed = await store.addGrant({ resourceId: record.id, userId, permission, grantedBy: principal.id })
          } else {
            changed = await store.removeGrant(record.id, userId, permission)
          }
          return { changed, grants: (await store.listGrants({ resourceId: record.id })).map(toInfo) }
        },
      })
    }
  }
  register('/api/v1/workspaces/:ws/resources', S.wsResourceParams, (p) => p.ws!)
  register('/api/v1/instance/resources', S.instanceResourceParams, () => null)
}
