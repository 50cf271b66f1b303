// The DAG state machine, pure: from the steps of a workflow and the state of
// each step's latest attempt, say what may start, what must be skipped and how
// the run ends. The scheduler owns time, limits and I/O; this file owns only
// the rules, so they can be tested exhaustively without processes or a store.

import type { StepState } from '../store/types.js'
import { dagOutcome, decideRule, effectiveState, type RuleStep, type RunOutcome } from './rules.js'

/** A step as the rules see it: its dependencies and, optionally, its trigger rule (rules.ts). */
export type DagStep = RuleStep

/** A step the evaluation decided to skip, and why (stored as the step's message); `excused`: its trigger rule said so (no failure). */
export interface SkipDecision {
  step: string
  reason: string
  excused?: boolean
}

export type { RunOutcome }

export interface DagEvaluation {
  /** Pending steps whose trigger rule lets them run (by default: every dependency succeeded), in manifest order. */
  ready: string[]
  /** Pending steps that can never run: their rule says skip (by default: a dependency failed, was skipped or cancelled), or a dependency is unknown / in a cycle. */
  skip: SkipDecision[]
  /** Steps currently running. */
  running: string[]
  /** True when no step is pending or running once `skip` is applied. */
  finished: boolean
  /** Set when finished. */
  outcome?: RunOutcome
}

const TERMINAL: ReadonlySet<StepState> = new Set<StepState>(['succeeded', 'failed', 'skipped', 'cancelled'])

export function isTerminalStepState(state: StepState): boolean {
  return TERMINAL.has(state)
}

/**
 * Evaluates the run. `states` maps a step name to the state of its latest attempt;
 * a step without an entry counts as pending. `conditionSkipped` names the steps a false
 * `when` or their trigger rule skipped: those, and the steps skipped only because of them, do
 * not fail the run (rules.ts dagOutcome).
 */
export function evaluateDag(
  steps: readonly DagStep[],
  states: ReadonlyMap<string, StepState>,
  conditionSkipped: ReadonlySet<string> = NONE,
): DagEvaluation {
  const byName = new Map(steps.map((s) => [s.name, s]))
  // Working copy: skips decided here feed later steps in the same pass (transitive skipping).
  const current = new Map<string, StepState>()
  for (const step of steps) current.set(step.name, states.get(step.name) ?? 'pending')

  const skip: SkipDecision[] = []
  // Iterate to a fixed point: manifest order need not be topological. The pass that skipped nothing decided every
  // pending step against the final states: its ready steps are the ready ones.
  const readyNow = new Set<string>()
  let changed = true
  while (changed) {
    changed = false
    readyNow.clear()
    for (const step of steps) {
      if (current.get(step.name) !== 'pending') continue
      const d = decide(step, current, byName)
      if (d.kind === 'skip') {
        current.set(step.name, 'skipped')
        skip.push(d.excused ? { step: step.name, reason: d.reason, excused: true } : { step: step.name, reason: d.reason })
        changed = true
      } else if (d.kind === 'ready') readyNow.add(step.name)
    }
  }

  const ready: string[] = []
  const running: string[] = []
  let waiting = false
  for (const step of steps) {
    const state = current.get(step.name)
    if (state === 'running') running.push(step.name)
    else if (state === 'waiting') waiting = true
    else if (state === 'pending' && readyNow.has(step.name)) ready.push(step.name)
  }

  // A cycle leaves pending steps that can never become ready while nothing runs:
  // skip them rather than let the run hang forever. A step waiting for approval will end: no cycle.
  if (ready.length === 0 && running.length === 0 && !waiting) {
    for (const step of steps) {
      if (current.get(step.name) !== 'pending') continue
      current.set(step.name, 'skipped')
      skip.push({ step: step.name, reason: 'dependency cycle: the step can never become ready' })
    }
  }

  const finished = [...current.values()].every((s) => TERMINAL.has(s))
  if (!finished) return { ready, skip, running, finished }
  const excused = new Set([...conditionSkipped, ...skip.filter((s) => s.excused).map((s) => s.step)])
  return { ready, skip, running, finished, outcome: dagOutcome(steps, current, excused) }
}

const NONE: ReadonlySet<string> = new Set()

/**
 * The skipped steps that are no failure: those a false condition skipped, and (transitively)
 * those skipped because a dependency was. A least fixed point from the condition skips, so a
 * step skipped for a cycle or an unknown dependency is never excused.
 */
