// Log lines on PostgreSQL, chunked exactly as on SQLite (../sqlite-logs.ts, ../../api/log-codec.ts): one
// row holds consecutive encoded lines of a step attempt, so reads go out as wire bytes. An append
// locks the attempt's step_runs row (two appenders of one attempt never interleave), writes its
// chunks, the new log_seq and resume offset, and a NOTIFY, in one transaction: a crash loses or
// repeats no line, and followers on every replica wake once the lines are visible.
import { CtlError } from '../../errors.js'
import { encodeLineTail } from '../../api/log-codec.js'
import * as chunks from '../log-chunks.js'
import { CHUNK_BYTES, DELETE_CHUNKS, MERGE_BELOW, READ_CHUNKS, type ChunkSource } from '../log-chunks.js'
import type { LogWaiters } from '../log-waiters.js'
import type { LogChunk, LogLineInput, LogLineRecord, LogQuery, LogStream } from '../types.js'
import type { PgDb, PgQuery } from './db.js'

/** The channel appends notify on; the payload is the run id. */
export const LOG_CHANNEL = 'ctl_logs'
/** NOTIFY payloads must stay under 8000 bytes; a run id is far shorter, a longer one only loses the wake-up. */
const MAX_PAYLOAD = 7000
const STREAMS: ReadonlySet<LogStream> = new Set<LogStream>(['stdout', 'stderr', 'system'])

/** This process's followers per database, so an append wakes them even while LISTEN is reconnecting. */
const localWaiters = new WeakMap<PgDb, LogWaiters>()

/** False (nothing written) when `fromOffset` is given and the attempt's stored log offset differs. */
export async function appendLogs(db: PgDb, stepRunId: string, lines: LogLineInput[], newOffset: number, fromOffset?: number): Promise<boolean> {
  // Encoded before the transaction; only the seq is added inside it.
  const tails = new Array<string>(lines.length)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (!STREAMS.has(line.stream)) throw new CtlError('E_USAGE', `unknown log stream ${String(line.stream)}`)
    tails[i] = encodeLineTail(line.time, line.stream, line.text)
  }
  const runId = await db.tx(async (q) => {
    const sr = await q.one<{ log_seq: string | number; run_id: string; log_offset: string | number }>('SELECT log_seq, run_id, log_offset FROM step_runs WHERE id = $1 FOR UPDATE', [stepRunId])
    if (!sr) throw new CtlError('E_NOT_FOUND', `step run ${stepRunId} not found`)
    if (fromOffset !== undefined && Number(sr.log_offset) !== fromOffset) return undefined
    const before = Number(sr.log_seq)
    let seq = before
    let i = 0
    if (lines.length > 0 && seq > 0) {
      const last = await q.one<{ size: number }>('SELECT octet_length(body) AS size FROM log_chunks WHERE step_run_id = $1 AND last_seq = $2', [stepRunId, seq])
      if (last && last.size < MERGE_BELOW) {
        let text = ''
        while (i < lines.length && last.size + text.length < CHUNK_BYTES) text += `[${++seq}${tails[i++]!}`
        await q.exec('UPDATE log_chunks SET last_seq = $1, body = body || $2 WHERE step_run_id = $3 AND last_seq = $4', [
          seq, Buffer.from(text), stepRunId, before,
        ])
      }
    }
    while (i < lines.length) {
      const first = seq + 1
      let text = ''
      while (i < lines.length && text.length < CHUNK_BYTES) text += `[${++seq}${tails[i++]!}`
      await q.exec('INSERT INTO log_chunks (step_run_id, first_seq, last_seq, body) VALUES ($1, $2, $3, $4)', [stepRunId, first, seq, Buffer.from(text)])
    }
    if (lines.length > 0 && Buffer.byteLength(sr.run_id) <= MAX_PAYLOAD) {
      // The notification is delivered at commit to every listening replica (this one included).
      await q.exec(
        'WITH u AS (UPDATE step_runs SET log_seq = $1, log_offset = $2 WHERE id = $3 RETURNING run_id) SELECT pg_notify($4, run_id) FROM u',
        [seq, newOffset, stepRunId, LOG_CHANNEL],
      )
    } else {
      await q.exec('UPDATE step_runs SET log_seq = $1, log_offset = $2 WHERE id = $3', [seq, newOffset, stepRunId])
    }
    return sr.run_id
  })
  if (runId === undefined) return false
  if (lines.length > 0) localWaiters.get(db)?.notify(runId)
  return true
}

