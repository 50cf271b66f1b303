// Which part of a run a scheduler pass works on (issue 12): its DAG, or — once the DAG
// ended, was stopped or passed its `spec.timeout` — its finally steps, or nothing more
// (the run is to finish). The DAG's end is stored on the run before any finally step
// starts (finally.ts), so a restarted control plane picks up exactly where this one was.

import type { StepModel } from '../manifest/model.js'
import type { RunRecord, RunState, StepRunRecord, StepState } from '../store/types.js'
import type { EngineContext, RunScope } from './context.js'
import { evaluateDag, type DagEvaluation } from './dag.js'
import { excusedSkipped, latestAttempts, type RunView } from './fanout-run.js'
import {
  cancelPending, DEADLINE_REASON, dagStatusOf, decodeDagEnd, encodeDagEnd, finallyDeadline, finallyOf, finallyProblemOf, finalState, runDeadline,
  type DagEnd,
} from './finally.js'
import { RULE_SKIP_REASON } from './rules.js'
import { isRuntimeHandle } from './attempts.js'

export type Phase =
  /** Open and start `ev.ready` among `steps`. */
  | { kind: 'steps'; steps: readonly StepModel[]; ev: DagEvaluation; wait?: number }
  /** Nothing to start now: attempts in flight end, or a deadline passes (`wait`, ms). */
  | { kind: 'wait'; wait?: number }
  | { kind: 'finish'; state: RunState; reason?: string }

export interface PhaseDeps {
  ctx: EngineContext
  inFlight(a: StepRunRecord): boolean
  killSteps(runId: string, steps: ReadonlySet<string>, reason: string): Promise<void>
  /** Runs whose DAG attempts this engine already told to die (once per process: a restart tells them again). */
  killed: Set<string>
}

/** All rows of the given steps (their attempts' latest and their instances). */
function rowsOf(view: RunView, names: ReadonlySet<string>): StepRunRecord[] {
  const out: StepRunRecord[] = []
  for (const [name, a] of view.steps) if (names.has(name)) out.push(a, ...(view.instances.get(name) ?? []))
  return out
}

/** Stores the skips a pass decided: a trigger rule's keeps its reason, read back as no failure. */
async function applySkips(ctx: EngineContext, view: RunView, ev: DagEvaluation, nowIso: string): Promise<void> {
  for (const skip of ev.skip) {
    const a = view.steps.get(skip.step)
    if (!a) continue
    const patch = { state: 'skipped' as const, reason: skip.excused ? RULE_SKIP_REASON : undefined, message: skip.reason, finishedAt: nowIso }
    // The view follows what was stored: the rest of this pass (is the DAG over?) reads it.
    if (await ctx.store.updateStepRun(a.id, patch, ['pending'])) view.steps.set(skip.step, { ...a, ...patch, reason: patch.reason ?? a.reason })
  }
}

/**
 * Ends the DAG early (stop without --force, or its deadline): stores its end on the run, kills its running
 * attempts and cancels its pending ones. The finally steps (if any) run once the killed attempts ended.
 */
export async function endDagEarly(deps: PhaseDeps, run: RunRecord, scope: RunScope, end: DagEnd, reason: string, extra: { state?: RunState; startedAt?: string } = {}): Promise<boolean> {
  const { ctx } = deps
  const ok = await ctx.store.updateRun(run.id, { reason: encodeDagEnd(end), ...extra }, ['pending', 'running', 'suspended'])
  if (!ok) return false
  run.reason = encodeDagEnd(end)
  const dag = new Set(scope.workflow.workflow.dag.map((s) => s.name))
  deps.killed.add(run.id)
  await deps.killSteps(run.id, dag, reason)
  await cancelPending(ctx, await ctx.store.listStepRuns(run.id), dag, end.status === 'Killed' ? 'Killed' : DEADLINE_REASON, reason)
  return true
}

