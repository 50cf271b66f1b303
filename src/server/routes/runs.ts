// Run routes: run now, stop, suspend, resume, retry, recent runs of a resource, one run's detail.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { CtlError } from '../../errors.js'
import type { EngineApi, NodeDetail, RunDetail } from '../../engine/api.js'
import type { ResourceRecord, RunRecord, StepRunRecord, Store } from '../../store/types.js'
import { VERB_AUTHORIZED_AS, type Principal, type RunsResponse } from '../../client/types.js'
import { principalOf } from '../auth.js'
import type { Verb } from '../../access/policy.js'
import { decideOn, requireOn } from '../../access/targets.js'
import { loadResource, resourceKey } from '../keys.js'
import * as S from '../schemas.js'

export interface RunsRoutesOptions {
  store: Store
  engine: EngineApi
}

/** The run and the resource it belongs to, after checking the principal may `verb` it. */
export async function loadRunFor(store: Store, principal: Principal, verb: Verb, runId: string): Promise<{ run: RunRecord; resource?: ResourceRecord }> {
  const run = await store.getRun(runId)
  if (!run) throw new CtlError('E_NOT_FOUND', `run ${runId} not found`)
  const resource = await store.getResourceById(run.resourceId)
  // A run of a deleted workflow is judged as the workflow was: its owner and grants are kept on the record.
  await requireOn(store, principal, verb, { workspace: run.workspace, type: resource?.type ?? 'workflow', name: run.resourceName }, resource)
  return { run, resource }
}

/**
 * Runtime handle data a caller without `run` on the workflow still sees: how it runs, not where.
 * Host paths (attemptDir, shmDir) and host process ids (supervisorPid, stepPid) are for those who
 * may operate the run; a viewer (or a read/use grantee) sees the local mode, image and notes only.
 * Kubernetes handles name cluster objects, not the host, and go out whole.
 */
const LOCAL_HANDLE_FOR_ALL: ReadonlySet<string> = new Set(['mode', 'image', 'notes'])

function withoutHostDetails(step: StepRunRecord): StepRunRecord {
  const h = step.runtimeHandle as { runtime?: unknown; id?: unknown; data?: unknown } | undefined
  if (!h || typeof h !== 'object' || h.runtime === 'kubernetes') return step
  const data = h.data && typeof h.data === 'object' ? (h.data as Record<string, unknown>) : {}
  const kept = Object.fromEntries(Object.entries(data).filter(([k]) => LOCAL_HANDLE_FOR_ALL.has(k)))
  return { ...step, runtimeHandle: { runtime: h.runtime, id: h.id, data: kept } }
}

/** Whether the caller may see host details of this run's attempts: `run` on its workflow. */
async function seesHostDetails(store: Store, principal: Principal, run: RunRecord, resource: ResourceRecord | undefined): Promise<boolean> {
  const key = { workspace: run.workspace, type: resource?.type ?? 'workflow', name: run.resourceName }
  return (await decideOn(store, principal, 'run', key, resource)).allowed
}