/** LISTENs for appends of every replica and wakes this process's followers of that run. */
export async function startLogNotifications(db: PgDb, waiters: LogWaiters): Promise<void> {
  localWaiters.set(db, waiters)
  await db.listen(
    LOG_CHANNEL,
    (runId) => {
      if (runId) waiters.notify(runId)
    },
    // Appends while the connection was down were not heard: every follower reads once more.
    () => waiters.wakeAll(),
  )
}

const CHUNKS_SQL = `SELECT first_seq, last_seq, body FROM log_chunks
  WHERE step_run_id = $1 AND last_seq > $2 AND first_seq <= $3 ORDER BY last_seq LIMIT $4`

/** What the shared reading code (../log-chunks.ts) reads, from PostgreSQL: statement by statement, no transaction held. */
function source(db: PgQuery): ChunkSource {
  return {
    async attempts(q) {
      let sql = 'SELECT id, step, attempt, log_seq FROM step_runs WHERE run_id = $1'
      const params: unknown[] = [q.runId]
      if (q.step !== undefined) {
        params.push(q.step)
        sql += ` AND step = $${params.length}`
      }
      if (q.attempt !== undefined) {
        params.push(q.attempt)
        sql += ` AND attempt = $${params.length}`
      }
      // Byte-wise, as SQLite orders.
      const rows = await db.rows<{ id: string; step: string; attempt: number | string; log_seq: number | string }>(`${sql} ORDER BY step COLLATE "C", attempt`, params)
      return rows.map((r) => ({ id: r.id, step: r.step, attempt: Number(r.attempt), log_seq: Number(r.log_seq) }))
    },
    async chunksAfter(stepRunId, after) {
      // log_seq read first: chunk rows past it belong to a later append and are cut off, so a reader never sees a line before its seq is committed.
      const sr = await db.one<{ log_seq: number | string }>('SELECT log_seq FROM step_runs WHERE id = $1', [stepRunId])
      const upTo = Number(sr?.log_seq ?? 0)
      if (after >= upTo) return { upTo, rows: [] }
      const rows = await db.rows<{ first_seq: string | number; last_seq: string | number; body: Buffer }>(CHUNKS_SQL, [stepRunId, after, upTo, READ_CHUNKS])
      return { upTo, rows: rows.map((r) => ({ first: Number(r.first_seq), last: Number(r.last_seq), body: r.body })) }
    },
  }
}

export function readLogs(db: PgDb, q: LogQuery): Promise<LogLineRecord[]> {
  return chunks.readLogs(source(db), q)
}

export function iterateLogs(db: PgDb, q: LogQuery, pageSize?: number): AsyncGenerator<LogLineRecord[]> {
  return chunks.iterateLogs(source(db), q, pageSize)
}

export function iterateLogChunks(db: PgDb, q: LogQuery): AsyncGenerator<LogChunk> {
  return chunks.iterateLogChunks(source(db), q)
}

/** Deletes the lines of attempts finished before `time`, a few chunks per statement so appends never wait long. */
export async function deleteLogsBefore(db: PgDb, time: string): Promise<number> {
  const targets = await db.rows<{ id: string }>(
    `SELECT s.id FROM step_runs s
     WHERE s.finished_at IS NOT NULL AND s.finished_at < $1
       AND EXISTS (SELECT 1 FROM log_chunks c WHERE c.step_run_id = s.id)`,
    [time],
  )
  let deleted = 0
  for (const { id } of targets) {
    for (;;) {
      const rows = await db.rows<{ first_seq: string | number; last_seq: string | number }>(
        `DELETE FROM log_chunks WHERE step_run_id = $1 AND last_seq IN (
           SELECT last_seq FROM log_chunks WHERE step_run_id = $1 ORDER BY last_seq LIMIT $2)
         RETURNING first_seq, last_seq`,
        [id, DELETE_CHUNKS],
      )
      if (rows.length === 0) break
      deleted += rows.reduce((n, r) => n + Number(r.last_seq) - Number(r.first_seq) + 1, 0)
    }
  }
  return deleted
}
