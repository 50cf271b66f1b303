// Server-sent events for the console: a run's detail as it changes (until the run has ended) and a
// workflow's latest runs as they change. The store is the truth (several replicas share it): a run stream
// wakes on the engine's run-end signal and otherwise reads the run every pollMs; a workflow stream reads
// its runs every workflowPollMs. Each stream sends only when what it would send changed, a comment every
// 15 s to keep proxies from dropping it, and counts against per-user and per-process bounds.
import { Readable } from 'node:stream'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { CtlError } from '../../errors.js'
import type { EngineApi } from '../../engine/api.js'
import { FINAL_RUN_STATES, type Store } from '../../store/types.js'
import { principalOf } from '../auth.js'
import { requireOn } from '../../access/targets.js'
import { readableResource, resourceKey } from '../keys.js'
import { RunParamsMasker } from '../run-params.js'
import * as S from '../schemas.js'
import { loadRunFor, runDetailViewer } from './runs.js'

export interface StreamLimits {
  /** Open streams one user may hold (default 20). */
  perUser?: number
  /** Open streams of this control plane (default 500). */
  total?: number
}

export interface StreamsRoutesOptions {
  store: Store
  engine: EngineApi
  closing?: AbortSignal
  /** How often a run stream reads its run when nothing wakes it (ms); default 250. */
  pollMs?: number
  /** How often a workflow stream reads its runs (ms); default 1000. */
  workflowPollMs?: number
  limits?: StreamLimits
}

export const HEARTBEAT_MS = 15_000
const DEFAULT_PER_USER = 20
const DEFAULT_TOTAL = 500

/** Open streams per user and in all; a slot is given back exactly once. */
export class StreamSlots {
  private readonly byUser = new Map<string, number>()
  private total = 0
  constructor(private readonly perUser: number, private readonly max: number) {}

  take(userId: string): () => void {
    const mine = this.byUser.get(userId) ?? 0
    if (mine >= this.perUser) throw new CtlError('E_RATE_LIMITED', `too many open event streams for ${userId} (at most ${this.perUser}); close some console tabs`)
    if (this.total >= this.max) throw new CtlError('E_RATE_LIMITED', `this control plane has ${this.max} open event streams, its limit; try again later`)
    this.byUser.set(userId, mine + 1)
    this.total++
    let given = false
    return () => {
      if (given) return
      given = true
      this.total--
      const left = (this.byUser.get(userId) ?? 1) - 1
      if (left > 0) this.byUser.set(userId, left)
      else this.byUser.delete(userId)
    }
  }

  get open(): number {
    return this.total
  }
}

export function sseEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}

/** Sleeps `ms`, or less when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done)
  })
}

/**
 * Sends the stream: `next` reads what would be sent now (an event, or undefined: the stream ends), `wait`
 * waits for the next look; only changed events go out, and a heartbeat comment when quiet for 15 s.
 */
async function* changes(next: () => Promise<{ event: string; data: unknown; last?: boolean } | undefined>, wait: (signal: AbortSignal) => Promise<void>, signal: AbortSignal): AsyncGenerator<string> {
  let last = ''
  let sentAt = Date.now()
  while (!signal.aborted) {
    const item = await next()
    if (!item) return
    const text = sseEvent(item.event, item.data)
    if (text !== last) {
      last = text
      sentAt = Date.now()
      yield text
    } else if (Date.now() - sentAt >= HEARTBEAT_MS) {
      sentAt = Date.now()
      yield ': ping\n\n'
    }
    if (item.last) return
    await wait(signal)
  }
}

export const streamsRoutes: FastifyPluginAsync<StreamsRoutesOptions> = async (fastify, opts) => {
  const { store, engine } = opts
  const closing = opts.closing ?? new AbortController().signal
  const slots = new StreamSlots(opts.limits?.perUser ?? DEFAULT_PER_USER, opts.limits?.total ?? DEFAULT_TOTAL)
  const pollMs = opts.pollMs ?? 250
  const workflowPollMs = opts.workflowPollMs ?? 1000

  /** Starts an event stream after authorization; it ends with the server, the caller, or `body`. */
  const stream = (request: FastifyRequest, reply: FastifyReply, body: (signal: AbortSignal) => AsyncGenerator<string>): FastifyReply => {
    const release = slots.take(principalOf(request).id)
    const gone = new AbortController()
    reply.raw.on('close', () => {
      gone.abort()
      release()
    })
    reply.header('content-type', 'text/event-stream; charset=utf-8')
    reply.header('cache-control', 'no-store')
    // Proxies (nginx) must pass each event on at once.
    reply.header('x-accel-buffering', 'no')
    return reply.send(Readable.from(body(AbortSignal.any([closing, gone.signal]))))
  }

  fastify.get<{ Params: { id: string } }>('/api/v1/runs/:id/events', {
    schema: {
      summary: 'Server-sent events of a run: `run` (the run detail, as GET /api/v1/runs/{id}) now and on every change, then `end` once it has ended',
      tags: ['runs'], params: S.runIdParams, produces: 'text/event-stream',
      response: S.withErrors({ 200: { type: 'string', description: 'text/event-stream: `event: run` with a run detail, `event: end` with {state}; a `: ping` comment every 15 s' } }, 404, 429),
    },
  }, async (request, reply) => {
    const principal = principalOf(request)
    const { run, resource } = await loadRunFor(store, principal, 'runtime-get', request.params.id)
    const shown = await runDetailViewer(store, principal, run, resource)
    let ended: string | undefined
    // Read as a watch reads: only the rows written since the last look, on the replica that drives the run.
    const read = engine.runDetailReader(run.id)
    return stream(request, reply, (signal) => changes(async () => {
      if (ended !== undefined) return { event: 'end', data: { state: ended }, last: true }
      const detail = await read()
      if (!detail) return undefined
      if (FINAL_RUN_STATES.includes(detail.run.state)) ended = detail.run.state
      return { event: 'run', data: await shown(detail) }
    }, async (s) => {
      // The end event follows the last detail at once; otherwise the run's end wakes the stream, changes are read every pollMs.
      if (ended === undefined) await engine.untilRunEnds(run.id, pollMs, s)
    }, signal))
  })

  fastify.get<{ Params: Record<string, string>; Querystring: { limit: number } }>('/api/v1/workspaces/:ws/resources/:type/:name/events', {
    schema: {
      summary: "Server-sent events of a workflow: `runs` (its latest runs, as GET .../runs) now and on every change; open until closed",
      tags: ['runs'], params: S.wsResourceParams, querystring: S.streamRunsQuery, produces: 'text/event-stream',
      response: S.withErrors({ 200: { type: 'string', description: 'text/event-stream: `event: runs` with {runs}; a `: ping` comment every 15 s' } }, 404, 429),
    },
  }, async (request, reply) => {
    const principal = principalOf(request)
    const key = resourceKey(request.params.ws!, request.params.type!, request.params.name!)
    const found = await readableResource(store, key)
    await requireOn(store, principal, 'runtime-get', key, found)
    if (!found) throw new CtlError('E_NOT_FOUND', `${key.type} ${key.name} in workspace ${key.workspace} not found`)
    if (found.type !== 'workflow') throw new CtlError('E_USAGE', `${found.type} ${found.name} has no runs; only workflows run`)
    const masker = new RunParamsMasker(store)
    const limit = request.query.limit
    return stream(request, reply, (signal) => changes(
      async () => ({ event: 'runs', data: { runs: await masker.runs(await store.listRuns({ resourceId: found.id, limit })) } }),
      (s) => pause(workflowPollMs, s),
      signal,
    ))
  })
}
