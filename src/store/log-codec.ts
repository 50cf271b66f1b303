// The one encoding of log lines, shared by storage and the HTTP wire: each line is the
// compact JSON array `[seq,"time","stream","text"]` followed by `\n` (UTF-8). JSON never
// holds a raw newline (and UTF-8 never puts byte 0x0A inside a character), so newlines
// are exactly the line boundaries: a stored chunk can be sliced by counting them and
// sent to a client byte for byte, with no per-line decoding on the server.
import type { LogLineRecord, LogStream } from './types.js'

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
