// Fire times of a workflow schedule: several cron expressions in one time zone,
// an optional end, what runs after downtime by the schedule's catchUp (none,
// latest, all), and the fire times of a backfill range. Pure: the caller passes
// the clock.

import { CtlError } from '../errors.js'
// cron-parser loads on first use: `resource apply` bundles the dry-run code that reaches this module (see
// scripts/bundle-commands.mjs), and it costs a CLI start ~17 ms.
import { cronParser } from '../lazy-module.js'

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
      cronParser().CronExpressionParser.parse(expr, { tz }).next()
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
    return cronParser().CronExpressionParser.parse(expr, { tz: schedule.timezone ?? 'UTC', currentDate })
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

/**
 * The most recent `max` fire times in (since, upTo], oldest first (and not after `endOn`). Walks back from
 * `upTo`, so a long downtime of a frequent cron costs `max` steps per expression, not one per missed time.
 */
export function recentFireTimes(schedule: CronSchedule, since: Date, upTo: Date, max: number): Date[] {
  const limit = Math.min(upTo.getTime(), endOf(schedule))
  if (limit <= since.getTime() || max <= 0) return []
  const found = new Set<number>()
  for (const expr of schedule.crons) {
    const it = parse(expr, schedule, new Date(limit + 1))
    for (let n = 0; n < max && it.hasPrev(); n++) {
      const t = it.prev().getTime()
      if (t <= since.getTime()) break
      if (t <= limit) found.add(t)
    }
  }
  return [...found].sort((a, b) => a - b).slice(-max).map((t) => new Date(t))
}

/**
 * Every fire time in [from, to] (both included), oldest first, at most `max`; `more` says some were left out.
 * Walks the expressions forward together, earliest first, so a long range of a frequent cron costs `max + 1`
 * steps in all, whatever the number of expressions.
 */
export function fireTimesBetween(schedule: CronSchedule, from: Date, to: Date, max: number): { times: Date[]; more: boolean } {
  const limit = Math.min(to.getTime(), endOf(schedule))
  // next() is strictly after currentDate; -1 ms makes a fire time exactly at `from` count.
  const heads = schedule.crons.map((expr) => {
    const it = parse(expr, schedule, new Date(from.getTime() - 1))
    return { it, t: it.hasNext() ? it.next().getTime() : Infinity }
  })
  const times: Date[] = []
  let last = -Infinity
  for (;;) {
    let head = heads[0]
    for (const h of heads) if (head === undefined || h.t < head.t) head = h
    if (head === undefined || head.t > limit) return { times, more: false }
    if (head.t !== last) {
      if (times.length === max) return { times, more: true }
      times.push(new Date(head.t))
      last = head.t
    }
    head.t = head.it.hasNext() ? head.it.next().getTime() : Infinity
  }
}

export type CatchUp = 'none' | 'latest' | 'all'

/**
 * `{{.defaultProjections.scheduledTime}}` and `workflow.scheduledTime`: the fire time a scheduled or backfill run
 * stands for, else when the run was created; RFC 3339 without needless milliseconds.
 */
export function scheduledTimeOf(run: { scheduledAt?: string; createdAt: string }): string {
  return (run.scheduledAt ?? run.createdAt).replace(/\.000Z$/, 'Z')
}

/**
 * What the timer runs at `now` for a schedule whose fire times up to `since` are done, by its catch-up policy.
 * A fire time is missed when it fell due before `onlineSince` (the control plane was down) or a later one is
 * due too. `latest`: the latest due time (missed or not; the behaviour before catchUp existed). `none`: the latest
 * due time only when it is not missed. `all`: the `max` most recent due times, oldest first.
 */
export function planCatchUp(schedule: CronSchedule, policy: CatchUp, max: number, since: Date, now: Date, onlineSince: Date): { due: DueFire[]; next?: Date } {
  const late = (t: Date): DueFire => ({ fireAt: t, lateBySeconds: Math.max(0, Math.floor((now.getTime() - t.getTime()) / 1000)) })
  const plan = planFires(schedule, since, now)
  let due: DueFire[]
  if (policy === 'all') due = recentFireTimes(schedule, since, now, max).map(late)
  else if (policy === 'none') due = plan.due && plan.due.fireAt.getTime() >= onlineSince.getTime() ? [plan.due] : []
  else due = plan.due ? [plan.due] : []
  return plan.next ? { due, next: plan.next } : { due }
}
