// The engine assembled: reconciler, scheduler, schedule timer and launcher,
// behind the small EngineApi the server uses. This file wires and acts (the
// queries are run-queries.ts's); the rules live in the rooms it wires.

import { CtlError } from '../errors.js'
import type { ResourceRecord, RunRecord, Store } from '../store/types.js'
import type { Runtime, RuntimeInfo } from '../runtime/types.js'
import type { WorkflowResource } from '../manifest/model.js'
import type { BackfillAnswer, EngineApi } from './api.js'
import { noteStepWrites, RunChanges } from './run-changes.js'
import { createRunQueries } from './run-queries.js'
import { BackfillRunner } from './backfills.js'
import { backfillTimes } from './backfill-plan.js'
import { MAX_ACTIVE_BACKFILLS, MAX_BACKFILL_PARALLEL } from '../manifest/limits.js'
import { silentLogger, type EngineContext, type EngineLogger, type StepLauncher } from './context.js'
import { retryPlan } from './retry-plan.js'
import { recordDecision } from './approvals.js'
import { createStoreLauncher } from './launch.js'
import { evaluateCondition, evaluateItems } from '../expr/index.js'
import { Reconciler } from './reconciler.js'
import { ACTIVE_RUN_STATES, isFinalRunState, latestAttempts, Scheduler } from './scheduler.js'
import { RunEnds } from './run-ends.js'
import { tracedStore, type RunTracing } from './tracing.js'
import type { SecretBox } from '../secrets/crypto.js'
import type { Metrics } from '../metrics/metrics.js'
import { scheduleOf, ScheduleTimer } from './schedules.js'
import { DEFAULT_LEASE_TTL_MS, MAX_LEASE_TTL_MS, MIN_LEASE_TTL_MS, newReplicaId } from './ownership.js'

export interface EngineOptions {
  store: Store
  runtime: Runtime
  /** Volumes live under `<dataDir>/volumes/<workspace>/<id>`. */
  dataDir: string
  /** Most step attempts running at once on this server; default 32. */
  maxParallelSteps?: number
  now?: () => Date
  logger?: EngineLogger
  /** Redacts a log line before it is stored; identity by default. */
  redact?: (runId: string, text: string) => string
  /** Longest sleep of the schedule timer (default 60 s); tests with a fake clock use a short one. */
  maxTimerSleepMs?: number
  /** Items one forEach may fan out into at run time (default MAX_FOREACH_ITEMS). */
  maxForEachItems?: number
  /** Seals run params declared secret at rest; the same box the launcher opens secrets with. */
  box?: SecretBox
  /** Replaces the default launcher (stacks, projections, volumes from the store). */
  launcher?: StepLauncher
  /**
   * This control plane among the replicas sharing the store: the owner name of the run leases it takes
   * (ownership.ts). Default: a new id naming host, boot, pid namespace and pid (newReplicaId).
   */
  replicaId?: string
  /** How long a run's lease lasts unless renewed (renewed every third of it); default 15 s, 1 s to 1 h. */
  leaseTtlMs?: number
  /** Traces on: runs get a trace id and their ends are told to this tracer (tracing.ts). Absent: no tracing work at all. */
  tracing?: RunTracing
  /** The control plane's metrics (src/metrics); none: nothing is counted. */
  metrics?: Metrics
}

export interface Engine extends EngineApi {
  /** Reattaches to running attempts, resumes runs and schedules, starts the loops. */
  start(): Promise<void>
  /** Stops the loops and lets go of running steps WITHOUT killing them; a new engine reattaches. */
  stop(): Promise<void>
  /** Test helper: resolves once nothing is pending (no reconcile, no open run but suspended ones, no attempt in flight). */
  idle(): Promise<void>
  /** This replica's id: the owner of the run leases it holds. */
  readonly replicaId: string
  /** The runs whose lease this replica holds now. */
  ownedRuns(): string[]
}

function requireWorkflow(resource: ResourceRecord): WorkflowResource {
  if (resource.type !== 'workflow') {
    throw new CtlError('E_USAGE', `${resource.type} "${resource.name}" is not a workflow: it has no runs`)
  }
  return resource.manifest as WorkflowResource
}

