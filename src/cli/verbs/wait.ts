// `--wait`: follow one run until it ends, on the server's stream of its state (GET /runs/:id/watch).
// On a terminal the step table is redrawn in place; otherwise each change is one plain line, for CI logs.
import type { CtlClient } from '../../client/client.js'
import type { RunDetail } from '../../client/types.js'
import { FINAL_RUN_STATES, type StepRunRecord } from '../../store/types.js'
import { CtlError } from '../../errors.js'
import type { Io } from '../io.js'
import { formatDuration } from '../../duration.js'
import { renderTable } from '../output.js'

export interface WaitOptions {
  now?: () => number
}

/** Latest attempt of each step, in the order the steps started (not yet started ones last). */
export function latestAttempts(steps: readonly StepRunRecord[]): StepRunRecord[] {
  const byStep = new Map<string, StepRunRecord>()
  const firstStart = new Map<string, string>()
  for (const s of steps) {
    const seen = byStep.get(s.step)
    if (!seen || s.attempt > seen.attempt) byStep.set(s.step, s)
    const started = s.startedAt
    if (started && (!firstStart.has(s.step) || started < firstStart.get(s.step)!)) firstStart.set(s.step, started)
  }
  const key = (s: StepRunRecord): string => firstStart.get(s.step) ?? '\uffff'
  return [...byStep.values()].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.step.localeCompare(b.step)))
}

export function stepDuration(step: StepRunRecord, now: number): string {
  if (!step.startedAt) return ''
  const end = step.finishedAt ? Date.parse(step.finishedAt) : now
  return formatDuration(end - Date.parse(step.startedAt))
}

export function stepTable(detail: RunDetail, now: number): string {
  return renderTable(
    ['STEP', 'STATE', 'ATTEMPT', 'DURATION', 'REASON'],
    latestAttempts(detail.steps).map((s) => [s.step, s.state, s.attempt, stepDuration(s, now), s.state === 'failed' ? s.reason ?? '' : '']),
  )
}

/** Follows the run; returns its final detail. */
export async function waitForRun(client: CtlClient, runId: string, io: Io, opts: WaitOptions = {}): Promise<RunDetail> {
  const now = opts.now ?? Date.now
  const seen = new Map<string, string>()
  let drawnLines = 0
  let runState: string | undefined
  let last: RunDetail | undefined
  for await (const detail of client.watchRun(runId)) {
    last = detail
    const done = FINAL_RUN_STATES.includes(detail.run.state)
    if (io.isTty) {
      const table = stepTable(detail, now())
      const text = `run ${runId}: ${detail.run.state} (${detail.progress})\n${table}`
      // Move up over the previous drawing and clear it, then draw anew.
      if (drawnLines > 0) io.out(`\x1b[${drawnLines}A\x1b[J` + text.trimEnd())
      else io.out(text.trimEnd())
      drawnLines = text.trimEnd().split('\n').length
    } else {
      // A hold and its end are news in a CI log too (the steps alone would just go quiet).
      if (runState !== undefined && runState !== detail.run.state && (detail.run.state === 'suspended' || runState === 'suspended')) {
        io.out(`run ${runId} ${detail.run.state === 'suspended' ? 'suspended' : 'resumed'}`)
      }
      runState = detail.run.state
      for (const s of latestAttempts(detail.steps)) {
        const key = `${s.step}#${s.attempt}`
        const state = s.state
        if (seen.get(key) === state) continue
        seen.set(key, state)
        if (state === 'pending' && s.attempt === 1) continue
        const extra = state === 'running' ? '' : stepDuration(s, now())
        const attempt = s.attempt > 1 ? ` (attempt ${s.attempt})` : ''
        const reason = state === 'failed' && s.reason ? `: ${s.reason}${s.message ? ` ${s.message}` : ''}` : ''
        io.out(`${s.step}${attempt} ${state}${extra ? ` ${extra}` : ''}${reason}`)
      }
    }
    if (done) return detail
  }
  // The stream ends early only when the control plane went away (a restart, a stop).
  const ws = last?.run.workspace && last.run.workspace !== 'public' ? ` -w ${last.run.workspace}` : ''
  throw new CtlError('E_UNAVAILABLE', `the control plane stopped answering before run ${runId} ended; see it with: ctl resource runtime get -n ${last?.run.resourceName ?? 'NAME'}${ws} --run ${runId}`)
}
