// The store contract, log lines: appended with the runtime's resume offset, read, streamed, retained,
// and waited for (log -f answered by any replica).
// Times are ISO-8601 UTC text with milliseconds (`2024-05-01T12:00:00.000Z`), which sorts as text
// in both databases. Records are plain data: what a call returns stays whole after the store closes.

export type LogStream = 'stdout' | 'stderr' | 'system'

export interface LogLineInput {
  time: string
  stream: LogStream
  text: string
}

export interface LogLineRecord extends LogLineInput {
  runId: string
  step: string
  attempt: number
  seq: number
}

/**
 * Without `step`, every step of the run; without `attempt`, every attempt of the selected steps.
 * Lines come ordered by step name, attempt, seq. `afterSeq` and `tail` apply to each selected
 * step attempt on its own (like `kubectl logs --tail` per container); `limit` caps the total.
 */
export interface LogQuery {
  runId: string
  step?: string
  attempt?: number
  afterSeq?: number
  tail?: number
  limit?: number
}

/**
 * A run of consecutive lines of one step attempt, already encoded: `data` holds lines
 * firstSeq..lastSeq as `[seq,"time","stream","text"]\n` each (UTF-8, encodeLine in src/api/log-codec.ts).
 * That encoding is the store's line encoding AND the API's log wire format, on purpose: the server
 * sends chunks on byte for byte, which is why logs stream fast. A store keeps lines so, or encodes
 * them with that codec when it hands them out.
 */
export interface LogChunk {
  runId: string
  step: string
  attempt: number
  firstSeq: number
  lastSeq: number
  data: Uint8Array
}

export interface LogStore {
  /**
   * Lines get seq logSeq+1.. and the runtime's resume offset is set, in ONE transaction: a crash never loses or repeats a line.
   * With `fromOffset` it is a compare-and-set: written only when the stored offset is `fromOffset` (false otherwise, nothing
   * written), so two followers of one attempt (a stalled owner and its successor) cannot both store the same bytes.
   */
  appendLogs(stepRunId: string, lines: LogLineInput[], newOffset: number, fromOffset?: number): Promise<boolean>
  readLogs(query: LogQuery): Promise<LogLineRecord[]>
  /** Streams in pages (no transaction held between pages) for big logs without holding them in memory. */
  iterateLogs(query: LogQuery, pageSize?: number): AsyncIterable<LogLineRecord[]>
  /**
   * The same lines as iterateLogs, as encoded chunks (see LogChunk: the line encoding shared with the
   * API; no transaction held between chunks), for sending logs on without decoding them.
   */
  iterateLogChunks(query: LogQuery): AsyncIterable<LogChunk>
  /** Retention: deletes the lines of step attempts that finished before `time`; returns the number of lines deleted. */
  deleteLogsBefore(time: string): Promise<number>
}

/** New log lines across replicas, for `log -f` answered by any replica. */
export interface LogNotifier {
  /**
   * Resolves once lines were appended to `runId` after this call, by this process or any other
   * sharing the store (PostgreSQL: LISTEN/NOTIFY; SQLite: this process's appends, other processes'
   * only through the timeout), or after `timeoutMs`, or when `signal` aborts, or when the store
   * closes. Never rejects.
   */
  waitForLogs(runId: string, timeoutMs: number, signal?: AbortSignal): Promise<void>
}
