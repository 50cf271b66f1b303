// Resource routes: apply, list, get, delete. Workspace-level resources live under
// /api/v1/workspaces/:ws/resources, instance-level ones under /api/v1/instance/resources.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { CtlError } from '../../errors.js'
import type { EngineApi, RuntimeSummary } from '../../engine/api.js'
import type { ResourceKey, ResourceRecord, ResourceSelectors, ResourceSummary, Store } from '../../store/types.js'
import type {
  ApplyResponse, DeleteResponse, Principal, ListResourcesResponse, ResourceDetail, ResourceTable, RollbackResponse,
} from '../../api/types.js'
import { RESOURCE_TABLE_COLUMNS } from '../../api/types.js'
import { renderTable } from '../../api/table.js'
import { principalOf } from '../auth.js'
import { decide, requireAllowed } from '../../access/policy.js'
import { requireOn, visibleTo } from '../../access/targets.js'
import { noteAudit } from '../audit.js'
import { DEFAULT_WORKSPACE, readableResource, checkType, describeKey, isInstanceLevel, loadResource, maskSecrets, resourceKey, revisionOf, toRow } from '../keys.js'
import * as S from '../schemas.js'
import { deleteDryRunQuery, withDryRun } from '../schemas-access.js'
import { isDryRun } from '../dry-run.js'
import { matchesSelector, parseSelector } from '../../manifest/selector.js'

/** Secret values in clear for `?unsanitized=true` (the secrets module decrypts); absent: manifests as stored. */
export type RevealSecrets = (type: string, manifest: unknown) => unknown

/**
 * What the resource routes ask of the control plane (src/controlplane/resource-service.ts): applying,
 * rolling back, and what blocks a delete. Given to the app, so http never imports the control plane
 * (which wires http in: the folders would import each other).
 */
export interface ResourceService {
  /** `items`: bare manifests or `{source, manifest}` wrappers, as the request carries them. */
  apply(principal: Principal, workspace: string, items: unknown[], dryRun: boolean, params?: unknown): Promise<ApplyResponse>
  rollback(principal: Principal, key: ResourceKey, toRevision: number, dryRun: boolean): Promise<RollbackResponse>
  /** The workflows that use the resource (a delete is refused while any do, unless forced). */
  dependents(record: ResourceRecord): Promise<string[]>
}

export interface ResourcesRoutesOptions {
  store: Store
  engine: EngineApi
  resources: ResourceService
  revealSecrets?: RevealSecrets
}

/** True when the client asks for text before JSON (`Accept: text/plain, application/json;q=0.5`). */
function prefersText(accept: string | undefined): boolean {
  if (!accept) return false
  const text = accept.indexOf('text/plain')
  if (text < 0) return false
  const json = accept.indexOf('application/json')
  return json < 0 || text < json
}

/** RUNTIME of many resources at once, in a few queries whatever their number. */
export async function runtimeSummaries(engine: EngineApi, records: readonly ResourceSummary[]): Promise<Map<string, RuntimeSummary>> {
  return engine.runtimeSummaries(records.filter((r) => r.type === 'workflow'))
}

