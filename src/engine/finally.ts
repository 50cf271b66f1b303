// The end of a run (issue 12): `spec.finally` steps after the DAG, the workflow's
// `timeout` and `runtime stop` without --force. Once the DAG is over (it ended, was
// stopped, or its deadline passed) its status is stored on the still active run
// as its reason (`DAG Failed: DeadlineExceeded`): the finally steps read it as
// workflow.status, a restarted control plane reads it back, and the run's final
// state is decided from it and the finally steps' ends. Nothing here is kept
// only in memory: deadlines are counted from stored times.

import type { StepModel, WorkflowResource } from '../manifest/model.js'
import type { RunRecord, RunState, StepRunRecord, Store } from '../store/types.js'
import type { EngineContext } from './context.js'
import type { RunOutcome } from './rules.js'
import { storedRevision } from './revisions.js'

/** How the DAG ended, as `workflow.status` says it (Argo's spelling). */
export type DagStatus = 'Succeeded' | 'Failed' | 'Killed' | 'Cancelled'

export interface DagEnd {
  status: DagStatus
  /** Why, when more than the status: `DeadlineExceeded`, `killed by alice`. */
  detail?: string
}

/** Default of `spec.finallyTimeout`. */
export const FINALLY_TIMEOUT_DEFAULT_SECONDS = 300
/** The reason of a run whose `spec.timeout` passed (and of the steps it stopped). */
export const DEADLINE_REASON = 'DeadlineExceeded'

const PREFIX = 'DAG '
const STATUSES: readonly DagStatus[] = ['Succeeded', 'Failed', 'Killed', 'Cancelled']

export function encodeDagEnd(end: DagEnd): string {
  return `${PREFIX}${end.status}${end.detail ? `: ${end.detail}` : ''}`
}

/** The DAG's end stored on an active run, if it is past its DAG (only an active run's reason is read so). */
export function decodeDagEnd(run: Pick<RunRecord, 'state' | 'reason'>): DagEnd | undefined {
  if (!['pending', 'running', 'suspended'].includes(run.state) || !run.reason?.startsWith(PREFIX)) return undefined
  const rest = run.reason.slice(PREFIX.length)
  const colon = rest.indexOf(': ')
  const status = (colon < 0 ? rest : rest.slice(0, colon)) as DagStatus
  if (!STATUSES.includes(status)) return undefined
  return colon < 0 ? { status } : { status, detail: rest.slice(colon + 2) }
}

export function dagStatusOf(outcome: RunOutcome): DagStatus {
  return outcome === 'succeeded' ? 'Succeeded' : outcome === 'failed' ? 'Failed' : 'Cancelled'
}

export function finallyOf(workflow: WorkflowResource): StepModel[] {
  return workflow.workflow.finally ?? []
}

/** When the run's `spec.timeout` passes (ms), counted from its start (its creation while it waited to start). */
export function runDeadline(workflow: WorkflowResource, run: Pick<RunRecord, 'startedAt' | 'createdAt'>): number | undefined {
  const t = workflow.workflow.timeoutSeconds
  return t === undefined ? undefined : Date.parse(run.startedAt ?? run.createdAt) + t * 1000
}

/**
 * When the finally steps must have ended (ms): `finallyTimeout` (default 5m) after the DAG's last
 * step ended. Stored times only, so a restarted control plane keeps the same deadline.
 */
export function finallyDeadline(workflow: WorkflowResource, run: Pick<RunRecord, 'startedAt' | 'createdAt'>, dagRows: readonly StepRunRecord[]): number {
  const ends = dagRows.map((a) => Date.parse(a.finishedAt ?? a.createdAt))
  const from = Math.max(Date.parse(run.startedAt ?? run.createdAt), ...ends)
  return from + (workflow.workflow.finallyTimeoutSeconds ?? FINALLY_TIMEOUT_DEFAULT_SECONDS) * 1000
}

/**
 * The run's final state and reason from its DAG's end and its finally steps' outcome (undefined:
 * there were none). A failing finally step fails a DAG that succeeded; a stopped or failed DAG
 * keeps its state. The reason says how the DAG ended when the final state differs from it.
 */
export function finalState(end: DagEnd, finallyOutcome: RunOutcome | undefined, finallyProblem?: string): { state: RunState; reason?: string } {
  const state: RunState = end.status === 'Succeeded' ? 'succeeded' : end.status === 'Failed' ? 'failed' : end.status === 'Killed' ? 'killed' : 'cancelled'
  const badFinally = finallyOutcome !== undefined && finallyOutcome !== 'succeeded'
  if (state === 'succeeded' && badFinally) return { state: 'failed', reason: `${finallyProblem ?? 'a finally step failed'} (DAG Succeeded)` }
  const reason = end.detail ?? (badFinally ? finallyProblem : undefined)
  return reason === undefined ? { state } : { state, reason }
}

/** Which finally step spoiled the finally outcome, for the run's reason. */
export function finallyProblemOf(rows: readonly StepRunRecord[]): string | undefined {
  const bad = rows.find((a) => a.state === 'failed') ?? rows.find((a) => a.state === 'cancelled' || a.state === 'skipped')
  if (!bad) return undefined
  return `finally step "${bad.step}" ${bad.state}${bad.reason === DEADLINE_REASON ? ` (${DEADLINE_REASON})` : ''}`
}

/** Cancels the pending rows (attempts and instances) of the given steps, and those waiting for approval; their runs never start. */
export async function cancelPending(ctx: EngineContext, rows: Iterable<StepRunRecord>, steps: ReadonlySet<string>, reason: string, message: string): Promise<void> {
  const now = ctx.now().toISOString()
  for (const a of rows) {
    if ((a.state !== 'pending' && a.state !== 'waiting') || !steps.has(a.parent ?? a.step)) continue
    await ctx.store.updateStepRun(a.id, { state: 'cancelled', reason, message, finishedAt: now }, ['pending', 'waiting'])
  }
}

/** The run's workflow, parsed once per revision (revisions.ts): a watch asks ruleFacts every 100 ms. */
async function workflowOf(store: Store, run: RunRecord): Promise<WorkflowResource | undefined> {
  return (await storedRevision(store, run.resourceId, run.revision))?.manifest as WorkflowResource | undefined
}

/** What `runtime get` shows beside the stored rows: allowed failures, the finally steps, the DAG's status. */
export async function ruleFacts(
  store: Store,
  run: RunRecord,
  latest: ReadonlyMap<string, StepRunRecord>,
): Promise<{ allowedFailures?: string[]; finally?: string[]; dagStatus?: string }> {
  const wf = await workflowOf(store, run)
  if (!wf?.workflow) return {}
  const out: { allowedFailures?: string[]; finally?: string[]; dagStatus?: string } = {}
  const allowed = [...wf.workflow.dag, ...finallyOf(wf)].filter((s) => s.allowFailure && latest.get(s.name)?.state === 'failed').map((s) => s.name)
  if (allowed.length > 0) out.allowedFailures = allowed
  const fin = finallyOf(wf).map((s) => s.name)
  if (fin.length > 0) out.finally = fin
  const end = decodeDagEnd(run)
  if (end) out.dagStatus = end.status
  return out
}
