// Skips and partial runs (`runtime run --skip STEP` / `--only STEP`), pure: which steps of a run
// are left out on request, and the skips that are no failure. A step left out is stored
// `skipped` before the run starts; its dependents then follow the normal rules (skipped), and
// like a false condition's skip, none of them fails the run (skip-reasons.ts, dag.ts excusedSkips).

import { CtlError } from '../errors.js'
import { MAX_STEP_SELECTION } from '../manifest/limits.js'
import type { StepModel } from '../manifest/model.js'
import type { DagStep } from './dag.js'
import { NOT_SELECTED_REASON, SKIP_ON_REQUEST_REASON } from './skip-reasons.js'

export const SKIP_MESSAGE = 'skipped on request (--skip)'
export const NOT_SELECTED_MESSAGE = 'not selected (--only)'

/** What a run request asks to leave out. */
export interface StepSelection {
  skip?: readonly string[]
  only?: readonly string[]
}

/** Step name → the reason and message it is skipped with. */
export type LeftOut = Map<string, { reason: string; message: string }>

/**
 * Checks a selection against the workflow's steps and says which steps are left out: the `skip`
 * ones, and with `only` every step that is neither named nor an ancestor of a named one. Throws
 * CtlError E_PARAMS (422) naming the unknown steps, E_LIMIT over MAX_STEP_SELECTION names.
 */
export function leftOut(steps: readonly (DagStep & Pick<StepModel, 'approval'>)[], selection: StepSelection | undefined): LeftOut {
  const out: LeftOut = new Map()
  const skip = selection?.skip ?? []
  const only = selection?.only ?? []
  if (skip.length === 0 && only.length === 0) return out
  for (const [flag, names] of [['skip', skip], ['only', only]] as const) {
    if (names.length > MAX_STEP_SELECTION) {
      throw new CtlError('E_LIMIT', `--${flag} names ${names.length} steps; at most ${MAX_STEP_SELECTION} are allowed`, { field: flag, count: names.length, max: MAX_STEP_SELECTION })
    }
  }
  const byName = new Map(steps.map((s) => [s.name, s]))
  const unknown = [...new Set([...skip, ...only])].filter((n) => !byName.has(n))
  if (unknown.length > 0) {
    const list = unknown.map((n) => `"${n}"`).join(', ')
    throw new CtlError('E_PARAMS', `unknown step${unknown.length === 1 ? '' : 's'} ${list}: the workflow's steps are ${steps.map((s) => s.name).join(', ')}`, { steps: unknown })
  }
  if (only.length > 0) {
    // Those steps and everything they (transitively) depend on.
    const selected = new Set<string>()
    const stack = [...only]
    while (stack.length > 0) {
      const name = stack.pop()!
      if (selected.has(name)) continue
      selected.add(name)
      for (const d of byName.get(name)?.depends ?? []) if (byName.has(d)) stack.push(d)
    }
    for (const s of steps) if (!selected.has(s.name)) out.set(s.name, { reason: NOT_SELECTED_REASON, message: NOT_SELECTED_MESSAGE })
  }
  // --skip wins over --only: a step both selected and skipped is skipped on request.
  for (const name of skip) out.set(name, { reason: SKIP_ON_REQUEST_REASON, message: SKIP_MESSAGE })
  // A step that asks a person for approval is that person's to decide, not the caller's to leave out: its dependents
  // (runIf allDone, noneFailed) would otherwise run without the approval.
  const gated = [...out.keys()].filter((name) => byName.get(name)?.approval !== undefined)
  if (gated.length > 0) {
    const list = gated.map((n) => `"${n}"`).join(', ')
    throw new CtlError('E_PARAMS', `step${gated.length === 1 ? '' : 's'} ${list} ask${gated.length === 1 ? 's' : ''} for an approval: it cannot be left out with --skip or --only; an approver rejects it instead`, { steps: gated })
  }
  return out
}
