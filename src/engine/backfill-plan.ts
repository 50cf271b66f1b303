// What `runtime backfill` asks for, pure: the range's bounds read as RFC 3339 times or as dates in the
// schedule's time zone, and the fire times of the schedule in [from, to], bounded.

import { CtlError } from '../errors.js'
import { MAX_BACKFILL_FIRES } from '../manifest/limits.js'
import { fireTimesBetween, type CronSchedule } from './cron.js'

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/
/** Counting goes this far past the bound to name the count in the refusal; beyond, "more than" (each step costs). */
const COUNT_CAP = 2 * MAX_BACKFILL_FIRES

/** Milliseconds the zone is ahead of UTC at `utcMs`. */
function zoneOffsetMs(timeZone: string, utcMs: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(new Date(utcMs))
  const n = (type: string) => Number(parts.find((p) => p.type === type)?.value)
  return Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'), n('second')) - Math.floor(utcMs / 1000) * 1000
}

/** Midnight starting the given calendar day in the zone. */
function startOfDay(y: number, m: number, d: number, timeZone: string): number {
  const guess = Date.UTC(y, m - 1, d)
  // Two rounds settle a day that starts near a DST change.
  const first = guess - zoneOffsetMs(timeZone, guess)
  return guess - zoneOffsetMs(timeZone, first)
}

/**
 * A bound of the range: an RFC 3339 time, or a date (`2024-05-01`) in the schedule's zone. A date as
 * `end` means through that whole day. E_USAGE naming the flag when it is neither.
 */
export function readBound(text: string, flag: 'from' | 'to', timeZone: string): Date {
  const m = DATE.exec(text.trim())
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])]
    if (mo >= 1 && mo <= 12 && d >= 1 && d <= 31) {
      const start = startOfDay(y, mo, d, timeZone)
      if (flag === 'from') return new Date(start)
      const next = new Date(Date.UTC(y, mo - 1, d + 1))
      return new Date(startOfDay(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), timeZone) - 1)
    }
  }
  const rfc = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})$/
  const t = Date.parse(text)
  if (!rfc.test(text.trim()) || Number.isNaN(t)) {
    throw new CtlError('E_USAGE', `--${flag} "${text}" is neither an RFC 3339 time (2024-05-01T00:00:00Z) nor a date (2024-05-01)`, { field: flag })
  }
  return new Date(t)
}

/** The fire times of `schedule` in [from, to], oldest first, as ISO text; E_USAGE for a reversed range, E_LIMIT over MAX_BACKFILL_FIRES. */
export function backfillTimes(schedule: CronSchedule, fromText: string, toText: string): string[] {
  const tz = schedule.timezone ?? 'UTC'
  const from = readBound(fromText, 'from', tz)
  const to = readBound(toText, 'to', tz)
  if (to.getTime() < from.getTime()) throw new CtlError('E_USAGE', `--to ${toText} is before --from ${fromText}`)
  // One walk: past the bound it goes on a little to name the count.
  const { times, more } = fireTimesBetween(schedule, from, to, COUNT_CAP)
  if (times.length > MAX_BACKFILL_FIRES) {
    const count = more ? `more than ${COUNT_CAP}` : String(times.length)
    throw new CtlError('E_LIMIT', `the range holds ${count} fire times; one backfill may run at most ${MAX_BACKFILL_FIRES}: split the range`, { max: MAX_BACKFILL_FIRES })
  }
  return times.map((t) => t.toISOString())
}
