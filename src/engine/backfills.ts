// Backfills and catch-up queues: stored fire times of a workflow's schedule, each run once, at most
// `parallel` at once, honouring the schedule's concurrencyPolicy. Every fire time is claimed in the
// store (pending → starting → started) before its run is made, so a restart, or a second engine on
// the same store, never starts one twice; a `starting` time found after a crash is matched to the
// run it made, if any, before anything new starts. Across replicas the run of a time is made only by
// the replica whose fire claim (`backfill:<id>`, fireAt) wins: the one that set it `starting`, or, when
// that one died before making the run, the first other replica to look (see recover).

import type { BackfillRecord, BackfillTimeRecord, ResourceRecord, RunRecord, RunTrigger } from '../store/types.js'
import type { EngineContext } from './context.js'
import { ACTIVE_RUN_STATES } from './scheduler.js'
import { scheduleOf } from './schedules.js'
import { principalForUser } from '../access/principals.js'
import { decideOn } from '../access/targets.js'

/** Safety net only: a run's end and a new backfill wake the runner directly. */
const POLL_MS = 2000
/** How far back a crashed claim's run is looked for (it was made a moment before the crash). */
const RECENT_RUNS = 200

export interface BackfillRunRequest {
  trigger: RunTrigger
  scheduledAt: string
  lateBySeconds?: number
}

export class BackfillRunner {
  private timer: NodeJS.Timeout | undefined
  private started = false
  private busy = false
  private again = false
  private running: Promise<void> = Promise.resolve()
  /** Times this runner has claimed and is making runs for (`backfillId fireAt`): not a crash's leftovers. */
  private readonly claiming = new Set<string>()
  /** Whether the last pass found a running backfill (runEnded); true until the first pass has looked. */
  private anyRunning = true

  constructor(
    private readonly ctx: EngineContext,
    private readonly createRun: (resource: ResourceRecord, request: BackfillRunRequest) => Promise<RunRecord>,
  ) {}

  start(): void {
    this.started = true
    this.timer = setInterval(() => this.wake(), POLL_MS)
    this.timer.unref()
    this.wake()
  }

  async stop(): Promise<void> {
    this.started = false
    clearInterval(this.timer)
    await this.running
  }

  get idle(): boolean {
    return !this.busy
  }

  /**
   * A run ended here: a slot may be free, when there is a running backfill at all (as of the last pass). One stored
   * by another replica since is seen by the next poll; one stored here wakes the loop itself.
   */
  runEnded(): void {
    if (this.anyRunning) this.wake()
  }

  /** Looks at every running backfill soon (a run ended, a backfill was stored). Synchronous: idle() sees it at once. */
  wake(): void {
    if (!this.started) return
    if (this.busy) {
      this.again = true
      return
    }
    this.busy = true
    this.running = this.loop()
  }

