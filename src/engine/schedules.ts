// The schedule timer: fires due schedules of scheduled workflows, honoring the
// concurrency policy, and persists lastFireAt / nextFireAt so fire times survive
// a restart. After downtime the schedule's catchUp decides what runs (cron.ts
// planCatchUp): `latest` (default) the latest missed time, `none` nothing missed,
// `all` the most recent maxCatchUp ones, queued like a backfill (backfills.ts).

import type { ResourceRecord, RunRecord, ScheduleRecord } from '../store/types.js'
import { DEFAULT_MAX_CATCH_UP, type ScheduleSpec, type WorkflowResource } from '../manifest/model.js'
import { latestFireTime, nextFireTime, planCatchUp, type DueFire } from './cron.js'
import type { EngineContext } from './context.js'
import { ACTIVE_RUN_STATES } from './scheduler.js'

/** Longest single sleep by default: wakes up now and then so clock jumps and long waits stay correct. */
export const DEFAULT_MAX_TIMER_SLEEP_MS = 60_000
/** After a failed pass (a store blip), the timer tries again this soon. */
const RETRY_AFTER_ERROR_MS = 1000

export interface ScheduleActions {
  /** Creates and schedules a run of the resource's current revision. */
  createRun(resource: ResourceRecord, input: { trigger: 'schedule'; scheduledAt: string; lateBySeconds: number }): Promise<RunRecord>
  /** Ends a run as cancelled (concurrencyPolicy Replace). */
  cancelRun(runId: string, reason: string): Promise<void>
  /** catchUp all: stores missed fire times to run (oldest first, `parallel` at once), as a backfill with trigger `schedule`. */
  queue(resource: ResourceRecord, fires: readonly DueFire[], parallel: number): Promise<void>
}

export function scheduleOf(resource: ResourceRecord): ScheduleSpec | undefined {
  if (resource.type !== 'workflow' || resource.status === 'deleted') return undefined
  return (resource.manifest as WorkflowResource).workflow?.schedule
}

export class ScheduleTimer {
  private timer: NodeJS.Timeout | undefined
  private started = false
  private running: Promise<void> = Promise.resolve()
  private busy = false
  private again = false
  /** When this timer started: a fire time due before it was missed (the control plane was down). */
  private onlineSince = new Date(0)

  constructor(
    private readonly ctx: EngineContext,
    private readonly actions: ScheduleActions,
    private readonly maxSleepMs: number = DEFAULT_MAX_TIMER_SLEEP_MS,
  ) {}

  start(): void {
    this.started = true
    this.onlineSince = this.ctx.now()
    this.wake()
  }

  async stop(): Promise<void> {
    this.started = false
    clearTimeout(this.timer)
    await this.running
  }

  get idle(): boolean {
    return !this.busy
  }

  /** Stores the schedule of a (re)applied workflow: next fire time from now, never a run at apply. */
  async arm(resource: ResourceRecord, schedule: ScheduleSpec): Promise<void> {
    const { store } = this.ctx
    const existing = await store.getSchedule(resource.id)
    const next = nextFireTime(schedule, this.ctx.now())
    await store.putSchedule({
      resourceId: resource.id,
      revision: resource.revision,
      nextFireAt: next?.toISOString(),
      lastFireAt: existing?.lastFireAt,
    })
    this.wake()
  }

