// Log lines, stored in chunks (see migrations/0002_log_chunks): one row holds many
// consecutive lines of a step attempt, already encoded. An append writes its lines and
// the runtime's resume offset in one transaction; reads seek to the first chunk past
// the wanted seq and slice the edge chunks, so afterSeq, tail and limit stay exact (log-chunks.ts,
// shared with PostgreSQL).
import { CtlError } from '../errors.js'
import { encodeLineTail } from '../api/log-codec.js'
import * as chunks from './log-chunks.js'
import { CHUNK_BYTES, DELETE_CHUNKS, MERGE_BELOW, READ_CHUNKS, type ChunkSource, type SelectedAttempt } from './log-chunks.js'
import type { SqliteDb } from './sqlite-db.js'
import { STREAM_CODE } from './rows.js'
import type { LogChunk, LogLineInput, LogLineRecord, LogQuery } from './types.js'

/** Resolves with the attempt's run id (for the store's log waiters), or undefined when `fromOffset` did not match (nothing written). */
export async function appendLogs(db: SqliteDb, stepRunId: string, lines: LogLineInput[], newOffset: number, fromOffset?: number): Promise<string | undefined> {
  // Encoded before taking the write lock; only the seq is added inside it.
  const tails = new Array<string>(lines.length)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (STREAM_CODE[line.stream] === undefined) throw new CtlError('E_USAGE', `unknown log stream ${String(line.stream)}`)
    tails[i] = encodeLineTail(line.time, line.stream, line.text)
  }
  return db.write(() => {
    const sr = db.stmt('SELECT log_seq, run_id, log_offset FROM step_runs WHERE id = ?').get(stepRunId) as { log_seq: number; run_id: string; log_offset: number } | undefined
    if (!sr) throw new CtlError('E_NOT_FOUND', `step run ${stepRunId} not found`)
    if (fromOffset !== undefined && Number(sr.log_offset) !== fromOffset) return undefined
    let seq = sr.log_seq
    let i = 0
    if (lines.length > 0 && seq > 0) {
      const last = db
        .stmt('SELECT length(body) AS size FROM log_chunks WHERE step_run_id = ? AND last_seq = ?')
        .get(stepRunId, seq) as { size: number } | undefined
      if (last && last.size < MERGE_BELOW) {
        let text = ''
        while (i < lines.length && last.size + text.length < CHUNK_BYTES) text += `[${++seq}${tails[i++]!}`
        const body = db
          .stmt('SELECT body FROM log_chunks WHERE step_run_id = ? AND last_seq = ?')
          .get(stepRunId, sr.log_seq) as { body: Buffer }
        db.stmt('UPDATE log_chunks SET last_seq = ?, body = ? WHERE step_run_id = ? AND last_seq = ?').run(
          seq, Buffer.concat([body.body, Buffer.from(text)]), stepRunId, sr.log_seq,
        )
      }
    }
    const insert = db.stmt('INSERT INTO log_chunks (step_run_id, first_seq, last_seq, body) VALUES (?, ?, ?, ?)')
    while (i < lines.length) {
      const first = seq + 1
      let text = ''
      while (i < lines.length && text.length < CHUNK_BYTES) text += `[${++seq}${tails[i++]!}`
      insert.run(stepRunId, first, seq, Buffer.from(text))
    }
    db.stmt('UPDATE step_runs SET log_seq = ?, log_offset = ? WHERE id = ?').run(seq, newOffset, stepRunId)
    return sr.run_id
  })
}

const CHUNKS_SQL = `SELECT first_seq, last_seq, body FROM log_chunks
  WHERE step_run_id = ? AND last_seq > ? AND first_seq <= ? ORDER BY last_seq LIMIT ?`

/** What the shared reading code (log-chunks.ts) reads, from this SQLite file. */
function source(db: SqliteDb): ChunkSource {
  return {
    attempts: (q) => db.read(() => {
      let sql = 'SELECT id, step, attempt, log_seq FROM step_runs WHERE run_id = ?'
      const params: unknown[] = [q.runId]
      if (q.step !== undefined) {
        sql += ' AND step = ?'
        params.push(q.step)
      }
      if (q.attempt !== undefined) {
        sql += ' AND attempt = ?'
        params.push(q.attempt)
      }
      return db.stmt(`${sql} ORDER BY step, attempt`).all(...params) as SelectedAttempt[]
    }),
    chunksAfter: (stepRunId, after) => db.read(() => {
      const sr = db.stmt('SELECT log_seq FROM step_runs WHERE id = ?').get(stepRunId) as { log_seq: number } | undefined
      const upTo = sr?.log_seq ?? 0
      if (after >= upTo) return { upTo, rows: [] }
      const rows = db.stmt(CHUNKS_SQL).raw(true).all(stepRunId, after, upTo, READ_CHUNKS) as [number, number, Buffer][]
      return { upTo, rows: rows.map(([first, last, body]) => ({ first, last, body })) }
    }),
  }
}

export function readLogs(db: SqliteDb, q: LogQuery): Promise<LogLineRecord[]> {
  return chunks.readLogs(source(db), q)
}

export function iterateLogs(db: SqliteDb, q: LogQuery, pageSize?: number): AsyncGenerator<LogLineRecord[]> {
  return chunks.iterateLogs(source(db), q, pageSize)
}

export function iterateLogChunks(db: SqliteDb, q: LogQuery): AsyncGenerator<LogChunk> {
  return chunks.iterateLogChunks(source(db), q)
}

export async function deleteLogsBefore(db: SqliteDb, time: string): Promise<number> {
  const targets = await db.read(
    () =>
      db
        .stmt(
          `SELECT s.id FROM step_runs s
           WHERE s.finished_at IS NOT NULL AND s.finished_at < ?
             AND EXISTS (SELECT 1 FROM log_chunks c WHERE c.step_run_id = s.id)`,
        )
        .pluck()
        .all(time) as string[],
  )
  let deleted = 0
  for (const id of targets) {
    for (;;) {
      const lines = await db.write(() => {
        const rows = db
          .stmt('SELECT first_seq, last_seq FROM log_chunks WHERE step_run_id = ? ORDER BY last_seq LIMIT ?')
          .raw(true)
          .all(id, DELETE_CHUNKS) as [number, number][]
        if (rows.length === 0) return 0
        db.stmt('DELETE FROM log_chunks WHERE step_run_id = ? AND last_seq <= ?').run(id, rows[rows.length - 1]![1])
        return rows.reduce((n, [first, last]) => n + last - first + 1, 0)
      })
      if (lines === 0) break
      deleted += lines
    }
  }
  return deleted
}