  /** One pass now (or the one going on, and the one after it); resolves when it is over. */
  async pass(): Promise<void> {
    this.wake()
    await this.running
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false
        const running = await this.ctx.store.listBackfills({ states: ['running'] })
        this.anyRunning = running.length > 0
        for (const b of running) {
          if (!this.started) return
          try {
            await this.advance(b)
          } catch (err) {
            this.ctx.logger.error('advancing a backfill failed', { backfillId: b.id, error: String(err) })
          }
        }
      } while (this.again && this.started)
    } finally {
      this.busy = false
    }
  }

  private async advance(b: BackfillRecord): Promise<void> {
    const { store } = this.ctx
    const resource = await store.getResourceById(b.resourceId)
    if (!resource || resource.status === 'deleted') {
      await store.finishBackfill(b.id, 'cancelled')
      return
    }
    const times = await store.listBackfillTimes(b.id)
    for (const t of times) if (t.state === 'starting' && !this.claiming.has(`${b.id} ${t.fireAt}`)) await this.recover(b, t)
    const pending = (await store.listBackfillTimes(b.id)).filter((t) => t.state === 'pending')
    if (pending.length === 0) {
      await store.finishBackfill(b.id, 'done')
      return
    }
    // Like a webhook call, each start is judged anew: a requester who may no longer run the workflow (binding or
    // grant gone, user deleted) starts nothing more; the backfill ends cancelled. Catch-up runs are the schedule's.
    if (b.trigger === 'backfill' && !(await this.mayStillRun(b, resource))) {
      this.ctx.logger.info('backfill cancelled: its requester may no longer run the workflow', { backfillId: b.id, by: b.createdBy })
      await store.finishBackfill(b.id, 'cancelled')
      return
    }
    const active = await store.listRuns({ resourceId: resource.id, states: [...ACTIVE_RUN_STATES] })
    const mine = new Set(times.flatMap((t) => (t.runId ? [t.runId] : [])))
    // Forbid and Replace: one run of the workflow at a time, whoever started the others (a backfill never cancels).
    const policy = scheduleOf(resource)?.concurrencyPolicy ?? 'Allow'
    const free = policy === 'Allow' ? b.parallel - active.filter((r) => mine.has(r.id)).length : active.length === 0 ? 1 : 0
    for (const t of pending.slice(0, Math.max(0, free))) {
      if (!this.started) return
      await this.startTime(b, resource, t)
    }
  }

  private async mayStillRun(b: BackfillRecord, resource: ResourceRecord): Promise<boolean> {
    const principal = await principalForUser(this.ctx.store, b.createdBy)
    if (!principal) return false
    const key = { workspace: resource.workspace, type: resource.type, name: resource.name }
    return (await decideOn(this.ctx.store, principal, 'run', key, resource)).allowed
  }

  private async startTime(b: BackfillRecord, resource: ResourceRecord, t: BackfillTimeRecord): Promise<void> {
    const { store } = this.ctx
    if (!(await store.updateBackfillTime(b.id, t.fireAt, { state: 'starting' }, ['pending']))) return
    const key = `${b.id} ${t.fireAt}`
    this.claiming.add(key)
    try {
      // Lost: another replica saw the time `starting` first and makes its run (recover).
      if (await this.claim(b, t)) await this.make(b, resource, t)
    } finally {
      this.claiming.delete(key)
    }
  }

  /** The one maker of a time's run, across replicas and restarts. */
  private claim(b: BackfillRecord, t: BackfillTimeRecord): Promise<boolean> {
    return this.ctx.store.claimFire(`backfill:${b.id}`, t.fireAt, this.ctx.replicaId ?? 'local')
  }

  private async make(b: BackfillRecord, resource: ResourceRecord, t: BackfillTimeRecord): Promise<void> {
    const { store } = this.ctx
    // A catch-up time may have run already (the timer stored it twice around a crash): a scheduled time runs once.
    const done = b.trigger === 'schedule' ? await this.findRun(b, t.fireAt) : undefined
    if (done) {
      await store.updateBackfillTime(b.id, t.fireAt, { state: 'started', runId: done.id }, ['starting'])
      return
    }
    const lateBySeconds = b.trigger === 'schedule' ? Math.max(0, Math.floor((this.ctx.now().getTime() - Date.parse(t.fireAt)) / 1000)) : undefined
    try {
      const run = await this.createRun(resource, { trigger: b.trigger, scheduledAt: t.fireAt, ...(lateBySeconds !== undefined ? { lateBySeconds } : {}) })
      await store.updateBackfillTime(b.id, t.fireAt, { state: 'started', runId: run.id }, ['starting'])
    } catch (err) {
      // The run could not be made (e.g. a required param without a default): the time is given up, not retried forever.
      this.ctx.logger.error('a backfill run could not start', { backfillId: b.id, fireAt: t.fireAt, error: String(err) })
      await store.updateBackfillTime(b.id, t.fireAt, { state: 'started' }, ['starting'])
    }
  }

  /**
   * A `starting` time this runner is not making: its claimer crashed, died (another replica), or is making it now.
   * Linked to its run when there is one; otherwise whoever wins the time's claim makes the run. A claimer still
   * alive then loses its own claim and leaves the time to us; one that won the claim and died before the run
   * was stored leaves the time `starting` (never run twice; the backfill still ends once nothing is pending).
   */
  private async recover(b: BackfillRecord, t: BackfillTimeRecord): Promise<void> {
    const run = await this.findRun(b, t.fireAt)
    if (run) {
      await this.ctx.store.updateBackfillTime(b.id, t.fireAt, { state: 'started', runId: run.id }, ['starting'])
      return
    }
    const resource = await this.ctx.store.getResourceById(b.resourceId)
    if (!resource || resource.status === 'deleted') return
    // Judged as a start (advance): a requester who may no longer run the workflow gets the backfill cancelled there.
    if (b.trigger === 'backfill' && !(await this.mayStillRun(b, resource))) return
    const key = `${b.id} ${t.fireAt}`
    this.claiming.add(key)
    try {
      if (await this.claim(b, t)) await this.make(b, resource, t)
    } finally {
      this.claiming.delete(key)
    }
  }

  /** The run made for this fire time: same trigger and scheduled time; a backfill's own run is made after it was stored. */
  private async findRun(b: BackfillRecord, fireAt: string): Promise<RunRecord | undefined> {
    const recent = await this.ctx.store.listRuns({ resourceId: b.resourceId, limit: RECENT_RUNS })
    return recent.find((r) => r.trigger === b.trigger && r.scheduledAt === fireAt && (b.trigger === 'schedule' || r.createdAt >= b.createdAt))
  }
}
