// The scheduler's pass loop: which active runs are advanced when, one pass at a time. A pass advances the
// runs marked since the last one (an event named them), or every active run (start, the poll, a backoff
// expiring). Passes coalesce: what is marked while one goes is taken by its next round. The loop also keeps
// the queue of runs waiting for a server slot (starved), so that a freed slot goes to the run that waited
// longest. What advancing a run means is the scheduler's (scheduler.ts); this file only decides when.

import type { EngineContext } from './context.js'

/** Safety net only: everything that matters wakes the loop directly. */
const POLL_MS = 2000

/** The earlier of two optional times (ms). */
export function earliest(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b)
}

export interface PassDeps {
  ctx: Pick<EngineContext, 'now' | 'logger'>
  /** Runs not yet finished, in creation order: the runs a full pass advances. */
  active: ReadonlySet<string>
  /** Advances one run; returns the earliest time (ms) it waits for (a backoff, a deadline), if any. */
  advance: (runId: string) => Promise<number | undefined>
  /** Server slots free for another attempt now. */
  freeSlots: () => number
}

export class RunPasses {
  private on = false
  private ticking = false
  private tickDone: Promise<void> = Promise.resolve()
  /** Runs to advance on the next pass; `all` makes it every active run (start, poll, backoff). */
  private readonly dirty = new Set<string>()
  private all = false
  /** Runs whose last advance left due steps unstarted for lack of a slot: any ended attempt may free one. */
  private readonly starved = new Set<string>()
  /** Per run: the earliest time (ms) its last advance said it waits for (a backoff, a deadline), if any. */
  private readonly waits = new Map<string, number>()
  private backoffTimer: NodeJS.Timeout | undefined
  private backoffAt: number | undefined
  private pollTimer: NodeJS.Timeout | undefined

  constructor(private readonly deps: PassDeps) {}

  /** Between start() and stop(): a pass begins only then, and one going stops at its next run after stop(). */
  get started(): boolean {
    return this.on
  }

  /** Whether a pass is going. */
  get passing(): boolean {
    return this.ticking
  }

  /** Settles when the current pass (if any) is over. */
  get done(): Promise<void> {
    return this.tickDone
  }

  start(): void {
    this.on = true
    this.pollTimer = setInterval(() => this.wake(), POLL_MS)
    this.pollTimer.unref()
  }

  stop(): void {
    this.on = false
    clearInterval(this.pollTimer)
    clearTimeout(this.backoffTimer)
  }

  /** Advances the run (or, without one, every active run) soon; passes coalesce while one is going. */
  wake(runId?: string): void {
    if (!this.on) return
    if (runId === undefined) this.all = true
    else this.dirty.add(runId)
    this.kick()
  }

  /** The run is advanced by the next pass; none begins for it (flush begins one once the caller marked them all). */
  mark(runId: string): void {
    this.dirty.add(runId)
  }

  /** Begins a pass if runs are marked. */
  flush(): void {
    if (this.dirty.size > 0) this.kick()
  }

  /** Whether the run waits for a server slot. */
  isStarved(runId: string): boolean {
    return this.starved.has(runId)
  }

  /** `starved`: the server's slots kept a due step of the run back (it takes its place among the runs waiting for one). */
  setStarved(runId: string, starved: boolean): void {
    if (starved) this.starved.add(runId)
    else this.starved.delete(runId)
  }

  /**
   * The server slots the run may take now. First come, first served: while runs wait for a slot, a run that is not
   * among them queues behind them rather than taking the slot an attempt's end freed for the run that waited longest.
   */
  slotsFor(runId: string): number {
    return this.starved.size > 0 && !this.starved.has(runId) ? 0 : this.deps.freeSlots()
  }

  /** The run is over here: it waits for nothing. */
  forget(runId: string): void {
    this.starved.delete(runId)
    this.waits.delete(runId)
  }

  /** Marks the runs that have waited longest for a slot for advancing, no more of them than there are free slots. */
  wakeStarved(advanced?: ReadonlySet<string>): void {
    let free = this.deps.freeSlots()
    for (const r of this.starved) {
      if (free <= 0) break
      if (advanced?.has(r)) continue
      // A run no longer active only leaves the queue: the slot is still there for the next one.
      if (!this.deps.active.has(r)) {
        this.starved.delete(r)
        continue
      }
      free--
      this.dirty.add(r)
    }
  }

  private kick(): void {
    if (this.ticking || !this.on) return
    this.ticking = true
    this.tickDone = this.tick()
  }

  private async tick(): Promise<void> {
    const { active, ctx } = this.deps
    try {
      while ((this.all || this.dirty.size > 0) && this.on) {
        const full = this.all
        let nextBackoff: number | undefined
        let targets: string[]
        if (full) {
          // A starved run is passed again only when asked for (dirty) or when a time it waits for came: a free slot
          // wakes it (wakeStarved), an action or another replica's write too (wake, the scheduler's checkStore). A
          // backlog of thousands passed again every POLL_MS cost more than the runs it served. Its last wait still counts.
          const now = ctx.now().getTime()
          targets = []
          for (const id of active) {
            const wait = this.waits.get(id)
            if (!this.starved.has(id) || this.dirty.has(id) || (wait !== undefined && wait <= now)) targets.push(id)
            else nextBackoff = earliest(nextBackoff, wait)
          }
        } else targets = [...this.dirty].filter((id) => active.has(id))
        this.all = false
        this.dirty.clear()
        for (const runId of targets) {
          if (!this.on) break
          try {
            const wait = await this.deps.advance(runId)
            if (wait !== undefined && active.has(runId)) this.waits.set(runId, wait)
            else this.waits.delete(runId)
            if (wait !== undefined && (nextBackoff === undefined || wait < nextBackoff)) nextBackoff = wait
          } catch (err) {
            ctx.logger.error('advancing a run failed', { runId, error: String(err) })
          }
        }
        // Only a pass over every run knows the earliest backoff of all of them.
        if (full || nextBackoff !== undefined) this.armBackoff(nextBackoff, full)
        // Slots left free by this pass (a run that queued behind the starved ones): the waiting runs get them. Not
        // the ones this pass advanced: they had their look (an attempt's end wakes them again).
        this.wakeStarved(new Set(targets))
      }
    } finally {
      this.ticking = false
    }
  }

  private armBackoff(at: number | undefined, replace: boolean): void {
    if (!this.on) return
    // A partial pass only brings the timer forward; a full pass sets it (or clears it).
    if (!replace && this.backoffAt !== undefined && at !== undefined && this.backoffAt <= at) return
    clearTimeout(this.backoffTimer)
    this.backoffTimer = undefined
    this.backoffAt = at
    if (at === undefined) return
    const delay = Math.max(0, Math.min(at - this.deps.ctx.now().getTime(), 60_000))
    this.backoffTimer = setTimeout(() => {
      this.backoffAt = undefined
      this.wake()
    }, delay)
    this.backoffTimer.unref()
  }
}
