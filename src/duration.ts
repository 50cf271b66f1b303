// The one duration grammar of ctl: manifests (timeouts, retry backoff), the API (key expiry, `since`),
// the server's settings (log retention, Kubernetes grace periods) and the CLI all read durations here,
// so `1m30s` means the same thing everywhere and nothing downstream can overflow a timer or a Date.
//
//   duration  = part { part }                 units largest first, each at most once: 1h30m, 2d12h
//   part      = number unit
//   number    = digits [ "." digits ]          fractions allowed (1.5h); the total is rounded to ms
//   unit      = "w" | "d" | "h" | "m" | "s" | "ms"
//   iso       = "P" [n "W"] [n "D"] [ "T" [n "H"] [n "M"] [n "S"] ]   ISO 8601 as Kestra writes it (PT1H30M)
//
// A bare number is seconds only where a caller allows it (`bareSeconds`), and `0` only where zero
// means something (`allowZero`). Every use names its own maximum.
import { CtlError, type ErrorCode } from './errors.js'

export const MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const
type Unit = keyof typeof MS
const ORDER: readonly Unit[] = ['w', 'd', 'h', 'm', 's', 'ms']

/** Longer text is never a duration; it is refused before any regular expression runs on it. */
export const DURATION_MAX_LENGTH = 64

export interface DurationOptions {
  /** What the duration is, for messages: `timeout`, `--pod-ttl`. */
  what?: string
  /** Largest value accepted, in milliseconds. */
  maxMs: number
  /** `0`, `0s` accepted (e.g. "keep forever", "no grace"); otherwise a duration must be longer than zero. */
  allowZero?: boolean
  /** A bare number (`90`, `1.5`) is seconds, where that is documented for the setting. */
  bareSeconds?: boolean
  /** The code of the thrown error; E_USAGE (a flag or request parameter) unless the caller says otherwise. */
  code?: ErrorCode
}

export type DurationReason = 'syntax' | 'zero' | 'too-long'

export type DurationResult = { ok: true; ms: number } | { ok: false; reason: DurationReason; message: string }

/** A duration that does not parse or is out of range. */
export class DurationError extends CtlError {
  readonly reason: DurationReason
  constructor(code: ErrorCode, reason: DurationReason, message: string) {
    super(code, message, { reason })
    this.name = 'DurationError'
    this.reason = reason
  }
}

const PART = /(\d+(?:\.\d+)?)(ms|w|d|h|m|s)/y
const BARE = /^\d+(?:\.\d+)?$/
const ISO = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/

/** Reads `text`; never throws. */
export function readDuration(text: string | number, opts: DurationOptions): DurationResult {
  const what = opts.what ?? 'duration'
  const shown = typeof text === 'number' ? String(text) : JSON.stringify(text.length > DURATION_MAX_LENGTH ? `${text.slice(0, DURATION_MAX_LENGTH)}…` : text)
  const examples = opts.bareSeconds ? '90 (seconds), 500ms, 30s, 1m30s, 2h, 1d or PT1H' : '500ms, 30s, 1m30s, 2h, 1d, 1w or PT1H'
  const syntax = (why: string): DurationResult => ({ ok: false, reason: 'syntax', message: `${what} ${shown} is not a duration${why}; write for example ${examples}` })
  let ms: number
  if (typeof text === 'number') {
    if (text === 0 && opts.allowZero) ms = 0
    else if (!Number.isFinite(text) || text < 0) return syntax('')
    else if (!opts.bareSeconds) return syntax(' (a unit is missing)')
    else ms = text * 1000
  } else {
    const t = text.trim()
    if (t.length === 0) return syntax(' (it is empty)')
    if (t.length > DURATION_MAX_LENGTH) return syntax(` (longer than ${DURATION_MAX_LENGTH} characters)`)
    if (BARE.test(t)) {
      if (!opts.bareSeconds && Number(t) !== 0) return syntax(' (a unit is missing)')
      ms = Number(t) * 1000
    } else if (t.startsWith('P')) {
      const m = ISO.exec(t)
      if (!m || t === 'P' || t.endsWith('T')) return syntax(' (not an ISO 8601 duration)')
      const [w, d, h, mi, s] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x))) as [number, number, number, number, number]
      ms = w * MS.w + d * MS.d + h * MS.h + mi * MS.m + s * MS.s
    } else {
      const parsed = unitParts(t)
      if (typeof parsed === 'string') return syntax(parsed)
      ms = parsed
    }
  }
  ms = Math.round(ms)
  if (!Number.isFinite(ms) || ms > opts.maxMs) {
    return { ok: false, reason: 'too-long', message: `${what} ${shown} is too long: at most ${formatDuration(opts.maxMs)} is allowed` }
  }
  if (ms === 0 && !opts.allowZero) return { ok: false, reason: 'zero', message: `${what} ${shown} must be longer than zero` }
  return { ok: true, ms }
}

/** `1h30m` → ms, or why it is not a duration. */
function unitParts(t: string): number | string {
  PART.lastIndex = 0
  let total = 0
  let last = -1
  while (PART.lastIndex < t.length) {
    const at = PART.lastIndex
    const m = PART.exec(t)
    if (!m) {
      const rest = t.slice(at)
      if (/^\d+(\.\d+)?[A-Za-z]/.test(rest)) return ` (unknown unit in "${rest}"; units are w, d, h, m, s, ms)`
      if (/^[+-]/.test(rest)) return ' (no sign is allowed)'
      if (/^\d+(\.\d+)?\s/.test(rest)) return ' (a unit follows its number without a space)'
      if (at === 0) return ' (a duration starts with a number)'
      return ` (unexpected "${rest.slice(0, 12)}")`
    }
    const unit = m[2] as Unit
    const rank = ORDER.indexOf(unit)
    if (rank <= last) return ` (units go from largest to smallest, each at most once: "${unit}" comes too late)`
    last = rank
    total += Number(m[1]) * MS[unit]
  }
  return total
}

/** Milliseconds; throws DurationError (code `opts.code`, E_USAGE by default). */
export function parseDuration(text: string | number, opts: DurationOptions): number {
  const r = readDuration(text, opts)
  if (!r.ok) throw new DurationError(opts.code ?? 'E_USAGE', r.reason, r.message)
  return r.ms
}

/** How far back `since` may reach as a duration (and how far ahead a key's expiry may be). */
export const MAX_CALENDAR_DURATION_MS = 3650 * MS.d

/** An RFC 3339 time, or a duration back from `now` (`1h` = an hour ago); as an ISO string. E_USAGE otherwise. */
export function parseSince(text: string, now = Date.now(), what = 'since'): string {
  const t = text.trim()
  if (/^(\d+(\.\d+)?[A-Za-z]|P)/.test(t)) {
    return new Date(now - parseDuration(t, { what, maxMs: MAX_CALENDAR_DURATION_MS })).toISOString()
  }
  const time = Date.parse(t)
  // Date.parse accepts years far beyond what toISOString can print.
  if (Number.isNaN(time) || Math.abs(time) > 8.64e15) {
    throw new CtlError('E_USAGE', `${what} "${text.slice(0, 64)}" is neither a time (2024-05-01T12:00:00Z) nor a duration (1h, 30m, 7d)`)
  }
  return new Date(time).toISOString()
}

/** `1h2m3s` style, as kubectl prints ages; days past 48 hours. Empty for a negative or unknown span. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return ''
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${s % 60 ? `${s % 60}s` : ''}`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h}h${m % 60 ? `${m % 60}m` : ''}`
  const d = Math.floor(h / 24)
  return `${d}d${h % 24 ? `${h % 24}h` : ''}`
}
