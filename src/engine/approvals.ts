// Approval steps (issue 12 item 4). A ready step with `approval:` that is required goes to
// `waiting` instead of starting; a person approves (the step row goes back to `pending`,
// marked approved, and starts like any ready step) or rejects (it fails, its dependents follow
// the normal rules); past its deadline it is rejected as timed out. Every transition is a
// compare-and-set on the step row, and the request and decision live on it (`approval`), so a
// restart of the control plane loses no decision and starts nothing twice.
//
// The scheduler calls gateApproval where it opens a ready step, and expireApprovals once per pass.

import { CtlError } from '../errors.js'
import { formatDuration } from '../duration.js'
import type { ParamSpec, StepModel } from '../manifest/model.js'
import { secretParamValues } from '../manifest/params.js'
import { redactValues } from '../secrets/redact.js'
import { renderValuesText } from '../stack/values.js'
import type { ApprovalRecord, StepRunRecord } from '../store/types.js'
import type { EngineContext, RunScope } from './context.js'
import { APPROVAL_ERROR_REASON, APPROVAL_TIMEOUT_REASON, REJECTED_REASON } from './retry.js'
import { decideCondition, launchValues, runVars, type Evaluators, type RunVars, type RunView } from './fanout-run.js'


export type ApprovalDecision = 'approve' | 'reject'

/**
 * Whether this ready row must wait for a person: the step has `approval`, its `when` holds (a false one skips it
 * first, without asking anybody), no decision was made yet, and `required` says so. Retries of an approved step
 * are not asked again (the decision is carried to each new attempt). Throws on an expression error (the caller fails the step).
 */
export function needsApproval(step: Pick<StepModel, 'approval' | 'when'>, row: Pick<StepRunRecord, 'attempt' | 'approval'>, vars: RunVars, ev: Evaluators): boolean {
  const spec = step.approval
  if (!spec || row.approval?.decision === 'approved') return false
  if (!decideCondition(step, vars, ev).run) return false
  if (typeof spec.required === 'boolean') return spec.required
  try {
    return ev.condition(spec.required, vars)
  } catch (err) {
    throw new CtlError('E_EXPR', `approval.required: ${(err as Error).message}`)
  }
}

/** The request stored on the row when it starts waiting: rendered message, approvers, deadline. */
export function approvalRequest(step: StepModel, vars: RunVars, now: Date, declared: readonly ParamSpec[] | undefined): ApprovalRecord {
  const spec = step.approval!
  const record: ApprovalRecord = { approvers: [...spec.approvers], requestedAt: now.toISOString() }
  if (spec.timeoutMs !== undefined) record.deadline = new Date(now.getTime() + spec.timeoutMs).toISOString()
  if (spec.message !== undefined) {
    const text = renderValuesText(spec.message, launchValues(vars, undefined), { code: 'E_STACK_TEMPLATE', what: `step "${step.name}" approval.message` })
    // Params declared `secret: true` never show in the request, whoever reads the run.
    record.message = redactValues(text, secretParamValues(declared, vars.params))
  }
  return record
}

/** `Rejected by alice: not before Monday` (the step's message; the comment is optional). */
export function rejectionMessage(by: string, comment: string | undefined): string {
  return comment ? `Rejected by ${by}: ${comment}` : `Rejected by ${by}`
}

/** `Rejected: timed out after 24h waiting for approval`. */
export function timeoutMessage(record: ApprovalRecord): string {
  const waited = record.deadline ? Date.parse(record.deadline) - Date.parse(record.requestedAt) : NaN
  return `Rejected: timed out${Number.isFinite(waited) ? ` after ${formatDuration(waited)}` : ''} waiting for approval`
}

/**
 * The seam in the scheduler's opening of a ready step: `wait` when the row now waits for a person (or failed on a
 * bad condition or message: either way the run needs another pass), `open` when the step goes on as usual.
 */
