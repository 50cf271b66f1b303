// Reading a run's log lines as wire chunks: once (what is stored now) or following until the step (or the
// whole run) has ended and every line is sent. Stored chunks (already in the wire encoding,
// src/api/log-codec.ts) go out as they are. The HTTP route (src/http/routes/logs.ts) authorizes and streams.
import { FINAL_RUN_STATES, FINAL_STEP_STATES, type LogQuery, type LogStore, type RunRecord, type StepRunRecord, type Store } from '../store/types.js'
import type { LogsQuery } from '../api/types.js'
import type { WorkflowResource } from '../manifest/model.js'
import { LogEncoder } from '../api/log-codec.js'

/** A log read as wire chunks: the store's chunks are in the wire encoding already (LogChunk), so they pass through. */
async function* wireChunks(store: LogStore, query: LogQuery, encoder: LogEncoder, onSeq: (seq: number) => void): AsyncGenerator<string | Uint8Array> {
  for await (const c of store.iterateLogChunks(query)) {
    const ctx = encoder.contextLine(c.runId, c.step, c.attempt)
    if (ctx) yield ctx
    onSeq(c.lastSeq)
    yield c.data
  }
}

/** Where one step attempt's lines are stored. */
interface LogSource {
  runId: string
  step: string
  attempt: number
}

/**
 * A step `runtime retry` carried over ran in an earlier run of the same workflow (keptFrom):
 * its lines are those of that run's last attempt of the step. The caller was authorized for
 * the run asked for; the earlier run is of the same resource (the engine sets keptFrom from the
 * retried run only, checked here again), so it reveals nothing the caller may not read.
 */
class KeptSources {
  private readonly origins = new Map<string, Promise<StepRunRecord[]>>()
  constructor(private readonly store: Store, private readonly run: RunRecord) {}

  async of(s: StepRunRecord): Promise<LogSource | undefined> {
    if (!s.keptFrom) return undefined
    let steps = this.origins.get(s.keptFrom)
    if (!steps) {
      const from = s.keptFrom
      steps = (async () => {
        const origin = await this.store.getRun(from)
        return origin && origin.resourceId === this.run.resourceId ? this.store.listStepRuns(from) : []
      })()
      this.origins.set(from, steps)
    }
    const last = (await steps).filter((o) => o.step === s.step).at(-1)
    // Gone (a run past retention): the kept step has no lines to show.
    return last ? { runId: last.runId, step: last.step, attempt: last.attempt } : { runId: s.keptFrom, step: s.step, attempt: 0 }
  }
}

export async function* readLogs(store: Store, run: RunRecord, q: LogsQuery): AsyncGenerator<string | Uint8Array> {
  if (q.tail === 0) return
  const query: LogQuery = { runId: run.id, step: q.step, attempt: q.attempt, afterSeq: q.afterSeq, tail: q.tail }
  const steps = (await store.listStepRuns(run.id)).filter(
    (s) => (q.step === undefined || s.step === q.step) && (q.attempt === undefined || s.attempt === q.attempt),
  )
  const encoder = new LogEncoder()
  // No kept step among them (the common case): one query over the run, stored chunks passed through.
  if (!steps.some((s) => s.keptFrom)) {
    yield* wireChunks(store, query, encoder, () => undefined)
    return
  }
  const kept = new KeptSources(store, run)
  for (const s of steps) {
    const source = (await kept.of(s)) ?? { runId: run.id, step: s.step, attempt: s.attempt }
    yield* wireChunks(store, { ...query, ...source }, encoder, () => undefined)
  }
}

const isFinalRun = (run: RunRecord): boolean => FINAL_RUN_STATES.includes(run.state)
const isFinalStep = (s: StepRunRecord): boolean => FINAL_STEP_STATES.includes(s.state)

export async function* followLogs(store: Store, run: RunRecord, q: LogsQuery, signal: AbortSignal, pollMs: number): AsyncGenerator<string | Uint8Array> {
  const cursors = new Map<string, number>()
  const encoder = new LogEncoder()
  const kept = new KeptSources(store, run)
  let retryLimit: number | undefined
  const attemptsAllowed = async (): Promise<number> => {
    if (retryLimit === undefined) {
      const rev = await store.getRevision(run.resourceId, run.revision)
      const spec = (rev?.manifest as WorkflowResource | undefined)?.workflow
      const dag = [...(spec?.dag ?? []), ...(spec?.finally ?? [])]
      retryLimit = 1 + (dag.find((s) => s.name === q.step)?.retry?.count ?? 0)
    }
    return retryLimit
  }
  while (!signal.aborted) {
    // States are read BEFORE draining: lines are stored before a step is marked ended,
    // so a drain after seeing "ended" always has every line.
    const current = (await store.getRun(run.id)) ?? run
    const steps = (await store.listStepRuns(run.id)).filter(
      (s) => (q.step === undefined || s.step === q.step) && (q.attempt === undefined || s.attempt === q.attempt),
    )
    let done = isFinalRun(current)
    if (!done && q.step !== undefined && steps.length > 0) {
      if (q.attempt !== undefined) done = steps.every(isFinalStep)
      else {
        const latest = steps[steps.length - 1]!
        done = isFinalStep(latest) && (latest.state !== 'failed' || latest.attempt >= (await attemptsAllowed()))
      }
    }
    let sent = false
    for (const s of steps) {
      const k = `${s.step}\0${s.attempt}`
      const last = cursors.get(k)
      const source = await kept.of(s)
      if (source) {
        // A kept step ended in its earlier run: its lines are sent once, whole.
        if (last !== undefined) continue
        cursors.set(k, Number.MAX_SAFE_INTEGER)
        if (q.tail === 0) continue
        for await (const chunk of wireChunks(store, { ...source, afterSeq: q.afterSeq, tail: q.tail }, encoder, () => undefined)) {
          sent = true
          yield chunk
          if (signal.aborted) return
        }
        continue
      }
      if (last !== undefined && s.logSeq <= last) continue
      if (last === undefined && q.tail === 0) {
        cursors.set(k, s.logSeq)
        continue
      }
      const query: LogQuery = last === undefined
        ? { runId: run.id, step: s.step, attempt: s.attempt, afterSeq: q.afterSeq, tail: q.tail }
        : { runId: run.id, step: s.step, attempt: s.attempt, afterSeq: last }
      let seq = last ?? q.afterSeq ?? 0
      for await (const chunk of wireChunks(store, query, encoder, (n) => (seq = n))) {
        sent = true
        yield chunk
        if (signal.aborted) return
      }
      cursors.set(k, seq)
    }
    if (done) return
    // Woken early by new lines (any replica's, on PostgreSQL); the timeout catches state changes.
    if (!sent) await store.waitForLogs(run.id, pollMs, signal)
  }
}