export const resourcesRoutes: FastifyPluginAsync<ResourcesRoutesOptions> = async (fastify: FastifyInstance, opts) => {
  const { store, engine } = opts

  fastify.post<{ Params: { ws: string }; Querystring: { dryRun: boolean }; Body: { documents: unknown[]; params?: Record<string, unknown> } }>(
    '/api/v1/workspaces/:ws/resources',
    {
      config: { audit: 'apply', dryRun: true },
      schema: {
        summary: 'Apply manifests (create or update); dryRun=true validates and compares without storing',
        tags: ['resources'], params: S.wsParams, querystring: S.applyQuery, body: S.applyBody,
        response: S.withErrors({ 200: S.applyResponse }, 404, 409, 413, 422),
      },
    },
    async (request): Promise<ApplyResponse> => {
      const res = await opts.resources.apply(principalOf(request), request.params.ws, request.body.documents, request.query.dryRun, request.body.params)
      noteAudit(request, {
        detail: { results: res.results.map((r) => `${r.workspace === null ? `${r.type}/${r.name}` : `${r.type}/${r.workspace}/${r.name}`} ${r.outcome}`) },
      })
      return res
    },
  )

  fastify.get<{ Querystring: { workspace?: string; all: boolean; type?: string; name?: string; owner?: string; deleted: boolean; format: 'objects' | 'table'; labelSelector?: string; tags?: string } }>(
    '/api/v1/resources',
    {
      schema: {
        summary: 'List resources with their RUNTIME column; format=table with Accept: text/plain answers the `get` table as text',
        tags: ['resources'], querystring: S.listQuery,
        response: S.withErrors({ 200: S.listResponse }),
      },
    },
    async (request, reply): Promise<string> => {
      const principal = principalOf(request)
      const q = request.query
      if (q.type) checkType(q.type)
      const workspace = q.type && isInstanceLevel(q.type) ? null : q.workspace ?? DEFAULT_WORKSPACE
      // Filtered here, not by the client: a selective `get -l` over 10,000 resources ships only what matches.
      const labelSelector = q.labelSelector !== undefined ? parseSelector(q.labelSelector) : undefined
      const tags = q.tags !== undefined ? q.tags.split(',').map((t) => t.trim()).filter((t) => t !== '') : undefined
      const listed = await store.listResourceSummaries({
        workspace: q.all ? undefined : workspace, allWorkspaces: q.all, type: q.type, name: q.name, owner: q.owner, includeDeleted: q.deleted,
        ...((labelSelector?.length ?? 0) > 0 || (tags?.length ?? 0) > 0
          ? { select: (m: ResourceSelectors) => matchesSelector(labelSelector ?? [], m.labels) && (tags ?? []).every((t) => m.tags?.includes(t)) }
          : {}),
      })
      const records = q.deleted ? listed.filter((r) => r.status === 'deleted') : listed
      // A binding covering the workspace shows all of it; otherwise only what grants or ownership allow.
      const whole = !q.all && decide(principal, 'get', { workspace, type: q.type ?? '' }).allowed
      const visible = whole ? records : await visibleTo(store, principal, records)
      if (!q.all && !whole && visible.length === 0) requireAllowed(principal, 'get', { workspace, type: q.type ?? '' })
      // A listing of a workspace that does not exist is "not found", not an empty table (asked only
      // when nothing matched, and after the rights check, so nobody probes for workspace names).
      if (visible.length === 0 && !q.all && workspace !== null && !(await store.getWorkspace(workspace))) {
        throw new CtlError('E_NOT_FOUND', `workspace ${workspace} not found`)
      }
      const runtime = await runtimeSummaries(engine, visible)
      // Strings go out as they are (no schema serializer): native JSON.stringify is several
      // times faster than the generated serializer on 10,000 rows, and text needs none.
      if (q.format === 'table') {
        const rows = new Array<string[]>(visible.length)
        for (let i = 0; i < visible.length; i++) {
          const r = visible[i]!
          rows[i] = [r.name, r.version, r.type, r.workspace ?? '', r.status, runtime.get(r.id) ?? '', r.owner]
        }
        if (prefersText(request.headers.accept)) {
          // The CLI's own table, printed here by warm code: the CLI writes it out as it is instead
          // of parsing 70,000 cells and padding them again in a process whose code is still cold.
          // No rows: an empty body (the CLI words that case itself).
          reply.type('text/plain; charset=utf-8')
          return rows.length === 0 ? '' : renderTable([...RESOURCE_TABLE_COLUMNS], rows)
        }
        reply.type('application/json; charset=utf-8')
        const table: ResourceTable = { columns: [...RESOURCE_TABLE_COLUMNS], rows }
        return JSON.stringify(table)
      }
      reply.type('application/json; charset=utf-8')
      const body: ListResourcesResponse = { resources: visible.map((r) => toRow(r, runtime.get(r.id) ?? '')) }
      return JSON.stringify(body)
    },
  )

  const registerItemRoutes = (prefix: string, params: object, wsOf: (p: Record<string, string>) => string | null): void => {
    fastify.get<{ Params: Record<string, string>; Querystring: { revisions: boolean; unsanitized: boolean; revision?: number } }>(
      `${prefix}/:type/:name`,
      {
        schema: {
          summary: 'One resource: record, manifest (secret values masked unless unsanitized=true), optionally its revisions',
          tags: ['resources'], params, querystring: S.getQuery, response: S.withErrors({ 200: S.getResponse }, 404),
        },
      },
      async (request): Promise<ResourceDetail> => {
        const key = resourceKey(wsOf(request.params), request.params.type!, request.params.name!)
        const isSecret = key.type === 'secret' || key.type === 'instance-secret'
        const reveal = request.query.unsanitized && isSecret
        // Decided before "not found", so whoever may not see a workspace cannot probe it for names.
        // A deleted resource stays readable (STATUS deleted): its revisions, runs and logs are kept.
        const found = await readableResource(store, key)
        await requireOn(store, principalOf(request), reveal ? 'secret-read' : 'get', key, found)
        const record = found ?? (await loadResource(store, key))
        const runtime = record.type === 'workflow' ? await engine.runtimeSummary(record) : ''
        const shown = request.query.revision !== undefined ? (await revisionOf(store, record, request.query.revision)).manifest : record.manifest
        const manifest = reveal ? (opts.revealSecrets ? opts.revealSecrets(record.type, shown) : shown) : maskSecrets(record.type, shown)
        const detail: ResourceDetail = { resource: toRow(record, runtime), manifest }
        if (request.query.revision !== undefined) detail.shownRevision = request.query.revision
        if (request.query.revisions) {
          detail.revisions = (await store.listRevisions(record.id)).map((r) => ({
            revision: r.revision, hash: r.hash, createdBy: r.createdBy, createdAt: r.createdAt,
          }))
        }
        return detail
      },
    )

    fastify.post<{ Params: Record<string, string>; Body: { toRevision: number } }>(
      `${prefix}/:type/:name/rollback`,
      {
        config: { audit: 'rollback', dryRun: true },
        schema: {
          summary: 'Apply the manifest of a stored revision again, as a new revision (unchanged when it equals the current one)',
          tags: ['resources'], params, querystring: S.applyQuery, body: S.rollbackBody, response: S.withErrors({ 200: S.rollbackResponse }, 404, 409),
        },
      },
      async (request): Promise<RollbackResponse> => {
        const key = resourceKey(wsOf(request.params), request.params.type!, request.params.name!)
        const res = await opts.resources.rollback(principalOf(request), key, request.body.toRevision, isDryRun(request))
        noteAudit(request, { detail: { toRevision: res.toRevision, outcome: res.outcome, revision: res.revision } })
        return res
      },
    )

    fastify.delete<{ Params: Record<string, string>; Querystring: { force: boolean } }>(
      `${prefix}/:type/:name`,
      {
        config: { audit: 'delete', dryRun: true },
        schema: {
          summary: 'Delete a resource; refused while workflows use it unless force=true',
          tags: ['resources'], params, querystring: deleteDryRunQuery, response: S.withErrors({ 200: withDryRun(S.deleteResponse) }, 404, 409),
        },
      },
      async (request): Promise<DeleteResponse> => {
        const key = resourceKey(wsOf(request.params), request.params.type!, request.params.name!)
        const found = await store.getResource(key)
        await requireOn(store, principalOf(request), 'delete', key, found)
        const record = found ?? (await loadResource(store, key))
        if (!request.query.force) {
          const dependents = await opts.resources.dependents(record)
          if (dependents.length > 0) {
            throw new CtlError('E_CONFLICT', `${describeKey(key)} is used by ${dependents.join(', ')}; use --force to delete it anyway`,
              { dependents })
          }
        }
        const deleted = { workspace: record.workspace, type: record.type, name: record.name, revision: record.revision }
        if (isDryRun(request)) return { deleted, dryRun: true }
        await engine.resourceDeleted(record)
        await store.deleteResource(record.id)
        // Grants go with the resource: a later resource of the same name starts with none.
        await store.deleteGrantsForResource(record.id)
        return { deleted }
      },
    )
  }

  registerItemRoutes('/api/v1/workspaces/:ws/resources', S.wsResourceParams, (p) => p.ws!)
  registerItemRoutes('/api/v1/instance/resources', S.instanceResourceParams, () => null)
}
