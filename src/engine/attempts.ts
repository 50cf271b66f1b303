// One step attempt from start to exit: mark it running, build the launch, start
// it on the runtime, store the handle, follow its logs into the store and record
// how it ended. Also the restart path: reattach to attempts found running.
//
// "No step runs twice because of a restart": the attempt is marked `running`
// with a launching marker BEFORE runtime.start and the handle is stored right
// after, so a new engine either has a handle to follow, or knows the start may
// have happened and asks the runtime (find) instead of starting again.

import type { StepRunRecord, StepState } from '../store/types.js'
import { FINAL_RUN_STATES } from '../store/types.js'
import { CtlError } from '../errors.js'
import type { RuntimeHandle, StepExit, StepKey } from '../runtime/types.js'
import type { StepModel } from '../manifest/model.js'
import type { StepValues } from '../stack/values.js'
import type { EngineContext, RunScope, StepLauncher } from './context.js'
import { exitPatch } from './attempt-exit.js'

/** Stored as the runtime handle between marking an attempt running and runtime.start returning. */
export interface LaunchingMarker {
  launching: true
  key: StepKey
}

export function isRuntimeHandle(value: unknown): value is RuntimeHandle {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Record<string, unknown>
  return typeof v.runtime === 'string' && typeof v.id === 'string' && typeof v.data === 'object' && v.data !== null
}

interface AttemptTask {
  stepRunId: string
  runId: string
  step: string
  /** The fanned step of an instance. */
  parent?: string
  /** The run's workspace and when the attempt started (ms), for the metrics; known once launched or reattached. */
  workspace?: string | null
  startedAt?: number
  /** The final state this engine stored, if it stored one. */
  outcome?: StepState
  handle?: RuntimeHandle
  /** The run is being stopped: kill as soon as there is a handle, never start. */
  killRequested: boolean
  /** Engine stop: leave the step running for the next engine. */
  detach: AbortController
  done: Promise<void>
}

const STORE_RETRY_FIRST_MS = 100
const STORE_RETRY_MAX_MS = 2_000

/** A store failure worth writing again: the database was unreachable or failed; not a refusal of the write itself. */
function retriable(err: unknown): boolean {
  return !(err instanceof CtlError) || err.code === 'E_UNAVAILABLE' || err.code === 'E_INTERNAL'
}

export class AttemptRunner {
  private readonly tasks = new Map<string, AttemptTask>()

  constructor(
    private readonly ctx: EngineContext,
    private readonly launcher: StepLauncher,
    /** Called after every attempt ended (with the state stored, when this engine stored one): wakes the scheduler. */
    private readonly onEnded: (runId: string, step: string, outcome: StepState | undefined) => void,
    /** Whether this replica still holds the run's lease: a store write is retried only while it does. */
    private readonly holds: (runId: string) => boolean = () => true,
    /**
     * How long an attempt marked running without a handle may still be being launched by another replica
     * (a live owner whose lease was taken mid-launch) before it is judged never started (`Lost`).
     */
    private readonly launchGraceMs = 0,
  ) {}

  /** Runtime cleanups still going on after their attempt ended (off the scheduling path). */
  private readonly cleanups = new Set<Promise<void>>()

  /** Attempts this engine is starting or following (the server-wide parallelism count). */
  get active(): number {
    return this.tasks.size
  }

  /** Resolves once every background cleanup is done. */
  async settled(): Promise<void> {
    while (this.cleanups.size > 0) await Promise.all([...this.cleanups])
  }

  get cleaning(): boolean {
    return this.cleanups.size > 0
  }

  has(stepRunId: string): boolean {
    return this.tasks.has(stepRunId)
  }

  /** Whether this engine is starting or following an attempt of `step` in the run. */
  inFlight(runId: string, step: string): boolean {
    for (const t of this.tasks.values()) if (t.runId === runId && t.step === step) return true
    return false
  }

  /** The steps of the run this engine is starting or following an attempt of (inFlight for many steps at once). */
  stepsInFlight(runId: string): Set<string> {
    const out = new Set<string>()
    for (const t of this.tasks.values()) if (t.runId === runId) out.add(t.step)
    return out
  }

  /** How many attempts of the run this engine is starting or following. */
  inFlightOf(runId: string): number {
    let n = 0
    for (const t of this.tasks.values()) if (t.runId === runId) n++
    return n
  }

  /**
   * Starts a pending attempt (`values`: what its templates render with). Registers the task
   * synchronously so the caller's next tick counts it.
   */
  start(scope: RunScope, step: StepModel, stepRun: StepRunRecord, values?: StepValues): void {
    this.track(stepRun, (task) => this.launchAndFollow(task, scope, step, stepRun, values))
  }

