// `ctl resource runtime approve|reject`, and the part of `runtime get` that lists the steps waiting for
// approval: for whom (approvers) and with which message.
import { CtlError } from '../../errors.js'
import type { StepRunRecord } from '../../store/types.js'
import type { Io } from '../io.js'
import { printReport, renderTable, type OutputFormat } from '../output.js'
import type { Session } from './session.js'
import type { RuntimeTarget } from './runtime.js'

/** The server's bound on a comment (schemas.ts approvalBody); checked here too so the user hears it before a request. */
const COMMENT_MAX = 1024

export interface DecideOptions extends RuntimeTarget {
  step: string
  run?: string
  message?: string
}

export async function runRuntimeDecide(session: Session, o: DecideOptions, decision: 'approve' | 'reject', io: Io, output: OutputFormat = 'table'): Promise<void> {
  if (o.message !== undefined && o.message.length > COMMENT_MAX) throw new CtlError('E_USAGE', `-m: at most ${COMMENT_MAX} characters (got ${o.message.length})`)
  const ref = { workspace: session.workspace, type: o.type, name: o.name }
  const stepRun = await session.client.decide(ref, decision, { step: o.step, ...(o.run ? { runId: o.run } : {}), ...(o.message ? { comment: o.message } : {}) })
  printReport(io, output, { stepRun }, () => {
    if (decision === 'approve') io.out(`step ${o.step} of run ${stepRun.runId} approved: it starts now`)
    else io.out(`step ${o.step} of run ${stepRun.runId} rejected: ${stepRun.message ?? 'Rejected'}`)
  })
}

/** Who may decide, as `runtime get` shows it. */
export function approversText(approvers: readonly string[] | undefined): string {
  return approvers && approvers.length > 0 ? approvers.join(', ') : 'whoever may run the workflow'
}

/** The steps of a run that wait for approval, one row each; nothing when none waits. */
export function printWaiting(steps: readonly StepRunRecord[], io: Io): void {
  const waiting = steps.filter((s) => s.state === 'waiting')
  if (waiting.length === 0) return
  io.out(
    renderTable(
      ['WAITING FOR APPROVAL', 'APPROVERS', 'SINCE', 'DEADLINE', 'MESSAGE'],
      waiting.map((s) => [s.step, approversText(s.approval?.approvers), s.approval?.requestedAt ?? '', s.approval?.deadline ?? '', s.approval?.message ?? '']),
    ),
  )
  io.out(`decide with: ctl resource runtime approve|reject -t workflow -n NAME --run ${waiting[0]!.runId} --step STEP [-m COMMENT]`)
}
