// The one encoding of log lines, shared by storage and the HTTP wire: each line is the
// compact JSON array `[seq,"time","stream","text"]` followed by `\n` (UTF-8). JSON never
// holds a raw newline (and UTF-8 never puts byte 0x0A inside a character), so newlines
// are exactly the line boundaries: a stored chunk can be sliced by counting them and
// sent to a client byte for byte, with no per-line decoding on the server.
import type { LogLineRecord, LogStream } from './records.js'

/** One decoded line as it travels: `[seq, time, stream, text]`. */
export type EncodedLine = [number, string, LogStream, string]

const NEWLINE = 0x0a

/** Everything after the seq: `,"time","stream","text"]\n`. Split so callers can encode before they know the seq. */
export function encodeLineTail(time: string, stream: LogStream, text: string): string {
  return `,${JSON.stringify(time)},"${stream}",${JSON.stringify(text)}]\n`
}

export function encodeLine(seq: number, time: string, stream: LogStream, text: string): string {
  return `[${seq}${encodeLineTail(time, stream, text)}`
}

/** Byte offset where line `index` (0-based) of an encoded buffer starts; buf.length if there are fewer lines. */
export function lineOffset(buf: Uint8Array, index: number, from = 0): number {
  let pos = from
  for (let i = 0; i < index; i++) {
    const nl = buf.indexOf(NEWLINE, pos)
    if (nl < 0) return buf.length
    pos = nl + 1
  }
  return pos
}

/** Decodes whole encoded lines (a newline-terminated UTF-8 slice) with one JSON.parse. */
export function decodeLines(buf: Buffer, start = 0, end = buf.length): EncodedLine[] {
  if (end <= start) return []
  // Drop the final newline, turn the others into commas: one JSON array of arrays.
  const last = buf[end - 1] === NEWLINE ? end - 1 : end
  const text = buf.toString('utf8', start, last)
  return JSON.parse(`[${text.replaceAll('\n', ',')}]`) as EncodedLine[]
}

export function toRecords(lines: EncodedLine[], runId: string, step: string, attempt: number, out: LogLineRecord[]): void {
  for (const l of lines) out.push({ runId, step, attempt, seq: l[0], time: l[1], stream: l[2], text: l[3] })
}

/**
 * Wire format (NDJSON, one JSON value per line), compact because 100 MB logs must move fast:
 * a context object `{"runId","step","attempt"}` whenever the step attempt changes, then one
 * array `[seq, time, stream, text]` per log line — the store's own chunk encoding
 * (the line encoding above), so stored chunks go out as they are. LogDecoder turns them back
 * into LogLineRecords.
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

type WireItem = [number, string, LogStream, string] | { runId: string; step: string; attempt: number }

/**
 * Decodes the log wire format (LogEncoder): context objects, then one
 * `[seq, time, stream, text]` array per line. One JSON.parse per chunk, not per line.
 */
export class LogDecoder {
  private runId = ''
  private step = ''
  private attempt = 0
  decode(text: string): LogLineRecord[] {
    if (text.length === 0) return []
    // JSON text never holds a raw newline, so newlines are exactly the record separators.
    const items = JSON.parse(`[${text.replaceAll('\n', ',')}]`) as WireItem[]
    const out: LogLineRecord[] = []
    for (const item of items) {
      if (Array.isArray(item)) {
        out.push({ runId: this.runId, step: this.step, attempt: this.attempt, seq: item[0], time: item[1], stream: item[2], text: item[3] })
      } else {
        this.runId = item.runId
        this.step = item.step
        this.attempt = item.attempt
      }
    }
    return out
  }
}
