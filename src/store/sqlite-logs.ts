// Log lines, stored in chunks (see migrations/0002_log_chunks): one row holds many
// consecutive lines of a step attempt, already encoded. An append writes its lines and
// the runtime's resume offset in one transaction; reads seek to the first chunk past
// the wanted seq and slice the edge chunks, so afterSeq, tail and limit stay exact.
// Because seqs are contiguous from 1, `tail: N` is a seek to logSeq - N, not a count.
import { CtlError } from '../errors.js'
import { decodeLines, encodeLineTail, lineOffset, toRecords } from '../api/log-codec.js'
import type { SqliteDb } from './sqlite-db.js'
import { STREAM_CODE } from './sqlite-rows.js'
import type { LogChunk, LogLineInput, LogLineRecord, LogQuery } from './types.js'

const DEFAULT_PAGE = 5000
/** A new chunk takes lines until it holds about this much encoded text. */
const CHUNK_BYTES = 128 * 1024
/** Small appends (a chatty step, a few lines per poll) grow the last chunk while it is below this,
 *  so a long log of tiny appends still ends up in few rows; rewriting ≤ 32 KiB per append is cheap. */
const MERGE_BELOW = 32 * 1024
/** Chunks per read statement: up to ~2 MiB in memory per step of an iteration. */
const READ_CHUNKS = 16
/** Retention deletes in slices so appends of running steps wait milliseconds, not seconds. */
const DELETE_CHUNKS = 100

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

/** Lines firstSeq..lastSeq of one step attempt: bytes start..end of a chunk's body. */
interface Slice {
  firstSeq: number
  lastSeq: number
  body: Buffer
  start: number
  end: number
}

const CHUNKS_SQL = `SELECT first_seq, last_seq, body FROM log_chunks
  WHERE step_run_id = ? AND last_seq > ? AND first_seq <= ? ORDER BY last_seq LIMIT ?`

/**
 * Up to READ_CHUNKS chunks' worth of lines after `after` (at most `max` lines), sliced to the
 * step attempt's committed log_seq (read first: a chunk past it is not part of the log yet).
 */
function readSlices(db: SqliteDb, stepRunId: string, after: number, max: number): Slice[] {
  const sr = db.stmt('SELECT log_seq FROM step_runs WHERE id = ?').get(stepRunId) as { log_seq: number } | undefined
  const upTo = sr?.log_seq ?? 0
  if (after >= upTo || max <= 0) return []
  const rows = db.stmt(CHUNKS_SQL).raw(true).all(stepRunId, after, upTo, READ_CHUNKS) as [number, number, Buffer][]
  const out: Slice[] = []
  let left = max
  for (const [first, last, body] of rows) {
    const lo = Math.max(after + 1, first)
    const hi = Math.min(last, upTo, lo + left - 1)
    if (lo > hi) continue
    const start = lo === first ? 0 : lineOffset(body, lo - first)
    const end = hi === last ? body.length : lineOffset(body, hi - lo + 1, start)
    out.push({ firstSeq: lo, lastSeq: hi, body, start, end })
    left -= hi - lo + 1
    if (left <= 0) break
  }
  return out
}

interface SliceOf extends Slice {
  sr: Selected
}

/** Every slice a query covers, in order; each batch is its own statement, no transaction held between them. */
async function* iterateSlices(db: SqliteDb, q: LogQuery): AsyncGenerator<SliceOf> {
  const selected = await db.read(() => selectStepRuns(db, q))
  let remaining = q.limit ?? Number.MAX_SAFE_INTEGER
  for (const { sr, from } of selected) {
    let after = from
    // Until a read finds nothing: lines appended meanwhile are picked up too.
    while (remaining > 0) {
      const slices = await db.read(() => readSlices(db, sr.id, after, remaining))
      if (slices.length === 0) break
      for (const s of slices) {
        remaining -= s.lastSeq - s.firstSeq + 1
        after = s.lastSeq
        yield { ...s, sr }
      }
    }
  }
}

export async function readLogs(db: SqliteDb, q: LogQuery): Promise<LogLineRecord[]> {
  return db.read(() => {
    const out: LogLineRecord[] = []
    let remaining = q.limit ?? Number.MAX_SAFE_INTEGER
    for (const { sr, from } of selectStepRuns(db, q)) {
      let after = from
      while (remaining > 0) {
        const slices = readSlices(db, sr.id, after, remaining)
        if (slices.length === 0) break
        for (const s of slices) {
          toRecords(decodeLines(s.body, s.start, s.end), q.runId, sr.step, sr.attempt, out)
          remaining -= s.lastSeq - s.firstSeq + 1
          after = s.lastSeq
        }
      }
    }
    return out
  })
}

export async function* iterateLogs(db: SqliteDb, q: LogQuery, pageSize = DEFAULT_PAGE): AsyncGenerator<LogLineRecord[]> {
  const size = Math.max(1, Math.floor(pageSize))
  let page: LogLineRecord[] = []
  let current: Selected | undefined
  for await (const s of iterateSlices(db, q)) {
    // Pages never mix step attempts.
    if (current !== s.sr && page.length > 0) {
      yield page
      page = []
    }
    current = s.sr
    const lines: LogLineRecord[] = []
    toRecords(decodeLines(s.body, s.start, s.end), q.runId, s.sr.step, s.sr.attempt, lines)
    for (const line of lines) {
      page.push(line)
      if (page.length === size) {
        yield page
        page = []
      }
    }
  }
  if (page.length > 0) yield page
}

export async function* iterateLogChunks(db: SqliteDb, q: LogQuery): AsyncGenerator<LogChunk> {
  for await (const s of iterateSlices(db, q)) {
    const data = s.start === 0 && s.end === s.body.length ? s.body : s.body.subarray(s.start, s.end)
    yield { runId: q.runId, step: s.sr.step, attempt: s.sr.attempt, firstSeq: s.firstSeq, lastSeq: s.lastSeq, data }
  }
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
