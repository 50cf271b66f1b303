// How `runtime get` and `--wait` show failure handling (issue 12): an allowed failure as
// `failed (allowed)`, the finally steps after the DAG's with a `(finally)` marker, and the
// DAG's status beside the run's when they differ (a run in its finally steps, a finally
// step that failed a DAG that succeeded).

import type { RunDetail } from '../../engine/api.js'
import type { StepRunRecord } from '../../store/types.js'

type Facts = Pick<RunDetail, 'allowedFailures' | 'finally'>

/** The step's state as shown: `failed (allowed)` for a failure the workflow allows. */
export function shownState(detail: Facts, s: StepRunRecord): string {
  return s.state === 'failed' && detail.allowedFailures?.includes(s.parent ?? s.step) ? 'failed (allowed)' : s.state
}

/** ` (finally)` after the name of a finally step (its instances are indented under it already). */
export function finallyMarker(detail: Facts, s: StepRunRecord): string {
  return s.parent === undefined && detail.finally?.includes(s.step) ? ' (finally)' : ''
}

/** The attempts in display order with the finally steps (and their instances) after the DAG's. */
export function dagThenFinally<T extends StepRunRecord>(detail: Facts, ordered: readonly T[]): T[] {
  const fin = new Set(detail.finally ?? [])
  if (fin.size === 0) return [...ordered]
  const isFin = (s: T) => fin.has(s.parent ?? s.step)
  return [...ordered.filter((s) => !isFin(s)), ...ordered.filter(isFin)]
}

/**
 * The run's state as shown: `running (finally; DAG Failed)` while its finally steps run after the DAG
 * ended; `failed (DAG Succeeded)` when a finally step failed a DAG that succeeded.
 */
export function shownRunState(detail: Pick<RunDetail, 'run' | 'dagStatus'>): string {
  const { state, reason } = detail.run
  if (detail.dagStatus) return `${state} (finally; DAG ${detail.dagStatus})`
  if (reason?.endsWith('(DAG Succeeded)') && state !== 'succeeded') return `${state} (DAG Succeeded)`
  return state
}