export function createEngine(opts: EngineOptions): Engine {
  const replicaId = opts.replicaId ?? newReplicaId()
  if (replicaId.length === 0 || replicaId.length > 200) throw new CtlError('E_USAGE', 'the replica id must have 1 to 200 characters', { field: 'replicaId' })
  // Every step row written here is noted, for the followers of runs (run-changes.ts).
  const changes = new RunChanges()
  const ctx: EngineContext = {
    store: noteStepWrites(opts.tracing ? tracedStore(opts.store, opts.tracing) : opts.store, changes),
    runtime: opts.runtime,
    now: opts.now ?? (() => new Date()),
    logger: opts.logger ?? silentLogger,
    redact: opts.redact ?? ((_runId, text) => text),
    runEnds: new RunEnds(),
    box: opts.box,
    // Fire claims name the same replica as the run leases.
    replicaId,
    ...(opts.tracing ? { tracing: opts.tracing } : {}),
    metrics: opts.metrics,
    changes,
  }
  const { store } = ctx
  const launcher = opts.launcher ?? createStoreLauncher({ store, dataDir: opts.dataDir })
  const leaseTtlMs = opts.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS
  if (!Number.isInteger(leaseTtlMs) || leaseTtlMs < MIN_LEASE_TTL_MS || leaseTtlMs > MAX_LEASE_TTL_MS) {
    throw new CtlError('E_USAGE', `lease TTL ${leaseTtlMs} ms: give a whole number of ms from ${MIN_LEASE_TTL_MS} to ${MAX_LEASE_TTL_MS}`, { field: 'leaseTtlMs' })
  }
  const scheduler = new Scheduler(ctx, launcher, opts.maxParallelSteps ?? 32, { condition: evaluateCondition, items: evaluateItems, maxForEachItems: opts.maxForEachItems }, { replicaId, ttlMs: leaseTtlMs })
  let reconciler: Reconciler
  const backfills = new BackfillRunner(ctx, (resource, request) => reconciler.createRun(resource, request))
  ctx.runEnds.listen(() => backfills.runEnded())
  const timer = new ScheduleTimer(ctx, {
    createRun: (resource, input) => reconciler.createRun(resource, input),
    cancelRun: async (runId, reason) => {
      await scheduler.stopRun(runId, 'cancelled', reason)
    },
    queue: async (resource, fires, parallel) => {
      await store.createBackfill({ resourceId: resource.id, trigger: 'schedule', parallel, createdBy: 'schedule', times: fires.map((f) => f.fireAt.toISOString()) })
      backfills.wake()
    },
  }, opts.maxTimerSleepMs)
  reconciler = new Reconciler(ctx, launcher, scheduler, timer)

  async function findRun(resource: ResourceRecord, runId: string | undefined): Promise<RunRecord> {
    if (runId === undefined) {
      const last = (await store.listRuns({ resourceId: resource.id, limit: 1 }))[0]
      if (!last) throw new CtlError('E_NOT_FOUND', `workflow "${resource.name}" has no runs`)
      return last
    }
    const run = await store.getRun(runId)
    if (!run || run.resourceId !== resource.id) throw new CtlError('E_NOT_FOUND', `run "${runId}" of workflow "${resource.name}" not found`)
    return run
  }

  const engine: Engine = {
    ...createRunQueries(ctx, changes, (runId) => scheduler.ownership.owned.has(runId)),
    replicaId,
    ownedRuns: () => [...scheduler.ownership.owned],

    async start() {
      await scheduler.start()
      timer.start()
      backfills.start()
      // Resources whose reconcile was interrupted by a crash: found from summaries (no manifests),
      // each read whole when its turn comes (it may have moved on meanwhile).
      for (const s of await store.listResourceSummaries({ allWorkspaces: true })) {
        if (s.status === 'creating') void reconciler.enqueue(s.id, async () => {
          const r = await store.getResourceById(s.id)
          if (r?.status === 'creating') await reconciler.reconcile(r, 'unchanged')
        })
      }
    },

    async stop() {
      await timer.stop()
      await backfills.stop()
      await scheduler.stop()
    },

    async idle() {
      for (;;) {
        if (reconciler.idle && scheduler.idle && timer.idle && backfills.idle) {
          // Settle once more: an ending attempt wakes the loop asynchronously.
          await new Promise((r) => setTimeout(r, 10))
          if (reconciler.idle && scheduler.idle && timer.idle && backfills.idle) return
        }
        await new Promise((r) => setTimeout(r, 20))
      }
    },

    async resourceApplied(resource, outcome, params) {
      let started: RunRecord | undefined
      await reconciler.enqueue(resource.id, async () => {
        started = await reconciler.reconcile(resource, outcome, params)
      })
      return started
    },

    async resourceDeleted(resource) {
      await reconciler.enqueue(resource.id, () => reconciler.deleted(resource))
    },

    async runNow(resource, by, params, selection) {
      requireWorkflow(resource)
      ctx.logger.info('run requested', { resourceId: resource.id, by })
      return reconciler.createRun(resource, { trigger: 'manual', params, selection })
    },

    async stopRuns(resource, by, runId, opts = {}) {
      requireWorkflow(resource)
      // Stopping the workflow (no run named) ends its backfills too: otherwise the next fire time would start at once.
      if (runId === undefined) {
        for (const b of await store.listBackfills({ resourceId: resource.id, states: ['running'] })) {
          if (await store.finishBackfill(b.id, 'cancelled')) ctx.logger.info('backfill cancelled', { backfillId: b.id, by })
        }
      }
      const targets = runId !== undefined ? [await findRun(resource, runId)] : await store.listRuns({ resourceId: resource.id, states: [...ACTIVE_RUN_STATES] })
      const stopped: RunRecord[] = []
      for (const run of targets) {
        // Without force, a run with finally steps goes on running them (its state `running` until they end).
        if (await scheduler.stopRun(run.id, 'killed', `killed by ${by}`, { force: opts.force === true })) {
          const after = await store.getRun(run.id)
          if (after) stopped.push(after)
        }
      }
      return stopped
    },

    async suspendRuns(resource, by, runId) {
      requireWorkflow(resource)
      // Without a run id, already suspended runs are part of the answer: suspending twice is a no-op, not "nothing to do".
      const targets = runId !== undefined ? [await findRun(resource, runId)] : await store.listRuns({ resourceId: resource.id, states: [...ACTIVE_RUN_STATES] })
      const held: RunRecord[] = []
      for (const run of targets) {
        if (run.state !== 'suspended') {
          if (await scheduler.suspendRun(run.id)) ctx.logger.info('run suspended', { runId: run.id, by })
          else {
            // Ended (or suspended by someone else) meanwhile. An ended run is only an error when it was asked for by id.
            const now = await store.getRun(run.id)
            if (now?.state !== 'suspended') {
              if (runId !== undefined) throw new CtlError('E_CONFLICT', `run ${run.id} is ${now?.state ?? run.state}: only a pending or running run can be suspended`)
              continue
            }
          }
        }
        const after = await store.getRun(run.id)
        if (after) held.push(after)
      }
      return held
    },

    async resumeRuns(resource, by, runId) {
      requireWorkflow(resource)
      const targets = runId !== undefined ? [await findRun(resource, runId)] : await store.listRuns({ resourceId: resource.id, states: ['suspended'] })
      const resumed: RunRecord[] = []
      for (const run of targets) {
        if (isFinalRunState(run.state)) throw new CtlError('E_CONFLICT', `run ${run.id} is ${run.state}: only a suspended run can be resumed`)
        // A pending or running run is not held: resuming it is a no-op answer.
        if (run.state === 'suspended') {
          if (await scheduler.resumeRun(run.id)) ctx.logger.info('run resumed', { runId: run.id, by })
        }
        const after = await store.getRun(run.id)
        if (after && (runId !== undefined || !isFinalRunState(after.state))) resumed.push(after)
      }
      return resumed
    },

    async retryRun(resource, by, runId) {
      requireWorkflow(resource)
      const run = await findRun(resource, runId)
      if (ACTIVE_RUN_STATES.includes(run.state)) {
        const hint = run.state === 'suspended' ? 'resume or stop it' : 'stop it or wait for it to end'
        throw new CtlError('E_CONFLICT', `run ${run.id} is still ${run.state}; ${hint} before retrying`)
      }
      const revision = await store.getRevision(resource.id, run.revision)
      const workflow = (revision?.manifest ?? resource.manifest) as WorkflowResource
      const plan = retryPlan(workflow.workflow.dag, latestAttempts(await store.listStepRuns(run.id)), run.id)
      // The finally steps always run again: a run whose DAG succeeded but a finally step failed can be retried.
      if (plan.rerun.size === 0 && (run.state === 'succeeded' || (workflow.workflow.finally ?? []).length === 0)) {
        throw new CtlError('E_CONFLICT', `run ${run.id} succeeded completely: nothing to retry`)
      }
      ctx.logger.info('retry requested', { runId: run.id, by })
      // The same params as the run it retries (already resolved against the same revision).
      return reconciler.createRun(resource, { trigger: 'retry', retryOf: run.id, revision: run.revision, params: run.params }, plan)
    },

    async waitingStep(resource, step, runId) {
      requireWorkflow(resource)
      const runs = runId !== undefined ? [await findRun(resource, runId)] : await store.listRuns({ resourceId: resource.id, states: [...ACTIVE_RUN_STATES] })
      for (const run of runs) {
        const row = latestAttempts(await store.listStepRuns(run.id)).get(step)
        if (row?.state === 'waiting') return row
        if (runId !== undefined) {
          if (!row) throw new CtlError('E_NOT_FOUND', `run ${run.id} has no step "${step}"`)
          throw new CtlError('E_CONFLICT', `step "${step}" of run ${run.id} does not wait for approval (it is ${row.state})`)
        }
      }
      throw new CtlError('E_NOT_FOUND', `no run of workflow "${resource.name}" waits for approval of step "${step}"`)
    },

    async decideApproval(stepRun, decision, by, comment) {
      const after = await recordDecision(ctx, stepRun, decision, by, comment)
      scheduler.wake(stepRun.runId)
      return after
    },

    async backfill(resource, by, request): Promise<BackfillAnswer> {
      requireWorkflow(resource)
      const schedule = scheduleOf(resource)
      if (!schedule) throw new CtlError('E_USAGE', `workflow "${resource.name}" has no schedule: a backfill runs the fire times of its schedule`)
      const parallel = request.parallel ?? 1
      if (!Number.isInteger(parallel) || parallel < 1 || parallel > MAX_BACKFILL_PARALLEL) {
        throw new CtlError('E_USAGE', `--parallel ${parallel}: give a whole number from 1 to ${MAX_BACKFILL_PARALLEL}`, { field: 'parallel' })
      }
      const times = backfillTimes(schedule, request.from, request.to)
      if (request.dryRun) return { times, runs: [], dryRun: true }
      // Bounded like every input: each backfill may start up to MAX_BACKFILL_FIRES runs.
      const going = (await store.listBackfills({ resourceId: resource.id, states: ['running'] })).filter((b) => b.trigger === 'backfill')
      if (going.length >= MAX_ACTIVE_BACKFILLS) {
        throw new CtlError('E_LIMIT', `workflow "${resource.name}" has ${going.length} backfills going on; at most ${MAX_ACTIVE_BACKFILLS} at once: wait for one to end, or stop the workflow's runs`, { max: MAX_ACTIVE_BACKFILLS })
      }
      const record = await store.createBackfill({ resourceId: resource.id, trigger: 'backfill', parallel, createdBy: by, times })
      ctx.logger.info('backfill requested', { resourceId: resource.id, by, backfillId: record.id, times: times.length })
      // One pass now, so the answer names the runs that started.
      await backfills.pass()
      const ids = (await store.listBackfillTimes(record.id)).flatMap((t) => (t.runId ? [t.runId] : []))
      const runs = (await Promise.all(ids.map((id) => store.getRun(id)))).filter((r): r is RunRecord => r !== undefined)
      return { times, backfill: (await store.getBackfill(record.id)) ?? record, runs }
    },

    untilRunEnds(runId, ms, signal): Promise<void> {
      return ctx.runEnds.wait(runId, ms, signal)
    },

    runtimeInfo(): RuntimeInfo {
      return ctx.runtime.info()
    },

    async runTriggered(resource, trigger, params) {
      requireWorkflow(resource)
      ctx.logger.info('run triggered', { resourceId: resource.id, trigger })
      return reconciler.createRun(resource, { trigger, params })
    },
  }
  return engine
}
