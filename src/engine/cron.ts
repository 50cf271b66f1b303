// Fire times of a workflow schedule: several cron expressions in one time zone,
// an optional end, and the "after downtime only the latest missed time runs"
// rule. Pure: the caller passes the clock.

import { CronExpressionParser } from 'cron-parser'
import { CtlError } from '../errors.js'

export interface CronSchedule {
  crons: readonly string[]
  /** IANA zone; UTC when absent. */
  timezone?: string
  /** RFC 3339: no fire time after it. */
  endOn?: string
}

export interface DueFire {
  fireAt: Date
  /** Whole seconds between the fire time and `now`. */
  lateBySeconds: number
}

export interface FirePlan {
  /** The latest fire time in (since, now], if any: the one to run now. Older missed ones are dropped. */
  due?: DueFire
  /** The first fire time after `now`, unless the schedule has ended. */
  next?: Date
}

/** Throws CtlError E_CRON / E_TIMEZONE / E_END_ON for a schedule that cannot work. */
export function validateSchedule(schedule: CronSchedule): void {
  const tz = schedule.timezone ?? 'UTC'
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz })
  } catch {
    throw new CtlError('E_TIMEZONE', `unknown time zone "${tz}"`)
  }
  if (schedule.crons.length === 0) throw new CtlError('E_CRON', 'a schedule needs at least one cron expression')
  for (const expr of schedule.crons) {
    try {
      CronExpressionParser.parse(expr, { tz }).next()
    } catch (err) {
      throw new CtlError('E_CRON', `invalid cron expression "${expr}": ${(err as Error).message}`)
    }
  }
  if (schedule.endOn !== undefined && Number.isNaN(Date.parse(schedule.endOn))) {
    throw new CtlError('E_END_ON', `endOn "${schedule.endOn}" is not an RFC 3339 time`)
  }
}

function endOf(schedule: CronSchedule): number {
  return schedule.endOn === undefined ? Infinity : Date.parse(schedule.endOn)
}

function parse(expr: string, schedule: CronSchedule, currentDate: Date) {
  try {
    return CronExpressionParser.parse(expr, { tz: schedule.timezone ?? 'UTC', currentDate })
  } catch (err) {
    throw new CtlError('E_CRON', `invalid cron expression "${expr}": ${(err as Error).message}`)
  }
}

/** The first fire time strictly after `after` over all expressions, or undefined once `endOn` has passed. */
export function nextFireTime(schedule: CronSchedule, after: Date): Date | undefined {
  const end = endOf(schedule)
  let best: number | undefined
  for (const expr of schedule.crons) {
    const it = parse(expr, schedule, after)
    if (!it.hasNext()) continue
    const t = it.next().getTime()
    if (t > after.getTime() && t <= end && (best === undefined || t < best)) best = t
  }
  return best === undefined ? undefined : new Date(best)
}

/** The latest fire time in (since, upTo] over all expressions (and not after `endOn`). */
export function latestFireTime(schedule: CronSchedule, since: Date, upTo: Date): Date | undefined {
  // Past `endOn`, the latest allowed time is the last one at or before it.
  const limit = Math.min(upTo.getTime(), endOf(schedule))
  if (limit <= since.getTime()) return undefined
  let best: number | undefined
  for (const expr of schedule.crons) {
    // prev() is strictly before currentDate; +1 ms makes a fire time exactly at `limit` count.
    const it = parse(expr, schedule, new Date(limit + 1))
    if (!it.hasPrev()) continue
    const t = it.prev().getTime()
    if (t > since.getTime() && t <= limit && (best === undefined || t > best)) best = t
  }
  return best === undefined ? undefined : new Date(best)
}

/**
 * What the timer does at `now` for a schedule last fired at (or created at) `since`:
 * run the latest missed time, if any, then wait for the next one.
 */
export function planFires(schedule: CronSchedule, since: Date, now: Date): FirePlan {
  const plan: FirePlan = {}
  const latest = latestFireTime(schedule, since, now)
  if (latest !== undefined) {
    plan.due = { fireAt: latest, lateBySeconds: Math.max(0, Math.floor((now.getTime() - latest.getTime()) / 1000)) }
  }
  const next = nextFireTime(schedule, now)
  if (next !== undefined) plan.next = next
  return plan
}
