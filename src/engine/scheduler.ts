// The scheduler. Reacts to events (a run created, an attempt ended, a backoff
// expiring) by advancing the active runs they concern (when: the pass loop,
// run-passes.ts): decide retries, skip what can never run, finish runs, start
// ready steps within the server-wide and the workflow's parallelism. The rules
// live in dag.ts and retry.ts; this file only
// applies them to the store and the runtime. A `suspended` run is advanced like
// any other (its ends recorded, its skips made, finished when all steps ended)
// except that it starts nothing.
//
// Several replicas (ownership.ts): this scheduler drives only the runs whose lease its replica holds.
// An action on a run another replica holds (stop, suspend, resume, an approval) is written to the store
// here and noticed by the owner, whose loop compares each of its runs with the store every second
// (checkStore); a stop also kills the run's attempts through the runtime at once (killing is idempotent
// and safe from anywhere), the owner records their ends. A run nobody holds is claimed and adopted first.

import type { RunRecord, RunState, StepRunRecord } from '../store/types.js'
import { ACTIVE_RUN_STATES, FINAL_RUN_STATES } from '../store/types.js'
import { RunOwnership } from './ownership.js'
import { reattachOrphans } from './orphans.js'
import { resumeRun, stopRun, suspendRun, type ActionPort } from './run-actions.js'
import { startable } from './dag.js'
import { decodeDagEnd, finallyOf } from './finally.js'
import { closeStoppedRows, decidePhase, type PhaseDeps } from './run-phase.js'
import { AttemptRunner, isRuntimeHandle } from './attempts.js'
import type { EngineContext, RunScope, StepLauncher } from './context.js'
import { settleFanouts } from './fanout-apply.js'
import { openReadySteps, scheduleRetries } from './advance-steps.js'
import { expireApprovals } from './approvals.js'
import { hasStepTemplates } from '../stack/values.js'
import { RunPasses, earliest } from './run-passes.js'
import { RunReads, type CreatedRun } from './run-reads.js'
import {
  ancestorsCache, dagDependents, dueAttempts, latestAttempts, launchValues, runVars, stepIndex, viewOf, type Evaluators,
} from './fanout-run.js'

/** How often the runs this replica owns are compared with the store (changes another replica wrote). */
const STORE_CHECK_MS = 1000

/** Kept here for the callers that import it from the scheduler. */
export { latestAttempts }

/** What checkStore compares: a change of either was written by someone (maybe another replica). */
const seenKey = (run: RunRecord): string => `${run.state}|${run.reason ?? ''}`

export function isFinalRunState(state: RunState): boolean {
  return FINAL_RUN_STATES.includes(state)
}

export { ACTIVE_RUN_STATES }

export class Scheduler {
  private readonly runner: AttemptRunner
  /** Runs not yet finished, in creation order (ids sort by time). */
  private readonly active = new Set<string>()
  /** What passes read of each run, kept between them (run-reads.ts). */
  private readonly reads: RunReads
  /** When runs are advanced (run-passes.ts); the scheduler is started while its passes are. */
  private readonly passes: RunPasses
  /** Per run, per attempt row: when it was first seen due (ms), for the queue-delay histogram; dropped as it starts. */
  private readonly dueSince = new Map<string, Map<string, number>>()
  /** Active runs the last advance found suspended: they wait for a user, not for the engine (see idle). */
  private readonly held = new Set<string>()
  private checkTimer: NodeJS.Timeout | undefined
  private checking = false
  /** Per owned run: its state and reason as this replica last read them (checkStore spots other replicas' writes). */
  private readonly seen = new Map<string, string>()
  readonly ownership: RunOwnership
  private readonly port: ActionPort

  private readonly phaseDeps: PhaseDeps
  private readonly leaseTtlMs: number
  /** Per run: the plain steps whose condition held (evaluated once, not on every pass while they wait for a slot). */
  private readonly passed = new Map<string, Set<string>>()