  /** Restart path for an attempt stored as `running`. */
  reattach(stepRun: StepRunRecord): void {
    this.track(stepRun, (task) => this.resume(task, stepRun))
  }

  /** Kills every attempt of the run this engine runs (now, or as soon as it has a handle). */
  async killRun(runId: string, reason: string): Promise<void> {
    const kills: Promise<void>[] = []
    for (const task of this.tasks.values()) {
      if (task.runId !== runId) continue
      task.killRequested = true
      if (task.handle) kills.push(this.kill(task.handle, reason))
    }
    await Promise.all(kills)
  }

  /** Kills the run's attempts of the given steps (an instance by its step): the DAG's, when finally follows. */
  async killSteps(runId: string, steps: ReadonlySet<string>, reason: string): Promise<void> {
    const kills: Promise<void>[] = []
    for (const task of this.tasks.values()) {
      if (task.runId !== runId || !steps.has(task.parent ?? task.step)) continue
      task.killRequested = true
      if (task.handle) kills.push(this.kill(task.handle, reason))
    }
    await Promise.all(kills)
  }

  /** Stops following the run's attempts without killing them (another replica owns the run now). */
  async detachRun(runId: string): Promise<void> {
    const tasks = [...this.tasks.values()].filter((t) => t.runId === runId)
    for (const task of tasks) task.detach.abort(new Error('run lease lost'))
    await Promise.all(tasks.map((t) => t.done))
  }

  /** Stops following without killing anything; waits until every task let go. */
  async detachAll(): Promise<void> {
    for (const task of this.tasks.values()) task.detach.abort(new Error('engine stopping'))
    await Promise.all([...this.tasks.values()].map((t) => t.done))
    await this.settled()
  }

  private track(stepRun: StepRunRecord, body: (task: AttemptTask) => Promise<void>): void {
    if (this.tasks.has(stepRun.id)) return
    const task: AttemptTask = {
      stepRunId: stepRun.id,
      runId: stepRun.runId,
      step: stepRun.step,
      ...(stepRun.parent !== undefined ? { parent: stepRun.parent } : {}),
      killRequested: false,
      detach: new AbortController(),
      done: Promise.resolve(),
    }
    this.tasks.set(stepRun.id, task)
    task.done = body(task)
      .catch((err: unknown) => {
        this.ctx.logger.error('step attempt failed in the engine', { stepRunId: stepRun.id, error: String(err) })
      })
      .finally(() => {
        this.tasks.delete(stepRun.id)
        this.onEnded(task.runId, task.step, task.outcome)
      })
  }

  private async launchAndFollow(task: AttemptTask, scope: RunScope, step: StepModel, stepRun: StepRunRecord, values: StepValues | undefined): Promise<void> {
    const { store, runtime } = this.ctx
    const key: StepKey = { runId: stepRun.runId, step: stepRun.step, attempt: stepRun.attempt }
    const marker: LaunchingMarker = { launching: true, key }
    const startedAt = this.ctx.now()
    const marked = await store.updateStepRun(
      stepRun.id,
      { state: 'running', startedAt: startedAt.toISOString(), runtimeHandle: marker },
      ['pending'],
    )
    if (!marked) return // cancelled (or taken) meanwhile
    task.workspace = scope.run.workspace
    task.startedAt = startedAt.getTime()
    if (task.killRequested || (await this.runIsOver(stepRun.runId))) {
      return this.endWithout(stepRun, 'cancelled', 'Killed', 'the run was stopped before the step started')
    }

    // Prepared and handed to the runtime one attempt at a time (see inTurn): the runtime
    // starts the first attempt of a burst while the next ones are being prepared.
    type Problem = { state: StepState; reason: string; message: string }
    const started = await this.inTurn(async (): Promise<{ problem: Problem } | { starting: Promise<RuntimeHandle> }> => {
      let launch
      try {
        launch = await this.launcher.prepare(scope, step, stepRun.attempt, values)
      } catch (err) {
        return { problem: { state: 'failed', reason: 'LaunchError', message: (err as Error).message } }
      }
      if (task.killRequested) return { problem: { state: 'cancelled', reason: 'Killed', message: 'the run was stopped before the step started' } }
      const starting = runtime.start(launch)
      starting.catch(() => {}) // awaited below, outside the turn
      return { starting }
    })
    if ('problem' in started) return this.endWithout(stepRun, started.problem.state, started.problem.reason, started.problem.message)

    let handle: RuntimeHandle
    try {
      handle = await started.starting
    } catch (err) {
      return this.endWithout(stepRun, 'failed', 'StartError', (err as Error).message)
    }
    // Stored even when detaching: the next engine must find it.
    await this.retryStore(task, 'storing the runtime handle', () => store.updateStepRun(stepRun.id, { runtimeHandle: handle }))
    task.handle = handle
    // A stop that raced with this start (it saw no handle yet) is honoured here.
    if (task.killRequested || (await this.runIsOver(stepRun.runId))) await this.kill(handle, 'the run was stopped')
    await this.follow(task, stepRun, handle, 0)
  }

