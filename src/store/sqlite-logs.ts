// Log lines. Appends write the lines and the runtime's resume offset in one
// transaction; reads are range scans on (step_run_id, seq), and because seqs
// are contiguous from 1, `tail: N` is a seek to logSeq - N, not a count.
import { CtlError } from '../errors.js'
import type { SqliteDb } from './sqlite-db.js'
import { STREAMS, STREAM_CODE } from './sqlite-rows.js'
import type { LogLineInput, LogLineRecord, LogQuery } from './types.js'

const DEFAULT_PAGE = 5000
/** Retention deletes in slices so appends of running steps wait milliseconds, not seconds. */
const DELETE_SLICE = 20_000

export async function appendLogs(db: SqliteDb, stepRunId: string, lines: LogLineInput[], newOffset: number): Promise<void> {
  for (const line of lines) {
    if (STREAM_CODE[line.stream] === undefined) throw new CtlError('E_USAGE', `unknown log stream ${String(line.stream)}`)
  }
  await db.write(() => {
    const sr = db.stmt('SELECT log_seq FROM step_runs WHERE id = ?').get(stepRunId) as { log_seq: number } | undefined
    if (!sr) throw new CtlError('E_NOT_FOUND', `step run ${stepRunId} not found`)
    const insert = db.stmt('INSERT INTO log_lines (step_run_id, seq, time, stream, text) VALUES (?, ?, ?, ?, ?)')
    let seq = sr.log_seq
    for (const line of lines) insert.run(stepRunId, ++seq, line.time, STREAM_CODE[line.stream], line.text)
    db.stmt('UPDATE step_runs SET log_seq = ?, log_offset = ? WHERE id = ?').run(seq, newOffset, stepRunId)
  })
}

interface Selected {
  id: string
  step: string
  attempt: number
  log_seq: number
}

/** The step attempts a query covers, in output order, each with the seq to read after. */
function selectStepRuns(db: SqliteDb, q: LogQuery): { sr: Selected; from: number }[] {
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
  sql += ' ORDER BY step, attempt'
  const rows = db.stmt(sql).all(...params) as Selected[]
  return rows.map((sr) => {
    let from = Math.max(0, q.afterSeq ?? 0)
    if (q.tail !== undefined) from = Math.max(from, sr.log_seq - Math.max(0, q.tail))
    return { sr, from }
  })
}

const PAGE_SQL = 'SELECT seq, time, stream, text FROM log_lines WHERE step_run_id = ? AND seq > ? ORDER BY seq LIMIT ?'

function readPage(db: SqliteDb, runId: string, sr: Selected, after: number, limit: number): LogLineRecord[] {
  const rows = db.stmt(PAGE_SQL).raw(true).all(sr.id, after, limit) as [number, string, number, string][]
  const out = new Array<LogLineRecord>(rows.length)
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!
    out[i] = { runId, step: sr.step, attempt: sr.attempt, seq: r[0], time: r[1], stream: STREAMS[r[2]] ?? 'stdout', text: r[3] }
  }
  return out
}

export async function readLogs(db: SqliteDb, q: LogQuery): Promise<LogLineRecord[]> {
  return db.read(() => {
    const out: LogLineRecord[] = []
    let remaining = q.limit ?? Number.MAX_SAFE_INTEGER
    for (const { sr, from } of selectStepRuns(db, q)) {
      if (remaining <= 0) break
      if (from >= sr.log_seq) continue
      const page = readPage(db, q.runId, sr, from, Math.min(remaining, sr.log_seq - from))
      for (const line of page) out.push(line)
      remaining -= page.length
    }
    return out
  })
}

export async function* iterateLogs(db: SqliteDb, q: LogQuery, pageSize = DEFAULT_PAGE): AsyncGenerator<LogLineRecord[]> {
  const size = Math.max(1, Math.floor(pageSize))
  const selected = await db.read(() => selectStepRuns(db, q))
  let remaining = q.limit ?? Number.MAX_SAFE_INTEGER
  for (const { sr, from } of selected) {
    let after = from
    while (remaining > 0) {
      const want = Math.min(size, remaining)
      // Each page is its own statement: no read transaction stays open while the consumer is slow.
      const page = await db.read(() => readPage(db, q.runId, sr, after, want))
      if (page.length === 0) break
      remaining -= page.length
      after = page[page.length - 1]!.seq
      yield page
      if (page.length < want) break
    }
  }
}

export async function deleteLogsBefore(db: SqliteDb, time: string): Promise<number> {
  const targets = await db.read(
    () =>
      db
        .stmt(
          `SELECT s.id, s.log_seq FROM step_runs s
           WHERE s.finished_at IS NOT NULL AND s.finished_at < ?
             AND EXISTS (SELECT 1 FROM log_lines l WHERE l.step_run_id = s.id)`,
        )
        .all(time) as { id: string; log_seq: number }[],
  )
  let deleted = 0
  for (const t of targets) {
    for (let upTo = DELETE_SLICE; ; upTo += DELETE_SLICE) {
      deleted += await db.write(
        () => db.stmt('DELETE FROM log_lines WHERE step_run_id = ? AND seq <= ?').run(t.id, upTo).changes,
      )
      if (upTo >= t.log_seq) break
    }
  }
  return deleted
}