  constructor(
    private readonly ctx: EngineContext,
    launcher: StepLauncher,
    maxParallelSteps: number,
    private readonly evaluators: Evaluators,
    lease: { replicaId: string; ttlMs: number },
  ) {
    this.leaseTtlMs = lease.ttlMs
    this.runner = new AttemptRunner(ctx, launcher, (runId, step, outcome) => this.attemptEnded(runId, step, outcome), (runId) => this.ownership.owned.has(runId), 2 * lease.ttlMs)
    this.reads = new RunReads(ctx, (runId) => this.ownership.owned.has(runId))
    this.passes = new RunPasses({ ctx, active: this.active, advance: (runId) => this.advance(runId), freeSlots: () => maxParallelSteps - this.runner.active })
    this.phaseDeps = { ctx, inFlight: (a) => this.runner.has(a.id), killSteps: (r, steps, why) => this.runner.killSteps(r, steps, why), killed: new Set() }
    this.ownership = new RunOwnership(ctx, lease.replicaId, lease.ttlMs, {
      adopt: (run) => this.adopt(run),
      adoptEnded: (run, rows) => this.adoptEnded(run, rows),
      lost: (runId) => this.lost(runId),
    })
    const self = this
    this.port = {
      ctx, runner: this.runner, phaseDeps: this.phaseDeps,
      get started() {
        return self.passes.started
      },
      passDone: () => this.passes.done,
      owns: (runId) => this.ownership.owned.has(runId),
      ensureOwned: (runId) => this.ensureOwned(runId),
      unstarve: (runId) => this.passes.setStarved(runId, false),
      activate: (runId) => {
        this.held.delete(runId)
        this.active.add(runId)
        this.passes.wake(runId)
      },
      wake: (runId) => this.passes.wake(runId),
      forget: (runId) => this.forget(runId),
      releaseIfDone: (runId) => this.releaseIfDone(runId),
      scope: async (run) => {
        const scope = await this.reads.scope(run)
        if (!this.ownership.owned.has(run.id) && !this.active.has(run.id)) this.reads.dropScope(run.id)
        return scope
      },
    }
  }

  /**
   * Start-up is a takeover (ownership.ts): every run nobody holds is adopted, its running attempts reattached
   * (never restarted), as after a restart. Then the loops: a pass over every owned run now and then, and the
   * per-second comparison of owned runs with the store.
   */
  async start(): Promise<void> {
    if (this.passes.started) return
    this.passes.start()
    this.checkTimer = setInterval(() => void this.checkStore(), STORE_CHECK_MS)
    this.checkTimer.unref()
    await this.ownership.start()
    this.passes.wake()
  }

  /**
   * Stops the loop and lets go of running attempts WITHOUT killing them (a restart reattaches). The leases go
   * last, once nothing here follows the runs: another replica (or the next start) takes them over at once.
   */
  async stop(): Promise<void> {
    this.passes.stop()
    clearInterval(this.checkTimer)
    await this.ownership.stop(false)
    await this.passes.done
    await this.runner.detachAll()
    await this.ownership.stop(true)
  }

  /** The lease a new run is stored with (ownership.ts): the replica that creates a run drives it. */
  newRunLease(): ReturnType<RunOwnership['newRunLease']> {
    return this.ownership.newRunLease()
  }

  /**
   * A new run to schedule, if this replica holds it (leased with the run, newRunLease). `created`: what its creation
   * stored and read back, for its first pass (RunReads.seed).
   */
  add(runId: string, created?: CreatedRun): void {
    if (!this.ownership.owned.has(runId)) return
    if (created) this.reads.seed(runId, created)
    this.active.add(runId)
    this.passes.wake(runId)
  }

  /** A run this replica acquired: its running attempts are reattached (the restart path, per run), then it is scheduled. */
  private async adopt(run: RunRecord): Promise<void> {
    for (const row of await this.ctx.store.listStepRuns(run.id)) {
      // A fanned step's own row is `running` while its instances run: there is no process to follow.
      if (row.state !== 'running' || (row.parent === undefined && (await this.reads.isFannedRow(run, row.step)))) continue
      this.runner.reattach(row)
    }
    // Suspended runs too: their reattached attempts' ends must be recorded and may finish them.
    this.active.add(run.id)
    this.passes.wake(run.id)
  }