  private async resume(task: AttemptTask, stepRun: StepRunRecord): Promise<void> {
    if (stepRun.startedAt !== undefined) task.startedAt = Date.parse(stepRun.startedAt)
    if (this.ctx.metrics) task.workspace = (await this.ctx.store.getRun(stepRun.runId))?.workspace
    let handle = isRuntimeHandle(stepRun.runtimeHandle) ? stepRun.runtimeHandle : undefined
    if (!handle) {
      // Crashed between marking and storing the handle: the start may or may not have happened.
      const run = await this.ctx.store.getRun(stepRun.runId)
      const key: StepKey = { runId: stepRun.runId, step: stepRun.step, attempt: stepRun.attempt, ...(run?.workspace ? { workspace: run.workspace } : {}) }
      handle = this.ctx.runtime.find ? await this.ctx.runtime.find(key) : undefined
      if (!handle) {
        const markedAt = stepRun.startedAt === undefined ? NaN : Date.parse(stepRun.startedAt)
        // Maybe still being launched elsewhere: left alone; the owner's per-second check looks again (orphans.ts).
        if (Number.isFinite(markedAt) && markedAt + this.launchGraceMs > this.ctx.now().getTime()) return
        await this.endWithout(stepRun, 'failed', 'Lost', 'the control plane stopped while starting the step; it did not start')
        // Past the grace: what a start cut short left goes (config files may hold secrets); the runtime's claim stays.
        return this.ctx.runtime.forget?.(key).catch((err: unknown) => this.ctx.logger.warn('runtime cleanup failed', { stepRunId: stepRun.id, error: String(err) }))
      }
      await this.ctx.store.updateStepRun(stepRun.id, { runtimeHandle: handle })
    }
    task.handle = handle
    await this.follow(task, stepRun, handle, stepRun.logOffset)
  }

  private async follow(task: AttemptTask, stepRun: StepRunRecord, handle: RuntimeHandle, fromOffset: number): Promise<void> {
    const { store, runtime, redact } = this.ctx
    if (task.detach.signal.aborted) return
    let exit: StepExit
    let offset = fromOffset
    try {
      exit = await runtime.follow(
        handle,
        fromOffset,
        async (batch) => {
          const lines = batch.lines.map((l) => ({ time: l.time, stream: l.stream, text: redact(stepRun.runId, l.text) }))
          // A store error is not the step's end: the batch is written again until it is stored (or the lease is gone).
          // Each write is a compare-and-set on the offset this follower stored last.
          let failedOnce = false
          const written = await this.retryStore(task, 'appending log lines', () => {
            const attempt = store.appendLogs(stepRun.id, lines, batch.offset, offset)
            attempt.catch(() => (failedOnce = true))
            return attempt
          })
          // Refused after a failed try: that try may have committed with its answer lost.
          if (!written && !(failedOnce && (await store.getStepRun(stepRun.id))?.logOffset === batch.offset && batch.offset !== offset)) {
            // Someone else stored lines of this attempt: another replica follows it now. Let go without ending it.
            this.ctx.logger.warn('log append refused: the attempt is followed elsewhere', { stepRunId: stepRun.id })
            task.detach.abort(new Error('attempt followed elsewhere'))
            throw new Error('attempt followed elsewhere')
          }
          offset = batch.offset
          if (this.ctx.metrics) {
            let bytes = 0
            for (const l of lines) bytes += Buffer.byteLength(l.text)
            this.ctx.metrics.logBytes(task.workspace ?? null, bytes)
          }
        },
        task.detach.signal,
      )
    } catch (err) {
      if (task.detach.signal.aborted) return // engine stopping or lease lost: the step keeps running
      exit = { exitCode: null, reason: 'Lost', message: `following the step failed: ${(err as Error).message}`, finishedAt: this.ctx.now().toISOString() }
    }
    const patch = exitPatch(exit, redact, stepRun.runId)
    const { state } = patch
    let stored: boolean
    try {
      stored = await this.retryStore(task, 'recording the step end', () => store.updateStepRun(stepRun.id, patch, ['running']))
    } catch (err) {
      if (task.detach.signal.aborted) return // the next owner follows it again and records the end
      throw err
    }
    if (stored) {
      task.outcome = state
      this.measured(task, state, Date.parse(exit.finishedAt))
    }
    // Everything the attempt produced is stored now; its folders can go. In the background:
    // the attempt's slot is free and its dependents may start without waiting for the disk.
    const cleanup = runtime
      .cleanup(handle)
      .catch((err: unknown) => {
        this.ctx.logger.warn('runtime cleanup failed', { stepRunId: stepRun.id, error: String(err) })
      })
      .finally(() => this.cleanups.delete(cleanup))
    this.cleanups.add(cleanup)
  }

