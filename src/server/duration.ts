// Durations as people type them: `30s`, `15m`, `24h`, `30d`, `2w`, or combined (`1d12h`).
import { CtlError } from '../errors.js'

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** Milliseconds; E_USAGE naming `what` when the text is not a positive duration. */
export function parseDuration(text: string, what = 'duration'): number {
  const trimmed = text.trim()
  if (!/^(\d+[smhdw])+$/.test(trimmed)) {
    throw new CtlError('E_USAGE', `${what} "${text}" is not a duration such as 30s, 15m, 24h, 30d or 1d12h`)
  }
  let ms = 0
  for (const m of trimmed.matchAll(/(\d+)([smhdw])/g)) ms += Number(m[1]) * UNIT_MS[m[2]!]!
  if (ms <= 0) throw new CtlError('E_USAGE', `${what} "${text}" must be longer than zero`)
  return ms
}

/** An ISO time, or a duration back from `now` (`1h` = an hour ago); as an ISO string. */
export function parseSince(text: string, now = Date.now()): string {
  if (/^\d+[smhdw]/.test(text.trim())) return new Date(now - parseDuration(text, 'since')).toISOString()
  const t = Date.parse(text)
  if (Number.isNaN(t)) throw new CtlError('E_USAGE', `since "${text}" is neither a time (2024-05-01T12:00:00Z) nor a duration (1h, 30m)`)
  return new Date(t).toISOString()
}
