// The scheduling loop. Reacts to events (a run created, an attempt ended, a
// backoff expiring) by advancing every active run: decide retries, skip what can
// never run, finish runs, start ready steps within the server-wide and the
// workflow's parallelism. The rules live in dag.ts and retry.ts; this file only
// applies them to the store and the runtime. A `suspended` run is advanced like
// any other (its ends recorded, its skips made, finished when all steps ended)
// except that it starts nothing.

import type { RunRecord, RunState, StepRunRecord } from '../store/types.js'
import { FINAL_RUN_STATES } from '../store/types.js'
import type { WorkflowResource } from '../manifest/model.js'
import { CtlError } from '../errors.js'
import { evaluateDag, startable } from './dag.js'
import { nextAttemptAt } from './retry.js'
import { AttemptRunner, isRuntimeHandle } from './attempts.js'
import type { EngineContext, RunScope, StepLauncher } from './context.js'
import { openStep, settleFanouts } from './fanout-apply.js'
import { excusedSkipRoots } from './selection.js'
import {
  ancestorsCache, dueAttempts, isFanned, launchValues, runVars, stepIndex, viewOf, type Evaluators,
} from './fanout-run.js'

/** Safety net only: everything that matters wakes the loop directly. */
const POLL_MS = 2000

export function latestAttempts(attempts: readonly StepRunRecord[]): Map<string, StepRunRecord> {
  const latest = new Map<string, StepRunRecord>()
  for (const a of attempts) {
    const cur = latest.get(a.step)
    if (!cur || a.attempt > cur.attempt) latest.set(a.step, a)
  }
  return latest
}

export function isFinalRunState(state: RunState): boolean {
  return FINAL_RUN_STATES.includes(state)
}

/** Runs that are not over: a suspended run still has steps running or to run, so it counts as active. */
export const ACTIVE_RUN_STATES: readonly RunState[] = ['pending', 'running', 'suspended']
/** The states a run can be suspended from. */
const SUSPENDABLE: RunState[] = ['pending', 'running']

export class Scheduler {
  private readonly runner: AttemptRunner
  /** Runs not yet finished, in creation order (ids sort by time). */
  private readonly active = new Set<string>()
  private readonly scopes = new Map<string, RunScope>()
  private ticking = false
  /** Runs to advance on the next pass; `all` makes it every active run (start, poll, backoff). */
  private readonly dirty = new Set<string>()
  private all = false
  /** Runs whose last advance left due steps unstarted for lack of a slot: any ended attempt may free one. */
  private readonly starved = new Set<string>()
  /** Active runs the last advance found suspended: they wait for a user, not for the engine (see idle). */
  private readonly held = new Set<string>()
  private started = false
  private tickDone: Promise<void> = Promise.resolve()
  private backoffTimer: NodeJS.Timeout | undefined
  private backoffAt: number | undefined
  private pollTimer: NodeJS.Timeout | undefined

  /** Per run: the plain steps whose condition held (evaluated once, not on every pass while they wait for a slot). */
  private readonly passed = new Map<string, Set<string>>()

  constructor(
    private readonly ctx: EngineContext,
    launcher: StepLauncher,
    private readonly maxParallelSteps: number,
    private readonly evaluators: Evaluators,
  ) {
    this.runner = new AttemptRunner(ctx, launcher, (runId, step, outcome) => this.attemptEnded(runId, step, outcome))
  }

