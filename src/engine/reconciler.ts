// Takes an applied resource from `creating` to `active` (or `error`), and turns
// workflows into runs: unscheduled → a run now (on create or change), scheduled
// → a stored schedule (never a run at apply). Deleting kills and unschedules.

import type { ResourceRecord, RunRecord, RunTrigger, StepRunPatch, StepRunRecord } from '../store/types.js'
import type { KeptRow, RetryPlan } from './retry-plan.js'
import type { WorkflowResource } from '../manifest/model.js'
import { resolveParams } from '../manifest/params.js'
import { openRunParams, sealRunParams } from '../secrets/params.js'
import { CtlError } from '../errors.js'
import { validateSchedule } from './cron.js'
import type { EngineContext, StepLauncher } from './context.js'
import { ACTIVE_RUN_STATES, type Scheduler } from './scheduler.js'
import type { ScheduleTimer } from './schedules.js'
import { leftOut, type StepSelection } from './selection.js'

export interface RunRequest {
  trigger: RunTrigger
  scheduledAt?: string
  lateBySeconds?: number
  retryOf?: string
  /** Defaults to the resource's current revision. */
  revision?: number
  /** Params as given (resolved here against the revision's declarations); absent: the defaults. */
  params?: Record<string, unknown>
  /** `--skip` / `--only`: steps left out of the run (stored skipped before it starts). */
  selection?: StepSelection
}

export class Reconciler {
  /** Pending reconciliations (idle() waits for them); serialized per resource. */
  private readonly queue = new Map<string, Promise<void>>()

  constructor(
    private readonly ctx: EngineContext,
    private readonly launcher: StepLauncher,
    private readonly scheduler: Scheduler,
    private readonly timer: ScheduleTimer,
  ) {}

  get idle(): boolean {
    return this.queue.size === 0
  }

  /** Runs `job` after earlier work on the same resource; never throws to the caller. */
  enqueue(resourceId: string, job: () => Promise<void>): Promise<void> {
    const prev = this.queue.get(resourceId) ?? Promise.resolve()
    const next = prev
      .then(job)
      .catch((err: unknown) => this.ctx.logger.error('reconcile failed', { resourceId, error: String(err) }))
      .finally(() => {
        if (this.queue.get(resourceId) === next) this.queue.delete(resourceId)
      })
    this.queue.set(resourceId, next)
    return next
  }

  /** Resolves with the run this reconcile started, if it started one; `params` go to that run. */
  async reconcile(resource: ResourceRecord, outcome: 'created' | 'updated' | 'unchanged', params?: Record<string, unknown>): Promise<RunRecord | undefined> {
    const { store } = this.ctx
    // Unchanged and already settled: nothing to do (re-apply is idempotent).
    if (outcome === 'unchanged' && resource.status !== 'creating') return
    if (resource.type !== 'workflow') {
      await store.setResourceStatus(resource.id, 'active', undefined, resource.revision)
      return
    }
    const workflow = resource.manifest as WorkflowResource
    const problems = await this.launcher.check(workflow, resource.workspace)
    const schedule = workflow.workflow.schedule
    if (schedule) {
      try {
        validateSchedule(schedule)
      } catch (err) {
        problems.push((err as Error).message)
      }
    }
    if (problems.length > 0) {
      await store.setResourceStatus(resource.id, 'error', problems.join('; '), resource.revision)
      await store.deleteSchedule(resource.id)
      return
    }
    if (schedule) {
      await this.timer.arm(resource, schedule)
      await store.setResourceStatus(resource.id, 'active', undefined, resource.revision)
      return
    }
    await store.deleteSchedule(resource.id)
    // A crash after createRun but before `active` must not start a second run on recovery.
    const last = (await store.listRuns({ resourceId: resource.id, limit: 1 }))[0]
    const alreadyRan = last !== undefined && last.revision === resource.revision && last.trigger === 'apply'
    let started: RunRecord | undefined
    if (!alreadyRan && (outcome !== 'unchanged' || resource.status === 'creating') && (await this.claimApplyRun(resource))) {
      try {
        started = await this.createRun(resource, { trigger: 'apply', params })
      } catch (err) {
        // A required param without a default, and none given: the workflow is applied and waits for
        // `runtime run --param` (the apply answer says so); given params were checked before storing.
        if (!(err instanceof CtlError && err.code === 'E_PARAMS')) throw err
        this.ctx.logger.info('apply started no run', { resourceId: resource.id, reason: err.message })
      }
    }
    await store.setResourceStatus(resource.id, 'active', undefined, resource.revision)
    return started
  }

  /**
   * One apply run per revision whatever the number of replicas: a replica starting reconciles every resource
   * still `creating`, including one another live replica is reconciling right now, and the `alreadyRan` read
   * above cannot see a run not committed yet. The store's exactly-once claim decides; the loser makes no run.
   */
  private claimApplyRun(resource: ResourceRecord): Promise<boolean> {
    return this.ctx.store.claimFire(`apply:${resource.id}`, `rev-${resource.revision}`, this.ctx.replicaId ?? 'engine')
  }