export async function decidePhase(deps: PhaseDeps, run: RunRecord, scope: RunScope, view: RunView, now: Date): Promise<Phase> {
  const { ctx, inFlight } = deps
  const dag = scope.workflow.workflow.dag
  const fin = finallyOf(scope.workflow)
  const nowIso = now.toISOString()
  const states = new Map<string, StepState>([...view.steps].map(([name, a]) => [name, inFlight(a) ? 'running' : a.state]))
  let end = decodeDagEnd(run)
  let wait: number | undefined

  if (!end) {
    const deadline = runDeadline(scope.workflow, run)
    if (deadline !== undefined && now.getTime() >= deadline) {
      const timedOut: DagEnd = { status: 'Failed', detail: DEADLINE_REASON }
      if (!(await endDagEarly(deps, run, scope, timedOut, `the workflow's timeout passed (${DEADLINE_REASON})`))) return { kind: 'wait' }
      ctx.logger.info('run deadline exceeded', { runId: run.id })
      return { kind: 'wait', wait: now.getTime() } // a pass on the stored rows follows
    }
    wait = deadline
    const ev = evaluateDag(dag, states, excusedSkipped(view))
    await applySkips(ctx, view, ev, nowIso)
    if (!ev.finished) return { kind: 'steps', steps: dag, ev, ...(wait !== undefined ? { wait } : {}) }
    const outcome = ev.outcome ?? 'failed'
    if (fin.length === 0) return { kind: 'finish', state: outcome }
    end = { status: dagStatusOf(outcome) }
    // Stored before any finally step starts: workflow.status must not change under them, nor after a restart.
    if (!(await ctx.store.updateRun(run.id, { reason: encodeDagEnd(end) }, ['pending', 'running', 'suspended']))) return { kind: 'wait' }
    run.reason = encodeDagEnd(end)
  }

  // The DAG is over: its last attempts (killed by a stop or the deadline) end first.
  const dagNames = new Set(dag.map((s) => s.name))
  const dagRows = rowsOf(view, dagNames)
  const busy = dagRows.filter((a) => inFlight(a) || a.state === 'running' || a.state === 'pending' || a.state === 'waiting')
  if (busy.length > 0) {
    if (end.detail !== undefined && !deps.killed.has(run.id)) {
      // Told before a restart, perhaps never done: tell them again (kill and cancel are idempotent).
      deps.killed.add(run.id)
      await deps.killSteps(run.id, dagNames, end.detail)
      await cancelPending(ctx, busy, dagNames, end.status === 'Killed' ? 'Killed' : DEADLINE_REASON, end.detail)
    }
    return { kind: 'wait' }
  }
  if (fin.length === 0) return { kind: 'finish', ...finalState(end, undefined) }

  const finNames = new Set(fin.map((s) => s.name))
  const finDeadline = finallyDeadline(scope.workflow, run, dagRows)
  let timedOut = false
  if (now.getTime() >= finDeadline) {
    timedOut = true
    await deps.killSteps(run.id, finNames, `finallyTimeout passed (${DEADLINE_REASON})`)
    await cancelPending(ctx, rowsOf(view, finNames), finNames, DEADLINE_REASON, `finallyTimeout passed before the step started`)
    if (rowsOf(view, finNames).some(inFlight)) return { kind: 'wait' }
  } else wait = finDeadline
  const ev = evaluateDag(fin, states, excusedSkipped(view))
  await applySkips(ctx, view, ev, nowIso)
  if (ev.finished || timedOut) {
    const problem = timedOut ? `finallyTimeout passed (${DEADLINE_REASON})` : finallyProblemOf(rowsOf(view, finNames).filter((a) => a.parent === undefined))
    return { kind: 'finish', ...finalState(end, timedOut ? 'failed' : ev.outcome, problem) }
  }
  return { kind: 'steps', steps: fin, ev, wait }
}

/**
 * A run stopped outright (`stop --force`, or the system's cancel): its pending rows are cancelled, a fanned
 * step's own row ends with its (killed) instances, and attempts nobody here follows are killed and closed.
 */
export async function closeStoppedRows(
  ctx: EngineContext,
  all: readonly StepRunRecord[],
  reason: string,
  now: string,
  followed: (stepRunId: string) => boolean,
  started: boolean,
): Promise<void> {
  const { store } = ctx
  const fanned = new Set(all.flatMap((a) => (a.parent !== undefined ? [a.parent] : [])))
  for (const a of latestAttempts(all).values()) {
    if (a.state === 'running' && fanned.has(a.step) && a.parent === undefined) {
      // A fanned step's own row: its instances are killed above; it ends with them.
      await store.updateStepRun(a.id, { state: 'cancelled', reason: 'Killed', message: reason, finishedAt: now }, ['running'])
    } else if (a.state === 'pending' || a.state === 'waiting') {
      await store.updateStepRun(a.id, { state: 'cancelled', reason: 'Killed', message: reason, finishedAt: now }, ['pending', 'waiting'])
    } else if (a.state === 'running' && !followed(a.id)) {
      // Nobody here follows it (engine not started): kill it and close it ourselves.
      if (isRuntimeHandle(a.runtimeHandle)) await ctx.runtime.kill(a.runtimeHandle, reason).catch(() => {})
      if (!started) await store.updateStepRun(a.id, { state: 'cancelled', reason: 'Killed', message: reason, finishedAt: now }, ['running'])
    }
  }
}