  /** Reattaches to attempts left running by a previous engine and resumes unfinished runs. */
  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    const { store } = this.ctx
    for (const stepRun of await store.listActiveStepRuns()) {
      const run = await store.getRun(stepRun.runId)
      // A fanned step's own row is `running` while its instances run: there is no process to follow.
      if (run && stepRun.parent === undefined && (await this.isFannedRow(run, stepRun.step))) continue
      if (run && isFinalRunState(run.state)) {
        // The run was stopped while nobody followed this attempt: stop it now.
        if (isRuntimeHandle(stepRun.runtimeHandle)) await this.ctx.runtime.kill(stepRun.runtimeHandle).catch(() => {})
      }
      this.runner.reattach(stepRun)
    }
    // Suspended runs too: their reattached attempts' ends must be recorded and may finish them.
    const open = await store.listRuns({ states: [...ACTIVE_RUN_STATES] })
    for (const run of open.reverse()) this.active.add(run.id)
    this.pollTimer = setInterval(() => this.wake(), POLL_MS)
    this.pollTimer.unref()
    this.wake()
  }

  /** Stops the loop and lets go of running attempts WITHOUT killing them (a restart reattaches). */
  async stop(): Promise<void> {
    this.started = false
    clearInterval(this.pollTimer)
    clearTimeout(this.backoffTimer)
    await this.tickDone
    await this.runner.detachAll()
  }

  /** A new run to schedule. */
  add(runId: string): void {
    this.active.add(runId)
    this.wake(runId)
  }

  /** True when no run is waiting to advance (a suspended one waits for a user) and no attempt is in flight. */
  get idle(): boolean {
    const waiting = [...this.active].some((id) => !this.held.has(id))
    return !waiting && this.runner.active === 0 && !this.ticking && !this.runner.cleaning
  }

  /** Advances the run (or, without one, every active run) soon; passes coalesce while one is going. */
  wake(runId?: string): void {
    if (!this.started) return
    if (runId === undefined) this.all = true
    else this.dirty.add(runId)
    this.kick()
  }

  private kick(): void {
    if (this.ticking || !this.started) return
    this.ticking = true
    this.tickDone = this.tick()
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
    this.wakeStarved()
    const dag = this.scopes.get(runId)?.workflow.workflow.dag
    const quiet =
      outcome === 'succeeded' &&
      dag !== undefined &&
      // An instance's end may end its step or free a slot of the step's parallelism.
      dag.some((s) => s.name === step) &&
      !this.starved.has(runId) &&
      this.runner.inFlightOf(runId) > 0 &&
      dag.every((s) => !s.depends.includes(step) || s.depends.some((d) => d !== step && this.runner.inFlight(runId, d)))
    if (!quiet) this.dirty.add(runId)
    if (this.dirty.size > 0) this.kick()
  }

  /** Marks the runs that have waited longest for a slot for advancing, no more of them than there are free slots. */
  private wakeStarved(advanced?: ReadonlySet<string>): void {
    let free = this.maxParallelSteps - this.runner.active
    for (const r of this.starved) {
      if (free <= 0) break
      if (advanced?.has(r)) continue
      free--
      if (this.active.has(r)) this.dirty.add(r)
      else this.starved.delete(r)
    }
  }

  /**
   * Holds a pending or running run: it starts no new attempt until resumed. Returns false when the
   * run was not pending or running. Waits for a pass in progress, so once this returns no start
   * decided before the hold can still be made.
   */
  async suspendRun(runId: string): Promise<boolean> {
    const ok = await this.ctx.store.updateRun(runId, { state: 'suspended' }, SUSPENDABLE)
    if (!ok) return false
    this.starved.delete(runId)
    await this.tickDone
    this.wake(runId)
    return true
  }

  /**
   * Lets a suspended run go on: `running`, or `pending` again if none of its steps had started.
   * Returns false when the run was not suspended.
   */
  async resumeRun(runId: string): Promise<boolean> {
    const run = await this.ctx.store.getRun(runId)
    if (!run || run.state !== 'suspended') return false
    const ok = await this.ctx.store.updateRun(runId, { state: run.startedAt !== undefined ? 'running' : 'pending' }, ['suspended'])
    if (!ok) return false
    this.held.delete(runId)
    this.active.add(runId)
    this.wake(runId)
    return true
  }

  /**
   * Ends a run as `killed` (a user) or `cancelled` (the system): pending steps are
   * cancelled, running attempts killed. Returns false when the run had already ended.
   */
  async stopRun(runId: string, state: 'killed' | 'cancelled', reason: string): Promise<boolean> {
    const { store } = this.ctx
    const now = this.ctx.now().toISOString()
    // A suspended run is stopped like any other (its running attempts killed).
    const ok = await store.updateRun(runId, { state, reason, finishedAt: now }, [...ACTIVE_RUN_STATES])
    if (!ok) return false
    this.forget(runId)
    this.ctx.runEnds.ended(runId)
    await this.runner.killRun(runId, reason)
    const all = await store.listStepRuns(runId)
    const fanned = new Set(all.flatMap((a) => (a.parent !== undefined ? [a.parent] : [])))
    for (const a of latestAttempts(all).values()) {
      if (a.state === 'running' && fanned.has(a.step) && a.parent === undefined) {
        // A fanned step's own row: its instances are killed above; it ends with them.
        await store.updateStepRun(a.id, { state: 'cancelled', reason: 'Killed', message: reason, finishedAt: now }, ['running'])
      } else if (a.state === 'pending') {
        await store.updateStepRun(a.id, { state: 'cancelled', reason: 'Killed', message: reason, finishedAt: now }, ['pending'])
      } else if (a.state === 'running' && !this.runner.has(a.id)) {
        // Nobody here follows it (engine not started): kill it and close it ourselves.
        if (isRuntimeHandle(a.runtimeHandle)) await this.ctx.runtime.kill(a.runtimeHandle, reason).catch(() => {})
        if (!this.started) await store.updateStepRun(a.id, { state: 'cancelled', reason: 'Killed', message: reason, finishedAt: now }, ['running'])
      }
    }
    return true
  }

  private async tick(): Promise<void> {
    try {
      while ((this.all || this.dirty.size > 0) && this.started) {
        const targets = this.all ? [...this.active] : [...this.dirty].filter((id) => this.active.has(id))
        const full = this.all
        this.all = false
        this.dirty.clear()
        let nextBackoff: number | undefined
        for (const runId of targets) {
          if (!this.started) break
          try {
            const wait = await this.advance(runId)
            if (wait !== undefined && (nextBackoff === undefined || wait < nextBackoff)) nextBackoff = wait
          } catch (err) {
            this.ctx.logger.error('advancing a run failed', { runId, error: String(err) })
          }
        }
        // Only a pass over every run knows the earliest backoff of all of them.
        if (full || nextBackoff !== undefined) this.armBackoff(nextBackoff, full)
        // Slots left free by this pass (a run that queued behind the starved ones): the waiting runs get them. Not
        // the ones this pass advanced: they had their look (an attempt's end wakes them again).
        this.wakeStarved(new Set(targets))
      }
    } finally {
      this.ticking = false
    }
  }

  private armBackoff(at: number | undefined, replace: boolean): void {
    if (!this.started) return
    // A partial pass only brings the timer forward; a full pass sets it (or clears it).
    if (!replace && this.backoffAt !== undefined && at !== undefined && this.backoffAt <= at) return
    clearTimeout(this.backoffTimer)
    this.backoffTimer = undefined
    this.backoffAt = at
    if (at === undefined) return
    const delay = Math.max(0, Math.min(at - this.ctx.now().getTime(), 60_000))
    this.backoffTimer = setTimeout(() => {
      this.backoffAt = undefined
      this.wake()
    }, delay)
    this.backoffTimer.unref()
  }

  private async scope(run: RunRecord): Promise<RunScope> {
    const cached = this.scopes.get(run.id)
    if (cached) {
      cached.run = run
      return cached
    }
    const { store } = this.ctx
    const resource = await store.getResourceById(run.resourceId)
    const revision = await store.getRevision(run.resourceId, run.revision)
    if (!resource || !revision) throw new CtlError('E_NOT_FOUND', `the workflow of run ${run.id} (revision ${run.revision}) no longer exists`)
    const scope: RunScope = { run, resource, workflow: revision.manifest as WorkflowResource, appliedBy: revision.createdBy }
    this.scopes.set(run.id, scope)
    return scope
  }

  /** Advances one run; returns the earliest backoff time (ms) it waits for, if any. */
  private async advance(runId: string): Promise<number | undefined> {
    const { store } = this.ctx
    const run = await store.getRun(runId)
    if (!run || isFinalRunState(run.state)) {
      this.forget(runId)
      return undefined
    }
    const suspended = run.state === 'suspended'
    if (suspended) this.held.add(runId)
    else this.held.delete(runId)
    let scope: RunScope
    try {
      scope = await this.scope(run)
    } catch (err) {
      await this.finish(run, 'failed', (err as Error).message)
      return undefined
    }
    const steps = scope.workflow.workflow.dag
    const byName = stepIndex(scope.workflow)
    const now = this.ctx.now()
    const attempts = await store.listStepRuns(runId)
    const latest = latestAttempts(attempts)

    // Retries first, so a failed attempt with a retry left never skips its dependents. An
    // instance retries by its step's `retry`; a fanned step's own row never does (its instances do).
    for (const a of [...latest.values()]) {
      if (a.state !== 'failed') continue
      const step = byName.get(a.parent ?? a.step)
      if (!step || (a.parent === undefined && isFanned(step))) continue
      const first = a.attempt === 1 ? a : attempts.find((x) => x.step === a.step && x.attempt === 1)
      const at = nextAttemptAt({
        retry: step.retry,
        attempt: a.attempt,
        reason: a.reason ?? 'Error',
        message: a.message,
        firstStartedAt: new Date(first?.startedAt ?? first?.createdAt ?? a.createdAt),
        // The decision must not change between ticks: judge it at the moment the attempt ended.
        now: new Date(a.finishedAt ?? now.toISOString()),
      })
      if (at === undefined) continue
      try {
        latest.set(a.step, await store.createStepAttempt(runId, a.step, a.attempt + 1, at.toISOString()))
      } catch (err) {
        if (!(err instanceof CtlError && err.code === 'E_CONFLICT')) throw err
      }
    }

    const view = viewOf(latest)
    const inFlight = (a: StepRunRecord) => this.runner.has(a.id)
    await settleFanouts(this.ctx, steps, view, inFlight)

    const states = new Map([...view.steps].map(([name, a]) => [name, inFlight(a) ? 'running' as const : a.state]))
    const conditionSkipped = excusedSkipRoots(view.steps.values())
    const ev = evaluateDag(
      steps.map((s) => ({ name: s.name, depends: s.depends })),
      states,
      conditionSkipped,
    )
    const nowIso = now.toISOString()
    for (const skip of ev.skip) {
      const a = view.steps.get(skip.step)
      if (a) await store.updateStepRun(a.id, { state: 'skipped', message: skip.reason, finishedAt: nowIso }, ['pending'])
    }
    if (ev.finished) {
      await this.finish(run, ev.outcome ?? 'failed')
      return undefined
    }
    // Held: nothing starts, and no backoff timer is needed (resume wakes the run).
    if (suspended) {
      this.starved.delete(runId)
      return undefined
    }

    // A ready step's condition decides first; a fanned step then expands. Either changes the
    // run (a skip to spread, instances to start): another pass follows this one.
    const passed = this.passed.get(runId) ?? new Set<string>()
    this.passed.set(runId, passed)
    const readyPlain = new Set<string>()
    for (const name of ev.ready) {
      const step = byName.get(name)
      const row = view.steps.get(name)
      if (!step || !row) continue
      if ((step.when === undefined && !isFanned(step)) || passed.has(row.id)) {
        readyPlain.add(name)
        continue
      }
      if ((await openStep(this.ctx, this.evaluators, scope, view, step, row)) === 'start') {
        passed.add(row.id)
        readyPlain.add(name)
      } else this.dirty.add(runId)
    }

    const { due, running, wait } = dueAttempts(steps, view, readyPlain, (a) => inFlight(a) || a.state === 'running', now.getTime())
    // First come, first served: while runs wait for a slot, a run that is not among them queues behind them
    // rather than taking the slot an attempt's end freed for the run that waited longest.
    const free = this.starved.size > 0 && !this.starved.has(runId) ? 0 : this.maxParallelSteps - this.runner.active
    const parallelism = scope.workflow.workflow.parallelism
    const names = due.map((d) => d.row.step)
    const toStart = startable(names, running, parallelism, free).length
    // Starved: the server's slots, not the run's own parallelism, kept a due step back. A run held back by its own
    // parallelism has steps running, whose ends wake it; it must not take a place among the runs waiting for a slot.
    if (toStart < startable(names, running, parallelism, Infinity).length) this.starved.add(runId)
    else this.starved.delete(runId)
    if (toStart > 0 && run.state === 'pending') {
      await store.updateRun(runId, { state: 'running', startedAt: nowIso }, ['pending'])
    }
    for (const { step, row } of due.slice(0, toStart)) {
      const values = launchValues(runVars(run, scope.workflow, view, row.parent ?? step.name, ancestorsCache(scope.workflow)), row.instance)
      this.runner.start(scope, step, row, values)
    }
    return wait
  }

  /** Whether a stored step row is a fanned step's own (which has no process). */
  private async isFannedRow(run: RunRecord, step: string): Promise<boolean> {
    const s = await this.scope(run).then((scope) => stepIndex(scope.workflow).get(step), () => undefined)
    return s !== undefined && isFanned(s)
  }

  private async finish(run: RunRecord, state: 'succeeded' | 'failed' | 'cancelled', reason?: string): Promise<void> {
    const now = this.ctx.now().toISOString()
    await this.ctx.store.updateRun(
      run.id,
      { state, reason: reason === undefined ? undefined : this.ctx.redact(run.id, reason), finishedAt: now, startedAt: run.startedAt ?? now },
      [...ACTIVE_RUN_STATES],
    )
    this.forget(run.id)
    this.ctx.runEnds.ended(run.id)
    this.ctx.logger.info('run finished', { runId: run.id, state })
  }

  private forget(runId: string): void {
    this.active.delete(runId)
    this.scopes.delete(runId)
    this.starved.delete(runId)
    this.held.delete(runId)
    this.passed.delete(runId)
  }
}