  async deleted(resource: ResourceRecord): Promise<void> {
    const { store } = this.ctx
    await store.deleteSchedule(resource.id)
    // Suspended runs too: a deleted workflow keeps nothing held.
    for (const run of await store.listRuns({ resourceId: resource.id, states: [...ACTIVE_RUN_STATES] })) {
      await this.scheduler.stopRun(run.id, 'cancelled', 'the resource was deleted')
    }
  }

  /** Creates a run with attempt 1 of every step pending, and hands it to the scheduler. */
  async createRun(resource: ResourceRecord, request: RunRequest, keep?: Pick<RetryPlan, 'keep' | 'partial'>): Promise<RunRecord> {
    const { store } = this.ctx
    const revision = request.revision ?? resource.revision
    const rev = revision === resource.revision ? resource : await store.getRevision(resource.id, revision)
    const workflow = (rev?.manifest ?? resource.manifest) as WorkflowResource
    const declared = workflow.workflow.params
    // Checked before anything is stored: an unknown step name creates no run.
    const out = leftOut(workflow.workflow.dag, request.selection)
    // Leased by its creator in the same transaction (another replica adopts only runs left unleased for a whole TTL).
    const owner = this.scheduler.newRunLease()
    const { run, steps } = await store.createRun({
      resourceId: resource.id,
      revision,
      trigger: request.trigger,
      // A retry starts from the stored (sealed) params: opened, checked again, sealed anew.
      params: sealRunParams(declared, resolveParams(declared, openRunParams(declared, request.params, this.ctx.box, resource.id)), this.ctx.box, resource.id),
      scheduledAt: request.scheduledAt,
      lateBySeconds: request.lateBySeconds,
      retryOf: request.retryOf,
      ...(this.ctx.tracing ? { traceId: this.ctx.tracing.newTraceId() } : {}),
      steps: [...workflow.workflow.dag, ...(workflow.workflow.finally ?? [])].map((s) => s.name),
      lease: owner.lease,
    })
    // The rows as stored: what this process writes to them from here on is noted after this point (run-changes.ts).
    const seq = this.ctx.changes?.now
    owner.created(run.id)
    if (keep) await this.carryOver(run.id, steps, keep)
    if (out.size > 0) {
      const now = this.ctx.now().toISOString()
      // A fanned step left out never expands: skipping it skips all its instances.
      for (const s of steps) {
        const why = out.get(s.step)
        if (why) await store.updateStepRun(s.id, { state: 'skipped', reason: why.reason, message: why.message, finishedAt: now }, ['pending'])
      }
    }
    this.scheduler.add(run.id, { resource, run, steps, seq })
    this.ctx.metrics?.runStarted({ workspace: resource.workspace, workflow: resource.name, trigger: request.trigger })
    // Scheduler lag: how late after its fire time a scheduled run was created (catch-ups and backfills of the past included).
    if (request.trigger === 'schedule' && request.scheduledAt !== undefined) {
      this.ctx.metrics?.scheduleFired((this.ctx.now().getTime() - Date.parse(request.scheduledAt)) / 1000)
    }
    this.ctx.logger.info('run created', { runId: run.id, resourceId: resource.id, trigger: request.trigger })
    return run
  }

  /**
   * retryRun: steps (and instances) that succeeded in the earlier run are carried over, not run again, and so
   * are condition skips nothing rerun feeds; keptFrom names the run that ran them, whose log lines the new
   * run shows for them. Their outputs come along, for the steps that do run again.
   */
  private async carryOver(runId: string, steps: readonly StepRunRecord[], plan: Pick<RetryPlan, 'keep' | 'partial'>): Promise<void> {
    const { store } = this.ctx
    const now = this.ctx.now().toISOString()
    const carry = (id: string, { from, row }: KeptRow) => {
      const patch: StepRunPatch =
        row.state === 'skipped'
          ? { state: 'skipped', reason: row.reason, message: row.message, keptFrom: from, finishedAt: now }
          : { state: 'succeeded', exitCode: 0, reason: 'Reused', message: `kept from ${from}`, keptFrom: from, startedAt: now, finishedAt: now, outputs: row.outputs }
      return store.updateStepRun(id, patch, ['pending'])
    }
    const instances = async (parent: string, kept: readonly KeptRow[]) => {
      const made = await store.createStepInstances(runId, parent, kept.flatMap((k) => (k.row.instance ? [{ step: k.row.step, values: k.row.instance }] : [])))
      for (const m of made) {
        const k = kept.find((x) => x.row.step === m.step)
        if (k) await carry(m.id, k)
      }
    }
    for (const s of steps) {
      const k = plan.keep.get(s.step)
      if (k) {
        await carry(s.id, k)
        if (k.instances.length > 0) await instances(s.step, k.instances)
      }
      const partial = plan.partial.get(s.step)
      if (partial) await instances(s.step, partial)
    }
  }
}
