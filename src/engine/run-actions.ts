// What a user (or the system) does to a run: suspend, resume, stop. With several replicas the run may be
// another's: the replica that gets the request writes the intent to the store (run state, the DAG's end) and,
// for a stop, kills the run's attempts through the runtime at once (safe from anywhere: killing is idempotent);
// the owner notices within about a second (scheduler.ts checkStore), records the ends of what it follows and
// runs the finally steps. A run nobody owns is claimed and adopted first (ensureOwned), then acted on here.

import type { RunRecord, RunState } from '../store/types.js'
import type { AttemptRunner } from './attempts.js'
import type { EngineContext, RunScope } from './context.js'
import { decodeDagEnd, finallyOf } from './finally.js'
import { closeStoppedRows, endDagEarly, type PhaseDeps } from './run-phase.js'
import { ACTIVE_RUN_STATES, FINAL_RUN_STATES } from '../store/types.js'

/** The states a run can be suspended from. */
const SUSPENDABLE: RunState[] = ['pending', 'running']

/** The scheduler as the actions see it. */
export interface ActionPort {
  readonly ctx: EngineContext
  readonly runner: AttemptRunner
  readonly phaseDeps: PhaseDeps
  /** The loop runs (a stopped engine acts alone, closing what it stops itself). */
  readonly started: boolean
  /** Resolves once the pass in progress (if any) is over: no start it decided can be made after. */
  passDone(): Promise<void>
  owns(runId: string): boolean
  ensureOwned(runId: string): Promise<boolean>
  /** The run no longer waits for a slot. */
  unstarve(runId: string): void
  /** The run is scheduled again (not held) and advanced soon. */
  activate(runId: string): void
  wake(runId: string): void
  forget(runId: string): void
  releaseIfDone(runId: string): Promise<void>
  /** The run's scope; cached only for runs this replica owns. */
  scope(run: RunRecord): Promise<RunScope>
}

/**
 * Holds a pending or running run: it starts no new attempt until resumed. Returns false when the run was not
 * pending or running. On the owner, waits for a pass in progress, so once this returns no start decided before
 * the hold can still be made; another replica's owner reads the hold within about a second, and a start it
 * decided in that second may still be made.
 */
export async function suspendRun(port: ActionPort, runId: string): Promise<boolean> {
  const ok = await port.ctx.store.updateRun(runId, { state: 'suspended' }, SUSPENDABLE)
  if (!ok) return false
  if (!port.owns(runId)) return true
  port.unstarve(runId)
  await port.passDone()
  port.wake(runId)
  return true
}

/** Lets a suspended run go on: `running`, or `pending` again if none of its steps had started. False when it was not suspended. */
export async function resumeRun(port: ActionPort, runId: string): Promise<boolean> {
  const run = await port.ctx.store.getRun(runId)
  if (!run || run.state !== 'suspended') return false
  const ok = await port.ctx.store.updateRun(runId, { state: run.startedAt !== undefined ? 'running' : 'pending' }, ['suspended'])
  if (!ok) return false
  // Another replica's run: its owner notices the change.
  if (port.owns(runId)) port.activate(runId)
  return true
}

/**
 * Ends a run as `killed` (a user) or `cancelled` (the system): pending steps are cancelled, running attempts
 * killed. Returns false when the run had already ended.
 */
export async function stopRun(port: ActionPort, runId: string, state: 'killed' | 'cancelled', reason: string, opts: { force?: boolean } = {}): Promise<boolean> {
  const { ctx, runner } = port
  const mine = await port.ensureOwned(runId)
  // A user's stop still runs the finally steps (run-phase.ts) unless forced; the system's cancels do not.
  if (state === 'killed' && !opts.force) {
    const graceful = await stopBeforeFinally(port, runId, reason, mine)
    if (graceful !== undefined) return graceful
  }
  const now = ctx.now().toISOString()
  // A suspended run is stopped like any other (its running attempts killed).
  const ok = await ctx.store.updateRun(runId, { state, reason, finishedAt: now }, [...ACTIVE_RUN_STATES])
  if (!ok) return false
  port.forget(runId)
  if (ctx.metrics) {
    const run = await ctx.store.getRun(runId)
    if (run) ctx.metrics.runFinished({ workspace: run.workspace, workflow: run.resourceName, state })
  }
  ctx.runEnds.ended(runId)
  await runner.killRun(runId, reason)
  // Not ours: nothing here follows its attempts, so closeStoppedRows kills them by their stored handles; the
  // owner's followers record the ends (started: rows a follower closes are left to it).
  await closeStoppedRows(ctx, await ctx.store.listStepRuns(runId), reason, now, (id) => runner.has(id), port.started || !mine)
  if (mine) await port.releaseIfDone(runId)
  return true
}

/**
 * Stops the DAG of a run that has finally steps: they run next, the run ends `killed` after them. Undefined
 * when the run has none (or cannot be read): the caller stops it outright. True when it already stops so.
 */
async function stopBeforeFinally(port: ActionPort, runId: string, reason: string, mine: boolean): Promise<boolean | undefined> {
  const { ctx } = port
  const run = await ctx.store.getRun(runId)
  if (!run || FINAL_RUN_STATES.includes(run.state)) return undefined
  const scope = await port.scope(run).catch(() => undefined)
  if (!scope || finallyOf(scope.workflow).length === 0) return undefined
  if (decodeDagEnd(run)) return true
  // Decided passes must not start DAG steps after this (see suspendRun); a held run is let go so finally can run.
  await port.passDone()
  const extra = run.state === 'running' ? {} : { state: 'running' as const, startedAt: run.startedAt ?? ctx.now().toISOString() }
  // Another replica's run: the stored DAG end is all; its owner kills the DAG's attempts on its next look (decidePhase).
  const deps = mine ? port.phaseDeps : { ...port.phaseDeps, killSteps: async () => {}, killed: new Set<string>() }
  if (!(await endDagEarly(deps, run, scope, { status: 'Killed', detail: reason }, reason, extra))) return undefined
  if (mine) port.activate(runId)
  return true
}
