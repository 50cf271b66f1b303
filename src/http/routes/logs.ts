// GET /api/v1/runs/:id/logs — NDJSON (src/api/log-codec.ts). Without `follow` the lines stored now; with
// `follow` it keeps streaming until the step (or the whole run) has ended and every line is sent
// (src/logs/follow.ts). Stored chunks go out as they are, so 100 MB moves at disk speed.
import { Readable } from 'node:stream'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { CtlError } from '../../errors.js'
import type { Store } from '../../store/types.js'
import type { LogsQuery } from '../../api/types.js'
import { followLogs, readLogs } from '../../logs/follow.js'
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
      ? followLogs(store, run, q, closing, opts.pollMs ?? 100)
      : readLogs(store, run, q)
    reply.header('content-type', 'application/x-ndjson; charset=utf-8')
    reply.header('cache-control', 'no-store')
    // The stream bypasses response serialization; Fastify pipes it with backpressure.
    return reply.send(Readable.from(source))
  })
}
