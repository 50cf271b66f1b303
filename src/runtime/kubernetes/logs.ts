// The position in a Pod's log: `pods/log?timestamps=true` prefixes each line with its RFC3339Nano
// time. The engine's offset is the number of lines delivered; within one follow() a reconnect asks
// for `sinceTime` (whole seconds: what the API server honours) and skips what was delivered by
// comparing times, counting the lines that share the last time.

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

/** Tracks what was delivered so a re-read from `sinceTime` yields only new lines. */
export class LogCursor {
  /** Lines delivered in total (the engine's offset). */
  delivered: number
  /** Lines still to skip from the start of the log (a resume from an offset without times). */
  private skipFromStart: number
  private lastKey = ''
  private atLastKey = 0
  /** Within the current read: lines seen at lastKey. */
  private seenAtLast = 0

  constructor(fromOffset: number) {
    this.delivered = fromOffset
    this.skipFromStart = fromOffset
  }

  /** The sinceTime of the next read, or undefined to read from the start. */
  sinceTime(): string | undefined {
    if (!this.lastKey) return undefined
    return `${this.lastKey.slice(0, 19)}Z`
  }

  /** Call before every read. */
  beginRead(): void {
    this.seenAtLast = 0
    if (this.lastKey) this.skipFromStart = 0
  }

  /** The lines of `raw` not delivered before, as LogLines; counts them as delivered. */
  accept(raw: string[]): { parsed: ParsedLine; line: LogLine }[] {
    const out: { parsed: ParsedLine; line: LogLine }[] = []
    for (const r of raw) {
      const p = parseLogLine(r)
      if (this.skipFromStart > 0) {
        this.skipFromStart--
        this.note(p.key)
        continue
      }
      if (this.lastKey && p.key) {
        if (p.key < this.lastKey) continue
        if (p.key === this.lastKey && this.seenAtLast < this.atLastKey) {
          this.seenAtLast++
          continue
        }
      }
      this.note(p.key)
      this.delivered++
      out.push({ parsed: p, line: { time: p.time, stream: 'stdout', text: p.text } })
    }
    return out
  }

  private note(key: string): void {
    if (!key) return
    if (key === this.lastKey) {
      this.atLastKey++
      this.seenAtLast = this.atLastKey
    } else {
      this.lastKey = key
      this.atLastKey = 1
      this.seenAtLast = 1
    }
  }
}
