// Run routes: run now, stop, suspend, resume, retry, recent runs of a resource, one run's detail,
// and a stream of that detail as it changes (what `--wait` follows).
import { Readable } from 'node:stream'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { CtlError } from '../../errors.js'
import type { BackfillAnswer, EngineApi, NodeDetail, RunDetail } from '../../engine/api.js'
import { noteAudit } from '../audit.js'
import { isDryRun } from '../dry-run.js'
import { dryRunQuery } from '../schemas-access.js'
import { FINAL_RUN_STATES, type ResourceRecord, type RunRecord, type StepRunRecord, type Store } from '../../store/types.js'
import { VERB_AUTHORIZED_AS, type Principal, type RunsResponse } from '../../api/types.js'
import { principalOf } from '../auth.js'
import type { Verb } from '../../access/policy.js'
import { decideOn, requireOn } from '../../access/targets.js'
import { loadResource, readableResource, resourceKey } from '../keys.js'
import * as S from '../schemas.js'
import { givenParams, refuseUnknownFields, RunParamsMasker } from '../run-params.js'
import { WatchLines } from './watch-lines.js'

export interface RunsRoutesOptions {
  store: Store
  engine: EngineApi
  /** Aborted when the server shuts down, so open watches end and close() does not wait on them. */
  closing?: AbortSignal
  /** How often a watch reads the run's state (ms); default 100. */
  pollMs?: number
}

const WATCH_KEEPALIVE_MS = 15_000

/**
 * The run's detail as NDJSON, one line each time it changes, the last one in a final state (WatchLines: whole lines,
 * or change lines for a client that asked). The store is read here, next to it, so a follower holds one connection
 * instead of asking again and again.
 */