export const runsRoutes: FastifyPluginAsync<RunsRoutesOptions> = async (fastify: FastifyInstance, opts) => {
  const { store, engine } = opts

  const workflowOf = async (ws: string | null, type: string, name: string, principal: Principal, verb: Verb): Promise<ResourceRecord> => {
    const key = resourceKey(ws, type, name)
    const found = await store.getResource(key)
    await requireOn(store, principal, verb, key, found)
    const record = found ?? (await loadResource(store, key))
    if (record.type !== 'workflow') throw new CtlError('E_USAGE', `${record.type} ${record.name} has no runs; only workflows run`)
    return record
  }

  const register = (prefix: string, params: object, wsOf: (p: Record<string, string>) => string | null): void => {
    type P = { Params: Record<string, string> }
    fastify.post<P & { Body: { runId?: string } | null }>(`${prefix}/:type/:name/runs`, {
      config: { audit: 'run' },
      schema: { summary: 'Run a workflow now (runtime run)', tags: ['runs'], params, response: S.withErrors({ 200: S.runResponse }, 404) },
    }, async (request) => {
      const principal = principalOf(request)
      const wf = await workflowOf(wsOf(request.params), request.params.type!, request.params.name!, principal, 'run')
      return { run: await engine.runNow(wf, principal.id) }
    })

    fastify.post<P & { Body: { runId?: string } | null }>(`${prefix}/:type/:name/runs/stop`, {
      config: { audit: 'stop' },
      schema: {
        summary: 'Stop the active runs (or one run): they end killed', tags: ['runs'], params, body: S.runActionBody,
        response: S.withErrors({ 200: S.runsResponse }, 404),
      },
    }, async (request): Promise<RunsResponse> => {
      const principal = principalOf(request)
      const wf = await workflowOf(wsOf(request.params), request.params.type!, request.params.name!, principal, 'stop')
      return { runs: await engine.stopRuns(wf, principal.id, request.body?.runId) }
    })

    // Suspend and resume are authorized as `stop` (VERB_AUTHORIZED_AS): whoever may end a run may hold it.
    const holdRoute = (action: 'suspend' | 'resume', summary: string, act: EngineApi['suspendRuns']): void => {
      fastify.post<P & { Body: { runId?: string } | null }>(`${prefix}/:type/:name/runs/${action}`, {
        config: { audit: action },
        schema: { summary, tags: ['runs'], params, body: S.runActionBody, response: S.withErrors({ 200: S.runsResponse }, 404, 409) },
      }, async (request): Promise<RunsResponse> => {
        const principal = principalOf(request)
        const wf = await workflowOf(wsOf(request.params), request.params.type!, request.params.name!, principal, VERB_AUTHORIZED_AS[action])
        return { runs: await act(wf, principal.id, request.body?.runId) }
      })
    }
    holdRoute('suspend', 'Suspend the active runs (or one run): no new step starts, running steps go on', (wf, by, runId) => engine.suspendRuns(wf, by, runId))
    holdRoute('resume', 'Resume the suspended runs (or one run)', (wf, by, runId) => engine.resumeRuns(wf, by, runId))

    fastify.post<P & { Body: { runId?: string } | null }>(`${prefix}/:type/:name/runs/retry`, {
      config: { audit: 'retry' },
      schema: {
        summary: 'Rerun the failed and skipped steps of the last (or given) run', tags: ['runs'], params, body: S.runActionBody,
        response: S.withErrors({ 200: S.runResponse }, 404, 409),
      },
    }, async (request) => {
      const principal = principalOf(request)
      const wf = await workflowOf(wsOf(request.params), request.params.type!, request.params.name!, principal, 'retry')
      return { run: await engine.retryRun(wf, principal.id, request.body?.runId) }
    })

    fastify.get<P & { Querystring: { limit: number } }>(`${prefix}/:type/:name/runs`, {
      schema: {
        summary: 'Recent runs of a workflow, newest first', tags: ['runs'], params, querystring: S.runsQuery,
        response: S.withErrors({ 200: S.runsResponse }, 404),
      },
    }, async (request): Promise<RunsResponse> => {
      const wf = await workflowOf(wsOf(request.params), request.params.type!, request.params.name!, principalOf(request), 'runtime-get')
      return { runs: await store.listRuns({ resourceId: wf.id, limit: request.query.limit }) }
    })
  }
  register('/api/v1/workspaces/:ws/resources', S.wsResourceParams, (p) => p.ws!)
  register('/api/v1/instance/resources', S.instanceResourceParams, () => null)

  fastify.get<{ Params: { id: string } }>('/api/v1/runs/:id', {
    schema: {
      summary: 'One run with every step attempt and its progress', tags: ['runs'], params: S.runIdParams,
      response: S.withErrors({ 200: S.runDetailResponse }, 404),
    },
  }, async (request): Promise<RunDetail> => {
    const principal = principalOf(request)
    const { run, resource } = await loadRunFor(store, principal, 'runtime-get', request.params.id)
    const detail = await engine.runDetail(request.params.id)
    if (!detail) throw new CtlError('E_NOT_FOUND', `run ${request.params.id} not found`)
    if (await seesHostDetails(store, principal, run, resource)) return detail
    return { ...detail, steps: detail.steps.map(withoutHostDetails) }
  })

  fastify.get<{ Params: { id: string; node: string } }>('/api/v1/runs/:id/nodes/:node', {
    schema: {
      summary: "One step of a run (`step` or `step-attempt`): its attempts, and the latest as the runtime sees it now (a Pod's conditions, container states and events)",
      tags: ['runs'], params: S.nodeParams,
      response: S.withErrors({ 200: S.nodeDetailResponse }, 404),
    },
  }, async (request): Promise<NodeDetail> => {
    const principal = principalOf(request)
    const { run, resource } = await loadRunFor(store, principal, 'runtime-get', request.params.id)
    const detail = await engine.nodeDetail(request.params.id, request.params.node)
    if (!detail) throw new CtlError('E_NOT_FOUND', `run ${request.params.id} has no node "${request.params.node}"`)
    if (await seesHostDetails(store, principal, run, resource)) return detail
    const out: NodeDetail = { ...detail, attempts: detail.attempts.map(withoutHostDetails) }
    // A local description names the step's host process; a cluster's names a Pod and stays.
    const latest = detail.attempts.at(-1)?.runtimeHandle as { runtime?: unknown } | undefined
    if (out.description && latest?.runtime !== 'kubernetes') delete out.description
    return out
  })
}