  /** An ended run whose attempts still run and nobody follows: they are stopped and followed to their end here. */
  private async adoptEnded(run: RunRecord, rows: StepRunRecord[]): Promise<void> {
    for (const row of rows) {
      if (row.parent === undefined && (await this.reads.isFannedRow(run, row.step))) continue
      if (isRuntimeHandle(row.runtimeHandle)) await this.ctx.runtime.kill(row.runtimeHandle).catch(() => {})
      this.runner.reattach(row)
    }
    this.reads.dropScope(run.id)
    await this.releaseIfDone(run.id)
  }

  /** Another replica holds the run now: stop driving it, WITHOUT killing its steps (their new owner follows them). */
  private lost(runId: string): void {
    this.forget(runId)
    void this.runner.detachRun(runId)
  }

  /** The lease of a run that is over here (not active, nothing followed) goes back. */
  private async releaseIfDone(runId: string): Promise<void> {
    if (!this.active.has(runId) && this.runner.inFlightOf(runId) === 0) await this.ownership.release(runId)
  }

  /** Whether this replica drives the run; one that nobody holds is claimed and adopted here first. */
  private async ensureOwned(runId: string): Promise<boolean> {
    if (this.ownership.owned.has(runId)) return true
    // Not started (tests drive a stopped engine): it acts alone, as one replica always did.
    if (!this.passes.started) return true
    if (!(await this.ownership.claim(runId))) return false
    const run = await this.ctx.store.getRun(runId)
    if (run) await this.adopt(run)
    return true
  }

  /**
   * Another replica's writes to the runs this one owns (a stop, a suspend, a resume, the DAG ended by a stop,
   * an approval decided) are noticed here within about a second: a run whose stored state or reason changed,
   * that ended, or that waits (for a person) gets a pass, which reads the store again.
   */
  private async checkStore(): Promise<void> {
    if (this.checking || !this.passes.started || (this.active.size === 0 && this.ownership.owned.size === 0)) return
    this.checking = true
    try {
      // Only the runs leased here: with several replicas, each reads its own share, not every active run.
      const stored = new Map((await this.ctx.store.listRuns({ states: [...ACTIVE_RUN_STATES], leasedBy: this.ownership.replicaId })).map((r) => [r.id, r]))
      for (const runId of this.active) {
        const run = stored.get(runId)
        if (!run || this.held.has(runId) || this.seen.get(runId) !== seenKey(run)) this.passes.mark(runId)
      }
      // Runs leased here that nothing drives: their creation failed between the lease and the hand-over (a store
      // error), or the lease's acquire answer was lost. Adopted once a TTL old, so a creation still writing its
      // skip marks or carry-overs is left alone.
      const now = this.ctx.now().getTime()
      for (const [runId, run] of stored) {
        if (this.active.has(runId) || !this.ownership.owned.has(runId) || this.runner.inFlightOf(runId) > 0) continue
        if (Date.parse(run.createdAt) + this.leaseTtlMs > now) continue
        this.ctx.logger.warn('run leased here but not driven: adopted', { runId })
        await this.adopt(run)
      }
      this.passes.flush()
      const owned = new Map([...stored].filter(([id]) => this.active.has(id) && this.ownership.owned.has(id)))
      await reattachOrphans({ ctx: this.ctx, owned, followed: (id) => this.runner.has(id), isFannedRow: (run, step) => this.reads.isFannedRow(run, step), reattach: (row) => this.runner.reattach(row) })
    } catch (err) {
      this.ctx.logger.warn('checking owned runs against the store failed', { error: String(err) })
    } finally {
      this.checking = false
    }
  }

  /** True when no run is waiting to advance (a suspended one waits for a user) and no attempt is in flight. */
  get idle(): boolean {
    const waiting = [...this.active].some((id) => !this.held.has(id))
    return !waiting && this.runner.active === 0 && !this.passes.passing && !this.runner.cleaning
  }

  /** Advances the run (or, without one, every active run) soon; passes coalesce while one is going. */
  wake(runId?: string): void {
    this.passes.wake(runId)
  }

