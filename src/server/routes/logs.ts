// GET /api/v1/runs/:id/logs — NDJSON, one LogLineRecord per line. Without `follow` the
// lines stored now; with `follow` it keeps streaming until the step (or the whole run)
// has ended and every line is sent. Stored chunks (already in the wire encoding) are
// written as they are, one write per ~128 KiB, so 100 MB moves at disk speed.
import { Readable } from 'node:stream'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { CtlError } from '../../errors.js'
import { FINAL_RUN_STATES, FINAL_STEP_STATES, type LogLineRecord, type LogQuery, type RunRecord, type StepRunRecord, type Store } from '../../store/types.js'
import type { LogsQuery } from '../../client/types.js'
import type { WorkflowResource } from '../../manifest/model.js'
import { encodeLine } from '../../store/log-codec.js'
import { principalOf } from '../auth.js'
import { loadRunFor } from './runs.js'
import * as S from '../schemas.js'

export interface LogsRoutesOptions {
  store: Store
  /** Aborted when the server shuts down, so open follows end and close() does not wait on them. */
  closing: AbortSignal
  /** How often a follow looks for new lines when none arrived (ms). */
  pollMs?: number
}

const PAGE_LINES = 2000

/**
 * Wire format (NDJSON, one JSON value per line), compact because 100 MB logs must move fast:
 * a context object `{"runId","step","attempt"}` whenever the step attempt changes, then one
 * array `[seq, time, stream, text]` per log line — the store's own chunk encoding
 * (store/log-codec.ts), so stored chunks go out as they are. The client turns them back into
 * LogLineRecords.
 */
export class LogEncoder {
  private context = ''
  /** The context line when `step`/`attempt` differ from the last one, else ''. */
  contextLine(runId: string, step: string, attempt: number): string {
    const ctx = `${step}\0${attempt}`
    if (ctx === this.context) return ''
    this.context = ctx
    return JSON.stringify({ runId, step, attempt }) + '\n'
  }
  encode(page: LogLineRecord[]): string {
    let out = ''
    for (const l of page) out += this.contextLine(l.runId, l.step, l.attempt) + encodeLine(l.seq, l.time, l.stream, l.text)
    return out
  }
}

/** A log read as wire chunks: stored chunks passed through when the store offers them, else encoded pages. */
async function* wireChunks(store: Store, query: LogQuery, encoder: LogEncoder, onSeq: (seq: number) => void): AsyncGenerator<string | Uint8Array> {
  if (store.iterateLogChunks) {
    for await (const c of store.iterateLogChunks(query)) {
      const ctx = encoder.contextLine(c.runId, c.step, c.attempt)
      if (ctx) yield ctx
      onSeq(c.lastSeq)
      yield c.data
    }
    return
  }
  for await (const page of store.iterateLogs(query, PAGE_LINES)) {
    if (page.length === 0) continue
    onSeq(page[page.length - 1]!.seq)
    yield encoder.encode(page)
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

async function* readOnce(store: Store, run: RunRecord, q: LogsQuery): AsyncGenerator<string | Uint8Array> {
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

async function* follow(store: Store, run: RunRecord, q: LogsQuery, signal: AbortSignal, pollMs: number): AsyncGenerator<string | Uint8Array> {
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

export const logsRoutes: FastifyPluginAsync<LogsRoutesOptions> = async (fastify: FastifyInstance, opts) => {
  const { store, closing } = opts
  fastify.get<{ Params: { id: string }; Querystring: LogsQuery }>('/api/v1/runs/:id/logs', {
    schema: {
      summary: 'Log lines of a run as NDJSON; follow=true streams until the step (or run) has ended',
      tags: ['logs'], params: S.runIdParams, querystring: S.logsQuery, produces: 'application/x-ndjson',
      response: S.withErrors({
        200: {
          description: 'NDJSON: a context object {runId, step, attempt} whenever the step attempt changes, then one array [seq, time, stream, text] per log line',
          oneOf: [
            {
              type: 'object',
              properties: { runId: { type: 'string' }, step: { type: 'string' }, attempt: { type: 'integer' } },
            },
            {
              type: 'array',
              prefixItems: [{ type: 'integer' }, { type: 'string' }, { type: 'string', enum: ['stdout', 'stderr', 'system'] }, { type: 'string' }],
            },
          ],
        },
      }, 404),
    },
  }, async (request, reply) => {
    const { run } = await loadRunFor(store, principalOf(request), 'log', request.params.id)
    const q = request.query
    if (q.step !== undefined) {
      const steps = await store.listStepRuns(run.id)
      if (!steps.some((s) => s.step === q.step)) {
        const names = [...new Set(steps.map((s) => s.step))].join(', ')
        throw new CtlError('E_NOT_FOUND', `run ${run.id} has no step "${q.step}"${names ? `; steps: ${names}` : ''}`)
      }
    }
    const source = q.follow
      ? follow(store, run, q, closing, opts.pollMs ?? 100)
      : readOnce(store, run, q)
    reply.header('content-type', 'application/x-ndjson; charset=utf-8')
    reply.header('cache-control', 'no-store')
    // The stream bypasses response serialization; Fastify pipes it with backpressure.
    return reply.send(Readable.from(source))
  })
}
