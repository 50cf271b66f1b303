// `--wait`: follow one run until it ends, on the server's stream of its state (GET /runs/:id/watch).
// On a terminal the step table is redrawn in place; otherwise each change is one plain line, for CI logs.
import { dagThenFinally, finallyMarker, shownRunState, shownState } from './rules-display.js'
import type { CtlClient } from '../../client/client.js'
import type { RunDetail } from '../../api/types.js'
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
  const latest = new Map<string, StepRunRecord>()
  for (const s of everyAttempt(steps)) latest.set(s.step, s)
  return [...latest.values()]
}

/**
 * Every attempt of every step: steps in the order they first started (not yet started ones last), attempts in
 * order. A fanned-out step's instances come right after its own row, in instance order. `among`: the run's
 * attempts when `steps` are some of them (when each step first started is read from all of them), so that those
 * come in the order they have among all.
 */
export function everyAttempt(steps: readonly StepRunRecord[], among: readonly StepRunRecord[] = steps): StepRunRecord[] {
  const group = (s: StepRunRecord): string => s.parent ?? s.step
  const firstStart = new Map<string, string>()
  for (const s of among) {
    const started = s.startedAt
    const g = group(s)
    if (started && (!firstStart.has(g) || started < firstStart.get(g)!)) firstStart.set(g, started)
  }
  const key = (s: StepRunRecord): string => firstStart.get(group(s)) ?? '\uffff'
  // -1: the step's own row before its instances.
  const place = (s: StepRunRecord): number => (s.parent === undefined ? -1 : (s.instance?.index ?? 0))
  return [...steps].sort((a, b) =>
    key(a) !== key(b) ? (key(a) < key(b) ? -1 : 1)
    : group(a) !== group(b) ? group(a).localeCompare(group(b))
    : place(a) !== place(b) ? place(a) - place(b)
    : a.step !== b.step ? a.step.localeCompare(b.step)
    : a.attempt - b.attempt)
}

/** A step's name as tables show it: an instance indented under its step. */
export function shownName(s: StepRunRecord): string {
  return s.parent === undefined ? s.step : `  ${s.step}`
}

/** The steps that fanned out (their own rows are no attempt: no `-N` in their node name). */
export function fannedSteps(steps: readonly StepRunRecord[]): Set<string> {
  return new Set(steps.flatMap((s) => (s.parent === undefined ? [] : [s.parent])))
}

/** Why an attempt ended as it did (`exit code 7`, `kept from r-...`), or '' when there is nothing to say. */
export function endReason(s: StepRunRecord): string {
  if (s.keptFrom) return `kept from ${s.keptFrom}`
  // Why it never ran: a false condition, a dependency that did not succeed.
  if (s.state === 'skipped') return s.message ?? ''
  if (s.state !== 'failed' && s.state !== 'cancelled') return ''
  // The engine's plain exit is reason Error with message `exit code N`: the message says it all.
  if (!s.reason || s.reason === 'Error') return s.message ?? s.reason ?? ''
  return s.message ? `${s.reason}: ${s.message}` : s.reason
}

export function stepDuration(step: StepRunRecord, now: number): string {
  if (!step.startedAt || step.keptFrom) return ''
  const end = step.finishedAt ? Date.parse(step.finishedAt) : now
  return formatDuration(end - Date.parse(step.startedAt))
}

/** One row per attempt, so a retried step shows why each earlier attempt ended. */
export function stepTable(detail: RunDetail, now: number): string {
  return renderTable(
    ['STEP', 'STATE', 'ATTEMPT', 'DURATION', 'REASON'],
    dagThenFinally(detail, everyAttempt(detail.steps)).map((s) => [shownName(s) + finallyMarker(detail, s), shownState(detail, s), s.attempt, stepDuration(s, now), endReason(s)]),
  )
}

/**
 * The CI log line of an attempt's state: attempts are named as `runtime get` names its nodes (`flaky-2`);
 * a step that never ran (skipped, cancelled while pending, kept from an earlier run) by its name.
 */
function attemptLine(s: StepRunRecord, now: number, fanned: ReadonlySet<string>, detail: RunDetail): string {
  // A fanned-out step's own row is no attempt: it goes by its name, its instances by theirs.
  const ran = s.startedAt !== undefined && !s.keptFrom && !(s.parent === undefined && fanned.has(s.step))
  const name = ran ? `${s.step}-${s.attempt}` : s.step
  const took = s.state === 'running' ? '' : stepDuration(s, now)
  const why = endReason(s)
  return `${name}${finallyMarker(detail, s)} ${shownState(detail, s)}${took ? ` ${took}` : ''}${why ? `: ${why}` : ''}`
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
      const text = `run ${runId}: ${shownRunState(detail)} (${detail.progress})\n${table}`
      // Move up over the previous drawing and clear it, then draw anew.
      if (drawnLines > 0) io.out(`\x1b[${drawnLines}A\x1b[J` + text.trimEnd())
      else io.out(text.trimEnd())
      drawnLines = text.trimEnd().split('\n').length
    } else {
      // A hold and its end are news in a CI log too (the steps alone would just go quiet).
      if (runState !== undefined && runState !== detail.run.state && (detail.run.state === 'suspended' || runState === 'suspended')) {
        io.out(`run ${runId} ${detail.run.state === 'suspended' ? 'suspended' : 'resumed'}`)
      }
      const before = runState
      runState = detail.dagStatus ? shownRunState(detail) : detail.run.state
      // Every attempt, not only the latest: an attempt that failed between two looks is still told.
      const fanned = fannedSteps(detail.steps)
      // The DAG's end, when finally steps follow it, is news too: told after the DAG's steps, before the finally ones.
      let dagEnd = detail.dagStatus !== undefined && before !== runState ? `run ${runId} ${runState}` : undefined
      // Only the attempts whose state is news and told are put in order (a 200-step run changes a few at a time, and
      // a pending attempt is not told); all of it in one write.
      const news: StepRunRecord[] = []
      for (const s of detail.steps) {
        const key = `${s.step}#${s.attempt}`
        if (seen.get(key) === s.state) continue
        if (s.state === 'pending') seen.set(key, s.state)
        else news.push(s)
      }
      const lines: string[] = []
      for (const s of dagThenFinally(detail, everyAttempt(news, detail.steps))) {
        seen.set(`${s.step}#${s.attempt}`, s.state)
        if (dagEnd && detail.finally?.includes(s.parent ?? s.step)) {
          lines.push(dagEnd)
          dagEnd = undefined
        }
        lines.push(attemptLine(s, now(), fanned, detail))
      }
      if (dagEnd) lines.push(dagEnd)
      if (lines.length > 0) io.out(lines.map((l) => (l.endsWith('\n') ? l : `${l}\n`)).join(''))
    }
    if (done) return detail
  }
  // The stream ends early only when the control plane went away (a restart, a stop).
  const ws = last?.run.workspace && last.run.workspace !== 'public' ? ` -w ${last.run.workspace}` : ''
  throw new CtlError('E_UNAVAILABLE', `the control plane stopped answering before run ${runId} ended; see it with: ctl resource runtime get -n ${last?.run.resourceName ?? 'NAME'}${ws} --run ${runId}`)
}
