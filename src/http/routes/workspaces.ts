// Workspaces: `public` and `system` exist from the start; tenant-admins create and delete
// others. A workspace holding resources is deleted only with force (its resources go too).
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { CtlError } from '../../errors.js'
import type { EngineApi } from '../../engine/api.js'
import type { Store, WorkspaceRecord } from '../../store/types.js'
import type {
  CreateWorkspaceRequest, DeleteWorkspaceResponse, WorkspaceInfo, WorkspaceResponse, WorkspacesResponse,
} from '../../api/types.js'
import { principalOf } from '../auth.js'
import { hasBindingIn, requireAllowed } from '../../access/policy.js'
import { noteAudit } from '../audit.js'
import * as S from '../schemas.js'
import { deleteDryRunQuery, dryRunQuery, withDryRun } from '../schemas-access.js'
import { isDryRun } from '../dry-run.js'

export interface WorkspacesRoutesOptions {
  store: Store
  engine: EngineApi
}

/** Built in: applying needs somewhere to go, and the platform keeps its own things in `system`. */
export const BUILTIN_WORKSPACES: readonly string[] = ['public', 'system']

function toInfo(w: WorkspaceRecord): WorkspaceInfo {
  const out: WorkspaceInfo = { name: w.name, layer: w.layer, tags: w.tags, createdAt: w.createdAt }
  if (w.description !== undefined) out.description = w.description
  return out
}

export const workspacesRoutes: FastifyPluginAsync<WorkspacesRoutesOptions> = async (fastify: FastifyInstance, opts) => {
  const { store, engine } = opts

  fastify.post<{ Body: CreateWorkspaceRequest }>('/api/v1/workspaces', {
    config: { audit: 'workspace-create', dryRun: true },
    schema: {
      summary: 'Create a workspace; tenant-admin only', tags: ['workspaces'], body: S.createWorkspaceBody, querystring: dryRunQuery,
      response: S.withErrors({ 200: withDryRun(S.workspaceResponse) }, 409),
    },
  }, async (request): Promise<WorkspaceResponse> => {
    const b = request.body
    requireAllowed(principalOf(request), 'admin', { workspace: null, type: 'workspace', name: b.name })
    noteAudit(request, { target: `workspace:${b.name}` })
    const input = {
      name: b.name, layer: b.layer ?? 'user', tags: [...new Set(b.tags ?? [])], ...(b.description !== undefined ? { description: b.description } : {}),
    }
    if (isDryRun(request)) {
      if (await store.getWorkspace(b.name)) throw new CtlError('E_CONFLICT', `workspace ${b.name} already exists`)
      return { workspace: toInfo({ ...input, createdAt: new Date().toISOString() }), dryRun: true }
    }
    return { workspace: toInfo(await store.createWorkspace(input)) }
  })

  fastify.get('/api/v1/workspaces', {
    schema: {
      summary: 'The workspaces the caller holds a binding in (a tenant-wide binding: every one)', tags: ['workspaces'],
      response: S.withErrors({ 200: S.workspacesResponse }),
    },
  }, async (request): Promise<WorkspacesResponse> => {
    const principal = principalOf(request)
    const all = await store.listWorkspaces()
    return { workspaces: all.filter((w) => hasBindingIn(principal, w.name)).map(toInfo) }
  })

  fastify.get<{ Params: { ws: string } }>('/api/v1/workspaces/:ws', {
    schema: {
      summary: 'One workspace', tags: ['workspaces'], params: S.wsParams, response: S.withErrors({ 200: S.workspaceResponse }, 404),
    },
  }, async (request): Promise<WorkspaceResponse> => {
    const { ws } = request.params
    requireAllowed(principalOf(request), 'get', { workspace: ws, type: '' })
    const found = await store.getWorkspace(ws)
    if (!found) throw new CtlError('E_NOT_FOUND', `workspace ${ws} not found`)
    return { workspace: toInfo(found) }
  })

  fastify.delete<{ Params: { ws: string }; Querystring: { force: boolean } }>('/api/v1/workspaces/:ws', {
    config: { audit: 'workspace-delete', dryRun: true },
    schema: {
      summary: 'Delete a workspace; refused while it holds resources unless force=true (which deletes them); tenant-admin only',
      tags: ['workspaces'], params: S.wsParams, querystring: deleteDryRunQuery,
      response: S.withErrors({ 200: withDryRun(S.deleteWorkspaceResponse) }, 404, 409),
    },
  }, async (request): Promise<DeleteWorkspaceResponse> => {
    const { ws } = request.params
    requireAllowed(principalOf(request), 'admin', { workspace: null, type: 'workspace', name: ws })
    if (BUILTIN_WORKSPACES.includes(ws)) throw new CtlError('E_CONFLICT', `workspace ${ws} is built in and cannot be deleted`)
    if (!(await store.getWorkspace(ws))) throw new CtlError('E_NOT_FOUND', `workspace ${ws} not found`)
    const held = await store.listResourceSummaries({ workspace: ws })
    if (held.length > 0 && !request.query.force) {
      const names = held.slice(0, 5).map((r) => `${r.type} ${r.name}`).join(', ')
      throw new CtlError('E_CONFLICT',
        `workspace ${ws} holds ${held.length} resource(s) (${names}${held.length > 5 ? ', ...' : ''}); delete them first or use --force`,
        { resources: held.length })
    }
    if (isDryRun(request)) {
      noteAudit(request, { detail: { resources: held.length } })
      return { deleted: { name: ws, resources: held.length }, dryRun: true }
    }
    for (const summary of held) {
      const record = await store.getResourceById(summary.id)
      if (!record) continue
      await engine.resourceDeleted(record)
      await store.deleteResource(record.id)
      await store.deleteGrantsForResource(record.id)
    }
    await store.deleteWorkspace(ws)
    noteAudit(request, { detail: { resources: held.length } })
    return { deleted: { name: ws, resources: held.length } }
  })
}