async function* watchRun(engine: EngineApi, runId: string, shown: (d: RunDetail) => Promise<RunDetail>, signal: AbortSignal, pollMs: number, changes: boolean): AsyncGenerator<string> {
  let sentAt = 0
  // Reads again only what changed since the last look (a 200-step run is 200 rows at every look otherwise).
  const read = engine.runDetailReader(runId)
  const lines = new WatchLines(changes)
  while (!signal.aborted) {
    const detail = await read()
    if (!detail) return
    const final = FINAL_RUN_STATES.includes(detail.run.state)
    const line = lines.next(await shown(detail), final)
    if (line !== undefined) {
      sentAt = Date.now()
      yield `${line}\n`
    } else if (Date.now() - sentAt > WATCH_KEEPALIVE_MS) {
      // An empty line now and then, so that nothing between caller and server drops a quiet connection.
      sentAt = Date.now()
      yield '\n'
    }
    if (final) return
    // The run's end wakes the stream at once; changes in between are read every pollMs.
    await engine.untilRunEnds(runId, pollMs, signal)
  }
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

/** A step attempt without its outputs: they are part of what the step printed, for those who may read its log. */
function withoutOutputs(step: StepRunRecord): StepRunRecord {
  if (step.outputs === undefined) return step
  const { outputs: _outputs, ...rest } = step
  return rest
}

/**
 * How this caller sees the run's step attempts: host details only with `run` on its workflow (seesHostDetails),
 * outputs only with `log` (the same authorization as its logs). Undefined: as stored.
 */
async function stepView(store: Store, principal: Principal, run: RunRecord, resource: ResourceRecord | undefined): Promise<{ host: boolean; view?: (s: StepRunRecord) => StepRunRecord }> {
  const key = { workspace: run.workspace, type: resource?.type ?? 'workflow', name: run.resourceName }
  const [host, logs] = await Promise.all([seesHostDetails(store, principal, run, resource), decideOn(store, principal, 'log', key, resource).then((d) => d.allowed)])
  if (host && logs) return { host }
  return {
    host,
    view: (s) => {
      const shown = host ? s : withoutHostDetails(s)
      return logs ? shown : withoutOutputs(shown)
    },
  }
}

/** How `principal` sees the details of this run (params masked, host details and outputs as stepView says): the watch and the console's stream. */
export async function runDetailViewer(store: Store, principal: Principal, run: RunRecord, resource: ResourceRecord | undefined): Promise<(d: RunDetail) => Promise<RunDetail>> {
  const { view } = await stepView(store, principal, run, resource)
  const masker = new RunParamsMasker(store)
  // A row's view depends on the row alone (the decision above is this viewer's, made once): a row read again at the
  // next look is the same object and gets the same view object, whose text the watch remembers.
  const viewed = new WeakMap<StepRunRecord, StepRunRecord>()
  const once = view && ((s: StepRunRecord): StepRunRecord => {
    let v = viewed.get(s)
    if (v === undefined) viewed.set(s, (v = view(s)))
    return v
  })
  return async (d) => {
    const masked = { ...d, run: await masker.run(d.run) }
    return once ? { ...masked, steps: masked.steps.map(once) } : masked
  }
}

export const runsRoutes: FastifyPluginAsync<RunsRoutesOptions> = async (fastify: FastifyInstance, opts) => {
  const { store, engine } = opts
  const closing = opts.closing ?? new AbortController().signal

  /** `includeDeleted`: reads only; a deleted workflow's runs stay readable, nothing new starts on it. */
  const workflowOf = async (ws: string | null, type: string, name: string, principal: Principal, verb: Verb, includeDeleted = false): Promise<ResourceRecord> => {
    const key = resourceKey(ws, type, name)
    const found = includeDeleted ? await readableResource(store, key) : await store.getResource(key)
    await requireOn(store, principal, verb, key, found)
    const record = found ?? (await loadResource(store, key))
    if (record.type !== 'workflow') throw new CtlError('E_USAGE', `${record.type} ${record.name} has no runs; only workflows run`)
    return record
  }

  const register = (prefix: string, params: object, wsOf: (p: Record<string, string>) => string | null, withBackfill: boolean): void => {
    type P = { Params: Record<string, string> }
    fastify.post<P & { Body: { params?: Record<string, unknown>; skip?: string[]; only?: string[] } | null }>(`${prefix}/:type/:name/runs`, {
      config: { audit: 'run' },
      schema: {
        summary: 'Run a workflow now (runtime run), with params', tags: ['runs'], params, body: S.runNowBody,
        response: S.withErrors({ 200: S.runResponse }, 404, 413, 422),
      },
    }, async (request) => {
      const principal = principalOf(request)
      refuseUnknownFields(request.body, ['params', 'skip', 'only'], 'POST .../runs')
      const given = givenParams(request.body?.params)
      const wf = await workflowOf(wsOf(request.params), request.params.type!, request.params.name!, principal, 'run')
      const selection = { skip: request.body?.skip, only: request.body?.only }
      return { run: await new RunParamsMasker(store).run(await engine.runNow(wf, principal.id, given, selection)) }
    })

    fastify.post<P & { Body: { runId?: string; force?: boolean } | null }>(`${prefix}/:type/:name/runs/stop`, {
      config: { audit: 'stop' },
      schema: {
        summary: 'Stop the active runs (or one run): they end killed, after their finally steps unless force', tags: ['runs'], params, body: S.stopBody,
        response: S.withErrors({ 200: S.runsResponse }, 404),
      },
    }, async (request): Promise<RunsResponse> => {
      const principal = principalOf(request)
      const wf = await workflowOf(wsOf(request.params), request.params.type!, request.params.name!, principal, 'stop')
      return { runs: await new RunParamsMasker(store).runs(await engine.stopRuns(wf, principal.id, request.body?.runId, { force: request.body?.force === true })) }
    })

    // Suspend and resume are authorized as `stop` (VERB_AUTHORIZED_AS): whoever may end a run may hold it.
    const holdRoute = (action: 'suspend' | 'resume', summary: string, act: EngineApi['suspendRuns']): void => {
      fastify.post<P & { Body: { runId?: string } | null }>(`${prefix}/:type/:name/runs/${action}`, {
        config: { audit: action },
        schema: { summary, tags: ['runs'], params, body: S.runActionBody, response: S.withErrors({ 200: S.runsResponse }, 404, 409) },
      }, async (request): Promise<RunsResponse> => {
        const principal = principalOf(request)
        const wf = await workflowOf(wsOf(request.params), request.params.type!, request.params.name!, principal, VERB_AUTHORIZED_AS[action])
        return { runs: await new RunParamsMasker(store).runs(await act(wf, principal.id, request.body?.runId)) }
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
      return { run: await new RunParamsMasker(store).run(await engine.retryRun(wf, principal.id, request.body?.runId)) }
    })

    // Authorized as `run`: a backfill is runs of the workflow. A dry run answers the fire times and stores nothing.
    // Workspace routes only: no instance-level type has a schedule.
    if (withBackfill) fastify.post<P & { Body: { from: string; to: string; parallel?: number } }>(`${prefix}/:type/:name/runs/backfill`, {
      config: { audit: 'backfill', dryRun: true },
      schema: {
        summary: 'Backfill: one run (trigger backfill) per fire time of the workflow\'s schedule in [from, to], at most `parallel` at once; dryRun=true lists the times',
        tags: ['runs'], params, querystring: dryRunQuery, body: S.backfillBody,
        response: S.withErrors({ 200: S.backfillResponse }, 404, 422),
      },
    }, async (request): Promise<BackfillAnswer> => {
      const principal = principalOf(request)
      refuseUnknownFields(request.body, ['from', 'to', 'parallel'], 'POST .../runs/backfill')
      const wf = await workflowOf(wsOf(request.params), request.params.type!, request.params.name!, principal, 'run')
      const { from, to, parallel } = request.body
      const answer = await engine.backfill(wf, principal.id, { from, to, parallel, dryRun: isDryRun(request) })
      noteAudit(request, { detail: { from, to, parallel, times: answer.times.length } })
      return { ...answer, runs: await new RunParamsMasker(store).runs(answer.runs) }
    })

    fastify.get<P & { Querystring: { limit: number } }>(`${prefix}/:type/:name/runs`, {
      schema: {
        summary: 'Recent runs of a workflow, newest first', tags: ['runs'], params, querystring: S.runsQuery,
        response: S.withErrors({ 200: S.runsResponse }, 404),
      },
    }, async (request): Promise<RunsResponse> => {
      const wf = await workflowOf(wsOf(request.params), request.params.type!, request.params.name!, principalOf(request), 'runtime-get', true)
      return { runs: await new RunParamsMasker(store).runs(await store.listRuns({ resourceId: wf.id, limit: request.query.limit })) }
    })
  }
  register('/api/v1/workspaces/:ws/resources', S.wsResourceParams, (p) => p.ws!, true)
  register('/api/v1/instance/resources', S.instanceResourceParams, () => null, false)

  fastify.get<{ Params: { id: string } }>('/api/v1/runs/:id', {
    schema: {
      summary: 'One run with every step attempt and its progress', tags: ['runs'], params: S.runIdParams,
      response: S.withErrors({ 200: S.runDetailResponse }, 404),
    },
  }, async (request): Promise<RunDetail> => {
    const principal = principalOf(request)
    const { run, resource } = await loadRunFor(store, principal, 'runtime-get', request.params.id)
    const found = await engine.runDetail(request.params.id)
    if (!found) throw new CtlError('E_NOT_FOUND', `run ${request.params.id} not found`)
    const detail = { ...found, run: await new RunParamsMasker(store).run(found.run) }
    const { view } = await stepView(store, principal, run, resource)
    return view ? { ...detail, steps: detail.steps.map(view) } : detail
  })

  fastify.get<{ Params: { id: string }; Querystring: { changes: boolean } }>('/api/v1/runs/:id/watch', {
    schema: {
      summary: 'The run with every step attempt as NDJSON: one line now and one each time it changes, until it has ended',
      tags: ['runs'], params: S.runIdParams, querystring: S.watchQuery, produces: 'application/x-ndjson',
      response: S.withErrors({ 200: { ...S.runDetailResponse, description: 'NDJSON: one run detail (as GET /api/v1/runs/{id}) per line; an empty line every 15 s while nothing changes. With changes=true, a line after the first may carry, instead of steps, changedSteps: only the step attempts that changed since the line before (matched by id); the first and the last line are whole' } }, 404),
    },
  }, async (request, reply) => {
    const principal = principalOf(request)
    const { run, resource } = await loadRunFor(store, principal, 'runtime-get', request.params.id)
    const shown = await runDetailViewer(store, principal, run, resource)
    // Ends when the run ends, the server closes, or the caller goes away.
    const gone = new AbortController()
    request.raw.on('close', () => gone.abort())
    reply.header('content-type', 'application/x-ndjson; charset=utf-8')
    reply.header('cache-control', 'no-store')
    return reply.send(Readable.from(watchRun(engine, run.id, shown, AbortSignal.any([closing, gone.signal]), opts.pollMs ?? 100, request.query.changes)))
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
    const node = await engine.nodeDetail(request.params.id, request.params.node)
    if (!node) throw new CtlError('E_NOT_FOUND', `run ${request.params.id} has no node "${request.params.node}"`)
    const detail = { ...node, run: await new RunParamsMasker(store).run(node.run) }
    const { host, view } = await stepView(store, principal, run, resource)
    if (!view) return detail
    const out: NodeDetail = { ...detail, attempts: detail.attempts.map(view) }
    if (host) return out
    // A local description names the step's host process; a cluster's names a Pod and stays.
    const latest = detail.attempts.at(-1)?.runtimeHandle as { runtime?: unknown } | undefined
    if (out.description && latest?.runtime !== 'kubernetes') delete out.description
    return out
  })
}
