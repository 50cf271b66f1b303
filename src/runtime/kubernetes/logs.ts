// The position in a Pod's log: `pods/log?timestamps=true` prefixes each line with its RFC3339Nano
// time. A reconnect asks for `sinceTime` (whole seconds: what the API server honours) and skips what
// was delivered by comparing times, counting the lines that share the last time; the engine's offset
// is the last delivered line's millisecond and how many lines it had, so a restart resumes there too.

import type { LogLine } from '../types.js'

export interface ParsedLine {
  /** Sortable key: UTC, nine fraction digits. */
  key: string
  time: string
  text: string
}

const TS = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2}) ?/

export function parseLogLine(raw: string): ParsedLine {
  const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
  const m = TS.exec(line)
  if (!m) return { key: '', time: new Date().toISOString(), text: line }
  const text = line.slice(m[0].length)
  let [, base, frac = '', zone] = m
  if (zone !== 'Z') {
    // Rare (API servers answer in UTC): shift to UTC, keeping the fraction.
    const d = new Date(`${base}${zone}`)
    base = d.toISOString().slice(0, 19)
  }
  const nanos = frac.padEnd(9, '0')
  return { key: `${base}.${nanos}Z`, time: `${base}.${nanos.slice(0, 3)}Z`, text }
}

/**
 * Offsets at or above this are positions in time (see LogCursor); below it, counts of lines from the start
 * (what an older control plane stored, and the position of a log whose lines carry no time).
 */
export const TIME_OFFSET_BASE = 1e12 * 1000

/** Lines sharing one millisecond that an offset can count (beyond, a resume may repeat some of them). */
const MAX_PER_MS = 999

/**
 * Tracks what was delivered so a re-read yields only new lines, and gives the engine an offset that resumes the
 * log from the last stored line's time after a control-plane restart: `epoch ms × 1000 + lines delivered in
 * that millisecond`. The resumed read asks for `sinceTime` (whole seconds, what the API server honours) and
 * skips what came before; it never reads the log from its start again.
 */
export class LogCursor {
  /** Lines still to skip from the start of the log (a resume from a line count). */
  private skipFromStart: number
  /** From a time offset: skip lines before this millisecond, and `skipAtMs` lines within it. */
  private resumeMs: number | undefined
  private skipAtMs = 0
  private countFromStart: number
  private lastKey = ''
  private atLastKey = 0
  /** Within the current read: lines seen at lastKey. */
  private seenAtLast = 0
  private lastMs = 0
  private atLastMs = 0

  constructor(fromOffset: number) {
    if (fromOffset >= TIME_OFFSET_BASE) {
      this.resumeMs = Math.floor(fromOffset / 1000)
      this.skipAtMs = fromOffset % 1000
      this.lastMs = this.resumeMs
      this.atLastMs = this.skipAtMs
      this.skipFromStart = 0
      this.countFromStart = 0
    } else {
      this.skipFromStart = fromOffset
      this.countFromStart = fromOffset
    }
  }

  /** Where the next read starts: the last line's second, or undefined to read from the start. */
  sinceTime(): string | undefined {
    if (this.lastKey) return `${this.lastKey.slice(0, 19)}Z`
    if (this.resumeMs !== undefined) return `${new Date(this.resumeMs).toISOString().slice(0, 19)}Z`
    return undefined
  }

  /** Call before every read. */
  beginRead(): void {
    this.seenAtLast = 0
    if (this.lastKey) this.skipFromStart = 0
  }

  /** The engine's offset after what was delivered (see the class comment). */
  get offset(): number {
    if (this.lastMs > 0) return this.lastMs * 1000 + Math.min(this.atLastMs, MAX_PER_MS)
    return this.countFromStart
  }

  /** The lines of `raw` not delivered before, as LogLines; counts them as delivered. */
  accept(raw: string[]): { parsed: ParsedLine; line: LogLine }[] {
    const out: { parsed: ParsedLine; line: LogLine }[] = []
    for (const r of raw) {
      const p = parseLogLine(r)
      const ms = p.key ? Date.parse(p.key) : NaN
      if (this.skipFromStart > 0) {
        this.skipFromStart--
        this.note(p.key, ms)
        continue
      }
      if (!this.lastKey && this.resumeMs !== undefined && p.key) {
        // The first read after a restart: skip up to the stored position.
        if (ms < this.resumeMs) continue
        if (ms === this.resumeMs && this.skipAtMs > 0) {
          this.skipAtMs--
          continue
        }
      }
      if (this.lastKey && p.key) {
        if (p.key < this.lastKey) continue
        if (p.key === this.lastKey && this.seenAtLast < this.atLastKey) {
          this.seenAtLast++
          continue
        }
      }
      this.note(p.key, ms)
      this.countFromStart++
      out.push({ parsed: p, line: { time: p.time, stream: 'stdout', text: p.text } })
    }
    return out
  }

  /** `ms`: the key's time in epoch milliseconds. */
  private note(key: string, ms: number): void {
    if (!key) return
    if (key === this.lastKey) {
      this.atLastKey++
      this.seenAtLast = this.atLastKey
    } else {
      this.lastKey = key
      this.atLastKey = 1
      this.seenAtLast = 1
    }
    if (ms === this.lastMs) this.atLastMs++
    else {
      this.lastMs = ms
      this.atLastMs = 1
    }
  }
}