  wake(): void {
    if (!this.started) return
    if (this.busy) {
      this.again = true
      return
    }
    this.busy = true
    this.running = this.loop()
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false
        await this.fireDue()
      } while (this.again && this.started)
    } catch (err) {
      this.ctx.logger.error('schedule timer failed', { error: String(err) })
      // A failed pass (a store blip) must not leave the timer unarmed: try again soon, whatever it was.
      clearTimeout(this.timer)
      if (this.started) {
        this.timer = setTimeout(() => this.wake(), Math.min(this.maxSleepMs, RETRY_AFTER_ERROR_MS))
        this.timer.unref()
      }
    } finally {
      this.busy = false
    }
  }

  private async fireDue(): Promise<void> {
    const { store } = this.ctx
    let earliest: number | undefined
    for (const record of await store.listSchedules()) {
      if (!this.started) return
      if (record.nextFireAt === undefined) continue
      let nextAt = Date.parse(record.nextFireAt)
      if (nextAt <= this.ctx.now().getTime()) {
        const updated = await this.fire(record)
        nextAt = updated?.nextFireAt === undefined ? NaN : Date.parse(updated.nextFireAt)
      }
      if (!Number.isNaN(nextAt) && (earliest === undefined || nextAt < earliest)) earliest = nextAt
    }
    clearTimeout(this.timer)
    if (earliest !== undefined && this.started) {
      const delay = Math.max(0, Math.min(earliest - this.ctx.now().getTime(), this.maxSleepMs))
      this.timer = setTimeout(() => this.wake(), delay)
      this.timer.unref()
    }
  }

  private async fire(record: ScheduleRecord): Promise<ScheduleRecord | undefined> {
    const { store } = this.ctx
    const resource = await store.getResourceById(record.resourceId)
    const schedule = resource ? scheduleOf(resource) : undefined
    if (!resource || !schedule) {
      await store.deleteSchedule(record.resourceId)
      return undefined
    }
    const now = this.ctx.now()
    // Every fire time from nextFireAt up to now was missed or is due; the catch-up policy says which run.
    const since = new Date(Date.parse(record.nextFireAt!) - 1)
    const policy = schedule.catchUp ?? 'latest'
    const plan = planCatchUp(schedule, policy, schedule.maxCatchUp ?? DEFAULT_MAX_CATCH_UP, since, now, this.onlineSince)
    // Every replica's timer may wake at a fire time: only the one whose claim of the time wins acts on it.
    const owner = this.ctx.replicaId ?? 'local'
    const key = `schedule:${resource.id}`
    const won: DueFire[] = []
    try {
      for (const due of plan.due) if (await store.claimFire(key, due.fireAt.toISOString(), owner)) won.push(due)
      await this.act(resource, schedule, won)
    } catch (err) {
      // Nothing was made for the times this pass claimed: give them back so that the next pass (here or on
      // another replica) fires them, instead of finding them claimed and moving the schedule past them.
      for (const due of won) await store.releaseFire(key, due.fireAt.toISOString(), owner).catch(() => undefined)
      throw err
    }
    // lastFireAt: the latest time that fell due, run or not (catchUp none passes missed times by).
    const lastDue = latestFireTime(schedule, since, now)
    const updated: Omit<ScheduleRecord, 'updatedAt'> = {
      resourceId: resource.id,
      revision: resource.revision,
      lastFireAt: lastDue?.toISOString() ?? record.lastFireAt,
      nextFireAt: plan.next?.toISOString(),
    }
    // Moved on only from the state this pass read: a replica that lost the race (or ran late) leaves a row another
    // replica moved already, so that replicas do not write it back and forth. A write squeezed in between costs one
    // more pass at worst, whose claims all lose.
    const current = await store.getSchedule(resource.id)
    if (current && current.nextFireAt !== record.nextFireAt) return current
    await store.putSchedule(updated)
    return { ...updated, updatedAt: now.toISOString() }
  }

  /** Makes the run (or the queue) of the times this pass claimed. */
  private async act(resource: ResourceRecord, schedule: ScheduleSpec, won: DueFire[]): Promise<void> {
    if (won.length > 1) {
      // Several at once: queued, so that Forbid runs them one after the other instead of dropping all but one.
      await this.actions.queue(resource, won, schedule.concurrencyPolicy === 'Allow' ? won.length : 1)
      this.ctx.logger.info('missed fire times queued (catchUp all)', { resourceId: resource.id, count: won.length })
    } else if (won.length === 1) {
      const due = won[0]!
      const fireAt = due.fireAt.toISOString()
      // createRun happens before the schedule moves on; a crash in between must not run the same time twice.
      const recent = await this.ctx.store.listRuns({ resourceId: resource.id, limit: 20 })
      if (!recent.some((r) => r.trigger === 'schedule' && r.scheduledAt === fireAt)) {
        await this.applyPolicy(resource, schedule, fireAt, due.lateBySeconds)
      }
    }
  }

  private async applyPolicy(resource: ResourceRecord, schedule: ScheduleSpec, fireAt: string, lateBySeconds: number): Promise<void> {
    // A suspended run is active: Forbid waits for it to be resumed or stopped, Replace cancels it.
    const activeRuns = await this.ctx.store.listRuns({ resourceId: resource.id, states: [...ACTIVE_RUN_STATES] })
    if (schedule.concurrencyPolicy === 'Forbid' && activeRuns.length > 0) {
      this.ctx.logger.info('scheduled run skipped: a run is active (concurrencyPolicy Forbid)', { resourceId: resource.id, fireAt })
      return
    }
    if (schedule.concurrencyPolicy === 'Replace') {
      for (const r of activeRuns) await this.actions.cancelRun(r.id, `replaced by the run scheduled at ${fireAt}`)
    }
    await this.actions.createRun(resource, { trigger: 'schedule', scheduledAt: fireAt, lateBySeconds })
  }
}