  /**
   * Runs a store write of a followed attempt until it succeeds: a store blip (a PostgreSQL connection reset,
   * a pool timeout) must not end a step that still runs. Retried with a bounded backoff while the task is
   * followed here and the replica holds the run's lease; once it does not, the task lets go (detach), and
   * the run's next owner follows the attempt from its stored offset (or, without a handle, finds it).
   */
  private async retryStore<T>(task: AttemptTask, what: string, write: () => Promise<T>): Promise<T> {
    for (let delay = STORE_RETRY_FIRST_MS; ; delay = Math.min(delay * 2, STORE_RETRY_MAX_MS)) {
      try {
        return await write()
      } catch (err) {
        if (!retriable(err)) throw err
        const gone = !this.holds(task.runId)
        if (gone) task.detach.abort(new Error('run lease lost'))
        if (gone || task.detach.signal.aborted) throw err
        this.ctx.logger.warn(`${what} failed; retrying`, { stepRunId: task.stepRunId, error: String(err) })
        await new Promise((resolve) => setTimeout(resolve, delay))
      }
    }
  }

  /** The tail of the queue of attempts being prepared (see inTurn). */
  private turn: Promise<unknown> = Promise.resolve()

  /**
   * Runs `fn` after every `fn` queued before it has finished. Twenty attempts starting
   * together would otherwise be prepared side by side (every await lets the next one run)
   * and none reach the runtime before all are prepared; in turn, the first goes to the
   * runtime as soon as it is ready, and the runtime works while the others are prepared.
   */
  private inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.turn.then(fn)
    this.turn = result.catch(() => {})
    return result
  }

  /** Checks of a run's state asked for and not read yet (runIsOver). */
  private readonly overChecks = new Map<string, Promise<boolean>>()

  /**
   * Whether the run ended (a stop elsewhere). Read after it is asked, as each caller needs, but one read answers every
   * check of the run asked before it is made: the twenty attempts of a layer marked running in one commit ask together.
   */
  private runIsOver(runId: string): Promise<boolean> {
    let check = this.overChecks.get(runId)
    if (!check) {
      check = new Promise<void>((resolve) => queueMicrotask(resolve)).then(async () => {
        this.overChecks.delete(runId)
        const run = await this.ctx.store.getRun(runId)
        return run === undefined || FINAL_RUN_STATES.includes(run.state)
      })
      this.overChecks.set(runId, check)
    }
    return check
  }

  /** Ends an attempt that has no process: the reason also goes to the step's log, where users look. */
  private async endWithout(stepRun: StepRunRecord, state: StepState, reason: string, message: string): Promise<void> {
    const { store } = this.ctx
    const now = this.ctx.now().toISOString()
    // A launch error may quote a rendered value (a template, a command line): stored redacted like the log.
    message = this.ctx.redact(stepRun.runId, message)
    const ok = await store.updateStepRun(stepRun.id, { state, reason, message, finishedAt: now }, ['running'])
    if (ok) this.measuredByRow(stepRun, state, Date.parse(now))
    if (ok) await store.appendLogs(stepRun.id, [{ time: now, stream: 'system', text: `${reason}: ${message}` }], stepRun.logOffset)
  }

  /** Counts an ended attempt in the step duration histogram (when this engine knows when it started). */
  private measured(task: AttemptTask, state: StepState, finishedAt: number): void {
    if (task.startedAt === undefined || !Number.isFinite(finishedAt)) return
    this.ctx.metrics?.stepAttemptEnded({ workspace: task.workspace ?? null, state }, (finishedAt - task.startedAt) / 1000)
  }

  private measuredByRow(stepRun: StepRunRecord, state: StepState, finishedAt: number): void {
    const task = this.tasks.get(stepRun.id)
    if (task) this.measured(task, state, finishedAt)
  }

  private async kill(handle: RuntimeHandle, reason: string): Promise<void> {
    await this.ctx.runtime.kill(handle, reason).catch((err: unknown) => {
      this.ctx.logger.warn('runtime kill failed', { handle: handle.id, error: String(err) })
    })
  }
}
