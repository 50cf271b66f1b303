// The part of the chunked log store both stores share (SQLite: sqlite-logs.ts, PostgreSQL:
// postgres/logs.ts): the chunking constants, so both cut a log into the same chunks, and reading —
// where a query starts in each step attempt, how chunk rows are sliced to exact seqs, and how slices
// become pages of records or wire chunks. Each store only runs its own statements (ChunkSource).
// Because seqs are contiguous from 1, `tail: N` is a seek to logSeq - N, not a count.
import { decodeLines, lineOffset, toRecords } from '../api/log-codec.js'
import type { LogChunk, LogLineRecord, LogQuery } from './types.js'

export const LOG_PAGE_LINES = 5000
/** A new chunk takes lines until it holds about this much encoded text. */
export const CHUNK_BYTES = 128 * 1024
/** Small appends (a chatty step, a few lines per poll) grow the last chunk while it is below this,
 *  so a long log of tiny appends still ends up in few rows; rewriting ≤ 32 KiB per append is cheap. */
export const MERGE_BELOW = 32 * 1024
/** Chunks per read statement: up to ~2 MiB in memory per step of an iteration. */
export const READ_CHUNKS = 16
/** Retention deletes in slices so appends of running steps wait milliseconds, not seconds. */
export const DELETE_CHUNKS = 100

/** A step attempt a query covers. */
export interface SelectedAttempt {
  id: string
  step: string
  attempt: number
  log_seq: number
}

/** Lines firstSeq..lastSeq of one step attempt: bytes start..end of a chunk's body. */
export interface Slice {
  firstSeq: number
  lastSeq: number
  body: Buffer
  start: number
  end: number
}

/** One stored chunk row. */
export interface ChunkRow {
  first: number
  last: number
  body: Buffer
}

/** What a store reads for the shared code, one statement (or two) per call, no transaction held between calls. */
export interface ChunkSource {
  /** The step attempts of the query's run (and step, attempt), ordered by step (byte-wise) and attempt. */
  attempts(q: LogQuery): Promise<SelectedAttempt[]>
  /** The attempt's committed log_seq (read first) and up to READ_CHUNKS chunk rows with last_seq > after and first_seq <= it
   *  (none when after >= log_seq). */
  chunksAfter(stepRunId: string, after: number): Promise<{ upTo: number; rows: ChunkRow[] }>
}

/** The seq a query reads after in one attempt: afterSeq, moved up by tail. */
function readAfter(q: LogQuery, logSeq: number): number {
  let from = Math.max(0, q.afterSeq ?? 0)
  if (q.tail !== undefined) from = Math.max(from, logSeq - Math.max(0, q.tail))
  return from
}

/** Chunk rows cut to lines after `after`, up to the committed `upTo`, at most `max` lines. */
function sliceChunks(rows: readonly ChunkRow[], after: number, upTo: number, max: number): Slice[] {
  const out: Slice[] = []
  let left = max
  for (const { first, last, body } of rows) {
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

/** Every slice a query covers, in order; until a read finds nothing, so lines appended meanwhile are picked up too. */
async function* slicesOf(src: ChunkSource, q: LogQuery): AsyncGenerator<Slice & { sr: SelectedAttempt }> {
  let remaining = q.limit ?? Number.MAX_SAFE_INTEGER
  for (const sr of await src.attempts(q)) {
    let after = readAfter(q, sr.log_seq)
    while (remaining > 0) {
      // Sliced to the committed log_seq, read first: a chunk past it belongs to a later append.
      const { upTo, rows } = await src.chunksAfter(sr.id, after)
      const slices = sliceChunks(rows, after, upTo, remaining)
      if (slices.length === 0) break
      for (const s of slices) {
        remaining -= s.lastSeq - s.firstSeq + 1
        after = s.lastSeq
        yield { ...s, sr }
      }
    }
  }
}

export async function readLogs(src: ChunkSource, q: LogQuery): Promise<LogLineRecord[]> {
  const out: LogLineRecord[] = []
  for await (const s of slicesOf(src, q)) toRecords(decodeLines(s.body, s.start, s.end), q.runId, s.sr.step, s.sr.attempt, out)
  return out
}

export async function* iterateLogs(src: ChunkSource, q: LogQuery, pageSize = LOG_PAGE_LINES): AsyncGenerator<LogLineRecord[]> {
  const size = Math.max(1, Math.floor(pageSize))
  let page: LogLineRecord[] = []
  let current: SelectedAttempt | undefined
  for await (const s of slicesOf(src, q)) {
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

export async function* iterateLogChunks(src: ChunkSource, q: LogQuery): AsyncGenerator<LogChunk> {
  for await (const s of slicesOf(src, q)) {
    const data = s.start === 0 && s.end === s.body.length ? s.body : s.body.subarray(s.start, s.end)
    yield { runId: q.runId, step: s.sr.step, attempt: s.sr.attempt, firstSeq: s.firstSeq, lastSeq: s.lastSeq, data }
  }
}
