// Two phases of the scheduler's pass over one run, kept apart from the loop's
// bookkeeping: deciding retries of failed attempts, and opening the steps the
// DAG found ready (their condition, their fan-out). Both touch the store only
// through the rules of retry.ts, fanout-run.ts and fanout-apply.ts.

import { CtlError } from '../errors.js'
import type { StepModel } from '../manifest/model.js'
import type { StepRunRecord } from '../store/types.js'
import type { EngineContext, RunScope } from './context.js'
import { gateApproval } from './approvals.js'
import { openStep } from './fanout-apply.js'
import { isFanned, type Evaluators, type RunView } from './fanout-run.js'
import { nextAttemptAt } from './retry.js'

/**
 * Retries first, so a failed attempt with a retry left never skips its dependents. An instance
 * retries by its step's `retry`; a fanned step's own row never does (its instances do). Updates
 * `latest` with the attempts it creates.
 */
export async function scheduleRetries(
  ctx: EngineContext,
  runId: string,
  byName: ReadonlyMap<string, StepModel>,
  attempts: readonly StepRunRecord[],
  latest: Map<string, StepRunRecord>,
  now: Date,
): Promise<void> {
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
      latest.set(a.step, await ctx.store.createStepAttempt(runId, a.step, a.attempt + 1, at.toISOString()))
    } catch (err) {
      if (!(err instanceof CtlError && err.code === 'E_CONFLICT')) throw err
    }
  }
}

/**
 * THE SEAM where a ready step is opened. `ready` are the pending steps the DAG rules (dag.ts)
 * let go; for each, this decides whether it starts now. Today: a plain step without `when`
 * starts; otherwise openStep evaluates its condition (`start`, or its row changed: skipped,
 * failed, expanded into instances). A new gate before a step starts (e.g. a step that must wait
 * in another state) belongs here, next to openStep: return it out of `start` and report `changed`
 * when its row changed so the scheduler passes over the run again.
 *
 * `passed` remembers (by row id) the steps whose condition already held, so a step waiting for a
 * slot is not evaluated on every pass. Returns the plain steps to start and whether any row changed.
 */
export async function openReadySteps(
  ctx: EngineContext,
  evaluators: Evaluators,
  scope: RunScope,
  view: RunView,
  ready: readonly string[],
  byName: ReadonlyMap<string, StepModel>,
  passed: Set<string>,
): Promise<{ readyPlain: Set<string>; changed: boolean }> {
  const readyPlain = new Set<string>()
  let changed = false
  for (const name of ready) {
    const step = byName.get(name)
    const row = view.steps.get(name)
    if (!step || !row) continue
    // Approval (approvals.ts): a required one sends the row to `waiting` instead of starting it.
    if (step.approval && (await gateApproval(ctx, evaluators, scope, view, step, row)) === 'wait') {
      changed = true
      continue
    }
    if ((step.when === undefined && !isFanned(step)) || passed.has(row.id)) {
      readyPlain.add(name)
      continue
    }
    if ((await openStep(ctx, evaluators, scope, view, step, row)) === 'start') {
      passed.add(row.id)
      readyPlain.add(name)
    } else changed = true
  }
  return { readyPlain, changed }
}
