// Conditions and fan-out applied to the store: a ready step's `when` decides
// whether it runs, a fanned-out step expands into its instances, and a fanned
// step's own row follows the state its instances add up to. The rules are in
// fanout-run.ts; the scheduler calls these from its pass over a run.

import { CtlError } from '../errors.js'
import type { StepModel } from '../manifest/model.js'
import type { StepRunRecord } from '../store/types.js'
import type { EngineContext, RunScope } from './context.js'
import {
  CONDITION_SKIP_REASON,
  decideCondition,
  emptyFanoutMessage,
  expandInstances,
  EXPR_ERROR_REASON,
  failFastVictims,
  instancesSummary,
  isFanned,
  parentStateOf,
  runVars,
  type Evaluators,
  type RunView,
} from './fanout-run.js'

/** Stored as the reason of an instance failFast cancelled before it started. */
export const FAIL_FAST_REASON = 'FailFast'

/**
 * A ready step (every dependency succeeded) is opened: its condition is evaluated, and a
 * fanned step expands into instances. `start` when the step itself is to start now (a plain
 * step whose condition holds); `changed` when its row changed instead (skipped, failed,
 * expanded, or done with no instances), so the run needs another pass.
 */
export async function openStep(
  ctx: EngineContext,
  ev: Evaluators,
  scope: RunScope,
  view: RunView,
  step: StepModel,
  row: StepRunRecord,
): Promise<'start' | 'changed'> {
  const { store } = ctx
  const runId = scope.run.id
  const now = ctx.now().toISOString()
  const fail = async (reason: string, message: string) => {
    message = ctx.redact(runId, message)
    const ok = await store.updateStepRun(row.id, { state: 'failed', reason, message, startedAt: now, finishedAt: now }, ['pending'])
    // Like an attempt that could not start: the reason goes to the step's log too, where users look.
    if (ok) await store.appendLogs(row.id, [{ time: now, stream: 'system', text: `${reason}: ${message}` }], row.logOffset)
  }
  const vars = runVars(scope.run, scope.workflow, view, step.name)
  const decision = decideCondition(step, vars, ev)
  if (!decision.run) {
    if ('skip' in decision) {
      await store.updateStepRun(row.id, { state: 'skipped', reason: CONDITION_SKIP_REASON, message: ctx.redact(runId, decision.skip), finishedAt: now }, ['pending'])
    } else await fail(EXPR_ERROR_REASON, decision.error)
    return 'changed'
  }
  if (!isFanned(step)) return 'start'

  let instances
  try {
    instances = expandInstances(step, vars, ev, ev.maxForEachItems)
  } catch (err) {
    const code = err instanceof CtlError ? err.code : undefined
    await fail(code === 'E_LIMIT' ? 'FanoutLimit' : EXPR_ERROR_REASON, `${step.forEach ? 'forEach.items' : 'matrix'}: ${(err as Error).message}`)
    return 'changed'
  }
  if (instances.length === 0) {
    await store.updateStepRun(row.id, { state: 'succeeded', reason: 'NoInstances', message: emptyFanoutMessage(step), startedAt: now, finishedAt: now }, ['pending'])
    return 'changed'
  }
  // Instances `runtime retry` kept exist already (so do all, after a crash right here): only the others are made.
  const existing = new Set((view.instances.get(step.name) ?? []).map((i) => i.step))
  const fresh = instances.filter((i) => !existing.has(i.step))
  if (fresh.length > 0) await store.createStepInstances(runId, step.name, fresh)
  await store.updateStepRun(row.id, { state: 'running', startedAt: now, message: `${instances.length} instance${instances.length === 1 ? '' : 's'}` }, ['pending'])
  return 'changed'
}

/**
 * For each expanded fanned step: failFast cancels the instances not yet started once one
 * failed for good (retries were decided before), and the step's row takes the state its
 * instances add up to once they are all over. Updates `view` to what it stored.
 */
export async function settleFanouts(
  ctx: EngineContext,
  dag: readonly StepModel[],
  view: RunView,
  inFlight: (a: StepRunRecord) => boolean,
): Promise<void> {
  const { store } = ctx
  const now = ctx.now().toISOString()
  for (const step of dag) {
    if (!isFanned(step)) continue
    const row = view.steps.get(step.name)
    if (!row || row.state !== 'running') continue
    const instances = view.instances.get(step.name) ?? []
    const failed = instances.find((a) => a.state === 'failed')
    for (const victim of failFastVictims(step, instances)) {
      if (inFlight(victim)) continue
      const patch = { state: 'cancelled' as const, reason: FAIL_FAST_REASON, message: `not started: instance ${failed?.step ?? '?'} failed (failFast)`, finishedAt: now }
      if (await store.updateStepRun(victim.id, patch, ['pending'])) instances[instances.indexOf(victim)] = { ...victim, ...patch }
    }
    const state = parentStateOf(instances.map((a) => (inFlight(a) ? { state: 'running' as const } : a)))
    if (state === 'running') continue
    const patch = { state, message: instancesSummary(instances), finishedAt: now }
    if (await store.updateStepRun(row.id, patch, ['running'])) view.steps.set(step.name, { ...row, ...patch })
  }
}