export function excusedSkips(steps: readonly DagStep[], states: ReadonlyMap<string, StepState>, conditionSkipped: ReadonlySet<string>): Set<string> {
  const excused = new Set([...conditionSkipped].filter((name) => states.get(name) === 'skipped'))
  if (excused.size === 0) return excused
  let changed = true
  while (changed) {
    changed = false
    for (const step of steps) {
      if (excused.has(step.name) || states.get(step.name) !== 'skipped') continue
      if (step.depends.some((d) => excused.has(d))) {
        excused.add(step.name)
        changed = true
      }
    }
  }
  return excused
}

function decide(step: DagStep, current: ReadonlyMap<string, StepState>, byName: ReadonlyMap<string, DagStep>): ReturnType<typeof decideRule> {
  const unknown = step.depends.find((d) => !byName.has(d))
  if (unknown !== undefined) return { kind: 'skip', reason: `unknown dependency "${unknown}"`, excused: false }
  return decideRule(step.runIf, step.depends.map((d) => ({ name: d, state: effectiveState(byName.get(d), current.get(d) ?? 'pending') })))
}

/**
 * How a finished run ends: `failed` if any step failed; otherwise `cancelled` if any step
 * was cancelled; `succeeded` when every step succeeded. The caller leaves out the skips a
 * false condition explains (excusedSkips): those are a run going as written. Any other skip
 * without a failed or cancelled cause (e.g. a cycle) ends `failed`.
 */
export function outcomeOf(states: Iterable<StepState>): RunOutcome {
  let failed = false
  let cancelled = false
  let skipped = false
  for (const s of states) {
    if (s === 'failed') failed = true
    else if (s === 'cancelled') cancelled = true
    else if (s === 'skipped') skipped = true
  }
  if (failed) return 'failed'
  if (cancelled) return 'cancelled'
  if (skipped) return 'failed'
  return 'succeeded'
}

/**
 * How many of `ready` may start now: bounded by the workflow's parallelism (counting the
 * run's running steps) and by the free slots of the whole server.
 */
export function startable(ready: readonly string[], runningInRun: number, parallelism: number | undefined, freeSlots: number): string[] {
  const perRun = parallelism === undefined || parallelism <= 0 ? Infinity : Math.max(0, parallelism - runningInRun)
  const n = Math.max(0, Math.min(ready.length, perRun, freeSlots))
  return ready.slice(0, n)
}

/**
 * Which steps `retryRun` must run again: the failed, skipped and cancelled ones, plus
 * (transitively) anything depending on them, since their inputs change. Succeeded steps
 * that nothing re-run depends on are kept, and so are the skips a false condition explains
 * (`excused`, see excusedSkips): their condition is evaluated again only when an input reruns.
 */
export function stepsToRerun(steps: readonly DagStep[], states: ReadonlyMap<string, StepState>, excused: ReadonlySet<string> = NONE): Set<string> {
  const rerun = new Set<string>()
  for (const step of steps) {
    const s = states.get(step.name) ?? 'pending'
    if (s !== 'succeeded' && !excused.has(step.name)) rerun.add(step.name)
  }
  let changed = true
  while (changed) {
    changed = false
    for (const step of steps) {
      if (rerun.has(step.name)) continue
      if (step.depends.some((d) => rerun.has(d))) {
        rerun.add(step.name)
        changed = true
      }
    }
  }
  return rerun
}

/**
 * The progress of a run, each end counted on its own (a skipped step is no success):
 * `1 succeeded, 1 failed, 1 skipped of 3 steps`, plus running and cancelled steps when there are any.
 */
export function progressOf(states: Iterable<StepState>, total: number): string {
  const n: Record<StepState, number> = { pending: 0, waiting: 0, running: 0, succeeded: 0, failed: 0, skipped: 0, cancelled: 0 }
  for (const s of states) n[s]++
  const parts = [`${n.succeeded} succeeded`, `${n.failed} failed`, `${n.skipped} skipped`]
  if (n.cancelled) parts.push(`${n.cancelled} cancelled`)
  if (n.running) parts.push(`${n.running} running`)
  if (n.waiting) parts.push(`${n.waiting} waiting`)
  return `${parts.join(', ')} of ${total} step${total === 1 ? '' : 's'}`
}