  /**
   * An attempt ended. Its run needs advancing, unless the attempt succeeded and nothing can
   * have changed: every step that depends on it still waits for another attempt in flight, and
   * the run has attempts in flight (so it cannot finish, and their ends advance it). In a wide
   * DAG that saves re-reading the whole run for every step end but the last of a layer.
   */
  private attemptEnded(runId: string, step: string, outcome: string | undefined): void {
    // A slot is free: the runs that have waited longest for one get a look, no more of them than there are
    // free slots. Waking every starved run at every end made an overloaded server re-read thousands of runs
    // per step end (its capacity then fell as its queue grew).
    this.passes.wakeStarved()
    // The last followed attempt of a run that is over here (stopped, or an ended run adopted): its lease goes back.
    if (!this.active.has(runId) && this.ownership.owned.has(runId) && this.runner.inFlightOf(runId) === 0) void this.ownership.release(runId)
    const workflow = this.reads.keptScope(runId)?.workflow
    // Undefined for an instance: its end may end its step or free a slot of the step's parallelism.
    const dependents = workflow && dagDependents(workflow).get(step)
    let flying: ReadonlySet<string> | undefined
    const inFlight = (name: string) => (flying ??= this.runner.stepsInFlight(runId)).has(name)
    const quiet =
      outcome === 'succeeded' &&
      dependents !== undefined &&
      !this.passes.isStarved(runId) &&
      this.runner.inFlightOf(runId) > 0 &&
      dependents.every((s) => s.depends.some((d) => d !== step && inFlight(d)))
    if (!quiet) this.passes.mark(runId)
    this.passes.flush()
  }

  /** See run-actions.ts: these may concern a run another replica owns. */
  suspendRun(runId: string): Promise<boolean> {
    return suspendRun(this.port, runId)
  }

  resumeRun(runId: string): Promise<boolean> {
    return resumeRun(this.port, runId)
  }

  stopRun(runId: string, state: 'killed' | 'cancelled', reason: string, opts: { force?: boolean } = {}): Promise<boolean> {
    return stopRun(this.port, runId, state, reason, opts)
  }