export async function gateApproval(ctx: EngineContext, ev: Evaluators, scope: RunScope, view: RunView, step: StepModel, row: StepRunRecord): Promise<'wait' | 'open'> {
  if (!step.approval || row.approval !== undefined) return 'open'
  const runId = scope.run.id
  // A retry of an approved attempt goes on; any other later attempt is asked for like the first (a decision's
  // end is never retried: see NEVER_RETRIED in retry.ts).
  if (row.attempt > 1) {
    const first = (await ctx.store.listStepRuns(runId)).find((a) => a.step === row.step && a.attempt === 1)
    if (first?.approval?.decision === 'approved') return 'open'
  }
  const now = ctx.now()
  const vars = runVars(scope.run, scope.workflow, view, step.name)
  let request: ApprovalRecord
  try {
    if (!needsApproval(step, row, vars, ev)) return 'open'
    request = approvalRequest(step, vars, now, scope.workflow.workflow.params)
  } catch (err) {
    const message = ctx.redact(runId, (err as Error).message)
    const at = now.toISOString()
    const ok = await ctx.store.updateStepRun(row.id, { state: 'failed', reason: APPROVAL_ERROR_REASON, message, startedAt: at, finishedAt: at }, ['pending'])
    if (ok) await ctx.store.appendLogs(row.id, [{ time: at, stream: 'system', text: `${APPROVAL_ERROR_REASON}: ${message}` }], row.logOffset)
    return 'wait'
  }
  if (request.message !== undefined) request.message = ctx.redact(runId, request.message)
  const ok = await ctx.store.updateStepRun(row.id, { state: 'waiting', approval: request, message: request.message ?? 'waiting for approval' }, ['pending'])
  if (ok) {
    // The run has begun even though nothing runs yet: it is `running` while the step waits.
    await ctx.store.updateRun(runId, { state: 'running', startedAt: now.toISOString() }, ['pending'])
    ctx.logger.info('step waits for approval', { runId, step: step.name })
  }
  return 'wait'
}

/**
 * Rejects the waiting rows of the run whose deadline has passed (updating `view`); returns the earliest deadline
 * still ahead (ms), for the scheduler's timer, and whether any row waits at all.
 */
export async function expireApprovals(ctx: EngineContext, view: RunView, nowMs: number): Promise<{ waiting: boolean; wait?: number }> {
  let wait: number | undefined
  let waiting = false
  for (const [name, row] of view.steps) {
    if (row.state !== 'waiting') continue
    const deadline = row.approval?.deadline === undefined ? undefined : Date.parse(row.approval.deadline)
    if (deadline === undefined || deadline > nowMs) {
      waiting = true
      if (deadline !== undefined && (wait === undefined || deadline < wait)) wait = deadline
      continue
    }
    const at = new Date(nowMs).toISOString()
    const approval: ApprovalRecord = { ...row.approval!, decision: 'timeout', decidedAt: at }
    const patch = { state: 'failed' as const, reason: APPROVAL_TIMEOUT_REASON, message: timeoutMessage(row.approval!), finishedAt: at, approval }
    if (await ctx.store.updateStepRun(row.id, patch, ['waiting'])) view.steps.set(name, { ...row, ...patch })
    else waiting = true
  }
  return wait === undefined ? { waiting } : { waiting, wait }
}

/**
 * Records a person's decision on a waiting row: approve → `pending`, marked approved (the scheduler starts it);
 * reject → `failed` with `Rejected by USER: COMMENT`. E_CONFLICT when the row no longer waits (decided, timed
 * out, or its run was stopped meanwhile).
 */
export async function recordDecision(ctx: EngineContext, row: StepRunRecord, decision: ApprovalDecision, by: string, comment: string | undefined): Promise<StepRunRecord> {
  const at = ctx.now().toISOString()
  const approval: ApprovalRecord = {
    ...(row.approval ?? { approvers: [], requestedAt: row.createdAt }),
    decision: decision === 'approve' ? 'approved' : 'rejected',
    by,
    decidedAt: at,
    ...(comment ? { comment: ctx.redact(row.runId, comment) } : {}),
  }
  const patch =
    decision === 'approve'
      ? { state: 'pending' as const, approval, message: `approved by ${by}${approval.comment ? `: ${approval.comment}` : ''}` }
      : { state: 'failed' as const, approval, reason: REJECTED_REASON, message: rejectionMessage(by, approval.comment), startedAt: at, finishedAt: at }
  if (!(await ctx.store.updateStepRun(row.id, patch, ['waiting']))) {
    const now = await ctx.store.getStepRun(row.id)
    throw new CtlError('E_CONFLICT', `step "${row.step}" of run ${row.runId} no longer waits for approval (it is ${now?.state ?? 'gone'})`)
  }
  ctx.logger.info(decision === 'approve' ? 'step approved' : 'step rejected', { runId: row.runId, step: row.step, by })
  return (await ctx.store.getStepRun(row.id)) ?? { ...row, ...patch }
}
