// Trigger rules and the run's outcome, pure (issue 12): when a step may run from
// its dependencies' ends (`runIf`), what an allowed failure counts as
// (`allowFailure`), and how a finished DAG ends (Argo's rule: failed when any
// step failed that was not allowed to and whose failure no successful
// `handles:` step took care of). dag.ts applies these over the whole DAG.

import type { StepState } from '../store/types.js'

import type { TriggerRule } from '../manifest/model.js'
export type { TriggerRule }

export interface RuleStep {
  name: string
  depends: readonly string[]
  runIf?: TriggerRule
  allowFailure?: boolean
  handles?: readonly string[]
}

/** Stored as the reason of a step its trigger rule skipped (e.g. a fallback when nothing failed): no failure. */
export const RULE_SKIP_REASON = 'TriggerRule'

const TERMINAL: ReadonlySet<StepState> = new Set<StepState>(['succeeded', 'failed', 'skipped', 'cancelled'])

/**
 * The state a dependency counts as for its dependents: an allowed failure counts as done well
 * (`succeeded`), so it neither skips an `allSucceeded` step nor triggers an `anyFailed` one.
 */
export function effectiveState(step: Pick<RuleStep, 'allowFailure'> | undefined, state: StepState): StepState {
  return state === 'failed' && step?.allowFailure === true ? 'succeeded' : state
}

/**
 * What a pending step's rule says given its dependencies' (effective) states: wait, run, or skip.
 * `excused` skips are the run going as written (a fallback with nothing to fall back from); the
 * others are caused by a dependency's end, which the outcome counts on its own.
 */
export type RuleDecision = { kind: 'wait' } | { kind: 'ready' } | { kind: 'skip'; reason: string; excused: boolean }

export function decideRule(rule: TriggerRule | undefined, deps: readonly { name: string; state: StepState }[]): RuleDecision {
  const all = deps.every((d) => TERMINAL.has(d.state))
  switch (rule ?? 'allSucceeded') {
    case 'allSucceeded': {
      const bad = deps.find((d) => d.state === 'failed' || d.state === 'skipped' || d.state === 'cancelled')
      if (bad) return { kind: 'skip', reason: `dependency "${bad.name}" ${bad.state}`, excused: false }
      return deps.every((d) => d.state === 'succeeded') ? { kind: 'ready' } : { kind: 'wait' }
    }
    case 'noneFailed': {
      const bad = deps.find((d) => d.state === 'failed' || d.state === 'cancelled')
      if (bad) return { kind: 'skip', reason: `dependency "${bad.name}" ${bad.state} (runIf: noneFailed)`, excused: false }
      return all ? { kind: 'ready' } : { kind: 'wait' }
    }
    case 'allDone':
      return all ? { kind: 'ready' } : { kind: 'wait' }
    case 'anyFailed':
      if (!all) return { kind: 'wait' }
      return deps.some((d) => d.state === 'failed')
        ? { kind: 'ready' }
        : { kind: 'skip', reason: 'runIf: anyFailed: no dependency failed', excused: true }
  }
}

/** The failed steps whose failure a succeeded `runIf: anyFailed` step handles (`handles: [STEP]`). */
export function handledFailures(steps: readonly RuleStep[], states: ReadonlyMap<string, StepState>): Set<string> {
  const out = new Set<string>()
  for (const h of steps) {
    if (h.runIf !== 'anyFailed' || !h.handles || states.get(h.name) !== 'succeeded') continue
    for (const name of h.handles) if (states.get(name) === 'failed') out.add(name)
  }
  return out
}

export type RunOutcome = 'succeeded' | 'failed' | 'cancelled'

/**
 * How a finished DAG ends. `failed` when a step failed that was neither allowed to fail nor
 * handled; else `cancelled` when a step was cancelled; else `failed` when a step was skipped
 * with no explanation (a cycle, an unknown dependency); else `succeeded`. A skip is explained by
 * `excused` (a false condition, a trigger rule) or by a dependency that failed, was cancelled or
 * was itself skipped with an explanation: a least fixed point, so a cycle explains nothing.
 */
export function dagOutcome(steps: readonly RuleStep[], states: ReadonlyMap<string, StepState>, excused: ReadonlySet<string>): RunOutcome {
  const byName = new Map(steps.map((s) => [s.name, s]))
  const handled = handledFailures(steps, states)
  const stateOf = (name: string) => states.get(name) ?? 'pending'
  if (steps.some((s) => stateOf(s.name) === 'failed' && !s.allowFailure && !handled.has(s.name))) return 'failed'
  if (steps.some((s) => stateOf(s.name) === 'cancelled')) return 'cancelled'
  const explained = new Set([...excused].filter((n) => stateOf(n) === 'skipped'))
  let changed = true
  while (changed) {
    changed = false
    for (const s of steps) {
      if (explained.has(s.name) || stateOf(s.name) !== 'skipped') continue
      const cause = s.depends.some((d) => byName.has(d) && (stateOf(d) === 'failed' || stateOf(d) === 'cancelled' || explained.has(d)))
      if (cause) {
        explained.add(s.name)
        changed = true
      }
    }
  }
  if (steps.some((s) => stateOf(s.name) === 'skipped' && !explained.has(s.name))) return 'failed'
  return 'succeeded'
}