  /** Advances one run; returns the earliest backoff time (ms) it waits for, if any. */
  private async advance(runId: string): Promise<number | undefined> {
    const { store } = this.ctx
    const stored = await store.getRun(runId)
    if (!stored || isFinalRunState(stored.state)) {
      // Ended by someone else (another replica's stop): what is followed here is killed, its rows closed as they end.
      const followed = this.runner.inFlightOf(runId) > 0
      this.forget(runId)
      if (stored && followed) {
        await this.runner.killRun(runId, stored.reason ?? 'the run was stopped')
        await closeStoppedRows(this.ctx, await store.listStepRuns(runId), stored.reason ?? 'the run was stopped', this.ctx.now().toISOString(), (id) => this.runner.has(id), true)
      }
      this.ctx.runEnds.ended(runId)
      await this.releaseIfDone(runId)
      return undefined
    }
    this.seen.set(runId, seenKey(stored))
    // A run that waited for a person: its rows are read whole (an approval may have been decided on another replica).
    const waited = this.held.has(runId)
    // Conditions, items and templates read secret params in clear; the store keeps them sealed.
    const run = await this.reads.withOpenParams(stored)
    const suspended = run.state === 'suspended'
    if (suspended) this.held.add(runId)
    else this.held.delete(runId)
    let scope: RunScope
    try {
      scope = await this.reads.scope(run)
    } catch (err) {
      await this.finish(run, 'failed', (err as Error).message)
      return undefined
    }
    const byName = stepIndex(scope.workflow)
    const now = this.ctx.now()
    const attempts = await this.reads.steps(stored, waited)
    const latest = latestAttempts(attempts)
    // Once the DAG is over (ended, stopped, past its deadline) only the finally steps retry.
    const over = decodeDagEnd(run) !== undefined
    await scheduleRetries(this.ctx, runId, over ? new Map(finallyOf(scope.workflow).map((s) => [s.name, s])) : byName, attempts, latest, now)

    const view = viewOf(latest)
    const inFlight = (a: StepRunRecord) => this.runner.has(a.id)
    await settleFanouts(this.ctx, [...scope.workflow.workflow.dag, ...finallyOf(scope.workflow)], view, inFlight)
    // Approval steps past their deadline are rejected before the DAG is judged (approvals.ts).
    const approvals = await expireApprovals(this.ctx, view, now.getTime())

    // The DAG, then the finally steps (run-phase.ts); the run finishes when both are over.
    const phase = await decidePhase(this.phaseDeps, run, scope, view, now)
    if (phase.kind === 'finish') {
      await this.finish(run, phase.state, phase.reason)
      return undefined
    }
    if (phase.kind === 'wait') return phase.wait
    const { steps, ev } = phase
    // Held: nothing starts, and no timer is needed but a deadline's (resume wakes the run).
    if (suspended) {
      this.passes.setStarved(runId, false)
      return phase.wait
    }

    // The seam (advance-steps.ts): each ready step is opened (condition, fan-out) before it may start.
    // A changed row (a skip to spread, instances to start) needs another pass over the run.
    const passed = this.passed.get(runId) ?? new Set<string>()
    this.passed.set(runId, passed)
    const { readyPlain, changed } = await openReadySteps(this.ctx, this.evaluators, scope, view, ev.ready, byName, passed)
    if (changed) this.passes.mark(runId)

    const { due, running, wait } = dueAttempts(steps, view, readyPlain, (a) => inFlight(a) || a.state === 'running', now.getTime())
    // First come, first served (slotsFor): no slot while other runs have waited longer for one.
    const free = this.passes.slotsFor(runId)
    const parallelism = scope.workflow.workflow.parallelism
    const names = due.map((d) => d.row.step)
    const toStart = startable(names, running, parallelism, free).length
    // Starved: the server's slots, not the run's own parallelism, kept a due step back. A run held back by its own
    // parallelism has steps running, whose ends wake it; it must not take a place among the runs waiting for a slot.
    this.passes.setStarved(runId, toStart < startable(names, running, parallelism, Infinity).length)
    // Only the lease holder starts steps: a replica that stalled past its lease learns it here (and lets the run go).
    if (toStart > 0 && !(await this.ownership.stillOurs(runId))) return undefined
    if (toStart > 0 && run.state === 'pending') {
      // Our own write: the per-second check must not take it for someone else's change and pass the run again.
      if (await store.updateRun(runId, { state: 'running', startedAt: now.toISOString() }, ['pending'])) this.seen.set(runId, seenKey({ ...run, state: 'running' }))
    }
    if (this.ctx.metrics) {
      const since = this.dueSince.get(runId) ?? new Map<string, number>()
      this.dueSince.set(runId, since)
      for (const { row } of due) if (!since.has(row.id)) since.set(row.id, now.getTime())
      for (const { row } of due.slice(0, toStart)) {
        this.ctx.metrics.stepQueued({ workspace: run.workspace }, (now.getTime() - since.get(row.id)!) / 1000)
        since.delete(row.id)
      }
    }
    for (const { step, row } of due.slice(0, toStart)) {
      // Only a step with templates (or an instance, whose item or matrix they read) renders values at its launch.
      const values = row.instance !== undefined || hasStepTemplates(step)
        ? launchValues(runVars(run, scope.workflow, view, row.parent ?? step.name, ancestorsCache(scope.workflow)), row.instance)
        : undefined
      this.runner.start(scope, step, row, values)
    }
    // Only a person (or the approval deadline's timer) moves a run that waits for approval and nothing else.
    if (approvals.waiting && toStart === 0 && running === 0 && wait === undefined && !changed && this.runner.inFlightOf(runId) === 0) this.held.add(runId)
    return earliest(earliest(wait, phase.wait), approvals.wait)
  }

  private async finish(run: RunRecord, state: RunState, reason?: string): Promise<void> {
    const now = this.ctx.now().toISOString()
    const ended = await this.ctx.store.updateRun(
      run.id,
      { state, reason: reason === undefined ? undefined : this.ctx.redact(run.id, reason), finishedAt: now, startedAt: run.startedAt ?? now },
      [...ACTIVE_RUN_STATES],
    )
    this.forget(run.id)
    // Counted once, by the replica whose compare-and-set ended the run.
    if (ended) this.ctx.metrics?.runFinished({ workspace: run.workspace, workflow: run.resourceName, state })
    this.ctx.runEnds.ended(run.id)
    await this.releaseIfDone(run.id)
    this.ctx.logger.info('run finished', { runId: run.id, state })
  }

  private forget(runId: string): void {
    this.active.delete(runId)
    this.seen.delete(runId)
    this.reads.forget(runId)
    this.passes.forget(runId)
    this.held.delete(runId)
    this.passed.delete(runId)
    this.dueSince.delete(runId)
    this.phaseDeps.killed.delete(runId)
  }
}
