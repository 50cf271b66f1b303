// Which runs this engine drives, when several control-plane replicas share one store (issue 13).
// Each run is owned by exactly one replica through its lease row (store/leases.ts): the replica that
// creates a run takes it, a renew loop extends what it holds, and a takeover loop adopts runs whose
// lease ran out (their replica died or stalled) or that never had one. The scheduler drives only what
// this replica holds; what another replica holds is changed through the store alone (see scheduler.ts).
//
// Why no step can run twice: a step attempt is started only after its row moved `pending` → `running`
// in one compare-and-set (attempts.ts), so two replicas that both believe they own a run (a stalled
// one whose lease was taken meanwhile) cannot both start it; and an attempt already `running` is only
// ever reattached. The lease check before each pass that starts steps (stillOurs) keeps a stalled
// replica from even trying once it noticed.
//
// What the store last confirmed is remembered (per run: when the lease was taken, extended or renewed, on the
// local clocks, read before asking): a lease confirmed less than half a TTL ago is ours without asking again (no
// other replica may take it before it expires, and it expires a TTL after that moment at the earliest), so the
// check before a step start costs a store write only when the renew loop has fallen behind.

import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import { performance } from 'node:perf_hooks'
import type { CreateRunLease, RunRecord, StepRunRecord } from '../store/types.js'
import { ACTIVE_RUN_STATES } from '../store/types.js'
import { isPidAlive } from '../liveness.js'
import type { EngineContext } from './context.js'

export const DEFAULT_LEASE_TTL_MS = 15_000
/** Bounds of the lease TTL option: below a second a busy machine loses leases to itself; above an hour takeover is useless. */
export const MIN_LEASE_TTL_MS = 1_000
export const MAX_LEASE_TTL_MS = 3_600_000

/** This process's pid namespace (Linux), so a replica id only claims to be local where pids compare. */
function pidNamespace(): string | undefined {
  try {
    return /\[(\d+)\]/.exec(fs.readlinkSync('/proc/self/ns/pid'))?.[1]
  } catch {
    return undefined
  }
}

/**
 * This boot of this machine (Linux): two machines with the same host name (cloned images, `localhost`) share
 * the initial pid namespace's inode too, so host and namespace alone do not prove a pid is ours to look at.
 */
function bootId(): string | undefined {
  try {
    const id = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
    return /^[0-9a-f-]{8,64}$/.test(id) ? id : undefined
  } catch {
    return undefined
  }
}

/**
 * A replica id that names where it runs: `<host>/<boot id>/<pid namespace>/<pid>/<random>`. Another replica on
 * the same machine (same boot) and pid namespace can then tell a SIGKILLed owner at once (its pid is gone)
 * instead of waiting for its leases to expire. Any other id (fleet's `r-…`) is fine too: its leases just expire.
 */
export function newReplicaId(): string {
  return `${os.hostname()}/${bootId() ?? '-'}/${pidNamespace() ?? '-'}/${process.pid}/${crypto.randomBytes(4).toString('hex')}`
}

/** True only when `owner` is a replica id of this machine, boot and pid namespace whose process is gone. */
export function ownerProvablyDead(owner: string): boolean {
  const m = /^(.+)\/([0-9a-f-]{8,64})\/(\d+)\/(\d+)\/[0-9a-f]+$/.exec(owner)
  if (!m) return false
  const ns = pidNamespace()
  const boot = bootId()
  if (m[1] !== os.hostname() || boot === undefined || m[2] !== boot || ns === undefined || m[3] !== ns) return false
  const pid = Number(m[4])
  return pid !== process.pid && !isPidAlive(pid)
}

export interface OwnershipHooks {
  /** A run this replica just acquired from nobody (or from a dead replica): reattach and schedule it. */
  adopt(run: RunRecord): Promise<void>
  /** A run that ended whose running attempts nobody follows (its owner died after the stop): follow them to their end. */
  adoptEnded(run: RunRecord, running: StepRunRecord[]): Promise<void>
  /** This replica lost the run's lease (another owns it now): stop driving it WITHOUT killing its steps. */
  lost(runId: string): void
}

/** When a lease was last confirmed by the store: on the engine's clock (that of the lease times where the store has no clock) and a monotonic one. */
interface Stamp {
  at: number
  mono: number
}

export class RunOwnership {
  /** Runs whose lease this replica holds. */
  readonly owned = new Set<string>()
  /** Per owned run: when the store last confirmed its lease (stillOurs). */
  private readonly confirmed = new Map<string, Stamp>()
  /** Runs whose lease was released here lately (monotonic time): a renew answered before the release landed names them. */
  private readonly released = new Map<string, number>()
  private renewTimer: NodeJS.Timeout | undefined
  private takeoverTimer: NodeJS.Timeout | undefined
  private running = false
  private pass: Promise<void> = Promise.resolve()

  constructor(
    private readonly ctx: EngineContext,
    readonly replicaId: string,
    readonly ttlMs: number,
    private readonly hooks: OwnershipHooks,
  ) {}

  /** Lease times on the store's clock when it has one (PostgreSQL): replicas' clocks may disagree by more than a TTL. */
  private async leaseNow(): Promise<Date> {
    const db = await this.ctx.store.leaseClock()
    return db === undefined ? this.ctx.now() : new Date(db)
  }

  private async expiry(): Promise<{ now: string; until: string }> {
    const now = await this.leaseNow()
    return { now: now.toISOString(), until: new Date(now.getTime() + this.ttlMs).toISOString() }
  }

  /** Read BEFORE the store is asked: the lease it grants runs a TTL from a moment no earlier than this. */
  private stamp(): Stamp {
    return { at: this.ctx.now().getTime(), mono: performance.now() }
  }

  private held(runId: string, stamp: Stamp): void {
    this.released.delete(runId)
    this.owned.add(runId)
    const known = this.confirmed.get(runId)
    if (!known || known.mono < stamp.mono) this.confirmed.set(runId, stamp)
  }

  private drop(runId: string): boolean {
    this.confirmed.delete(runId)
    return this.owned.delete(runId)
  }

  /**
   * The lease a run is created with (CreateRunInput.lease: one transaction with the run), and what notes it
   * held once the run is stored.
   */
  newRunLease(): { lease: CreateRunLease; created: (runId: string) => void } {
    const stamp = this.stamp()
    return {
      lease: { owner: this.replicaId, ttlMs: this.ttlMs, now: new Date(stamp.at).toISOString() },
      created: (runId) => this.held(runId, stamp),
    }
  }

  /** Takes (or extends) the run's lease; true when this replica holds it now. */
  async claim(runId: string): Promise<boolean> {
    const stamp = this.stamp()
    const { now, until } = await this.expiry()
    const ok = await this.ctx.store.acquireRunLease(runId, this.replicaId, now, until)
    if (ok) this.held(runId, stamp)
    return ok
  }

  /**
   * Whether the store confirmed the lease less than half a TTL ago, by both clocks (one set back, or a fake one
   * moved, makes it ask): nobody else may take it before it expires, and at least half a TTL of it is left.
   */
  private fresh(runId: string): boolean {
    const at = this.confirmed.get(runId)
    if (!at) return false
    const half = this.ttlMs / 2
    const since = this.ctx.now().getTime() - at.at
    return since >= 0 && since < half && performance.now() - at.mono < half
  }

  /**
   * Before starting steps: the lease is still ours (asked again, and extended, unless confirmed lately). A replica
   * that stalled past its lease's end learns it here and lets the run go, so at worst a step start is delayed,
   * never doubled.
   */
  async stillOurs(runId: string): Promise<boolean> {
    if (!this.owned.has(runId)) return false
    if (this.fresh(runId)) return true
    if (await this.claim(runId)) return true
    this.drop(runId)
    this.ctx.logger.warn('run lease lost before a step start', { runId, replica: this.replicaId })
    this.hooks.lost(runId)
    return false
  }

  /** The run ended here: its lease row goes. */
  async release(runId: string): Promise<void> {
    if (!this.drop(runId)) return
    this.released.set(runId, performance.now())
    await this.ctx.store.releaseRunLease(runId, this.replicaId).catch((err: unknown) => {
      this.ctx.logger.warn('releasing a run lease failed', { runId, error: String(err) })
    })
  }

  /**
   * A graceful stop: the lease is kept but made to expire now, so any replica takes the run over on its next
   * look (a deleted row would look like a run just created, which takeovers leave to its creator for a TTL).
   */
  private async handOver(runId: string): Promise<void> {
    if (!this.drop(runId)) return
    const handOver = async (): Promise<void> => {
      const now = (await this.leaseNow()).toISOString()
      await this.ctx.store.acquireRunLease(runId, this.replicaId, now, now)
    }
    await handOver().catch((err: unknown) => {
      this.ctx.logger.warn('handing a run lease over failed', { runId, error: String(err) })
    })
  }

  /** Start-up: a takeover of everything unleased or expired, then the loops (renew and takeover, every TTL/3). */
  async start(): Promise<void> {
    this.running = true
    await this.takeover(true)
    const every = Math.max(200, Math.floor(this.ttlMs / 3))
    this.renewTimer = setInterval(() => void this.renew(), every)
    this.renewTimer.unref()
    this.takeoverTimer = setInterval(() => {
      // One pass at a time: a slow store must not stack passes.
      this.pass = this.pass.then(() => this.takeover(false))
    }, every)
    this.takeoverTimer.unref()
  }

  /** Stops the loops; `handOver` gives every lease up (a graceful stop: another replica takes over at once). */
  async stop(handOver: boolean): Promise<void> {
    this.running = false
    clearInterval(this.renewTimer)
    clearInterval(this.takeoverTimer)
    await this.pass
    if (handOver) for (const runId of [...this.owned]) await this.handOver(runId)
  }

  /** Extends every lease held; the runs it did not return are another replica's now. */
  async renew(): Promise<void> {
    if (!this.running) return
    const stamp = this.stamp()
    let held: string[]
    try {
      held = await this.ctx.store.renewRunLeases(this.replicaId, (await this.expiry()).until)
    } catch (err) {
      this.ctx.logger.warn('renewing run leases failed', { error: String(err) })
      return
    }
    const still = new Set(held)
    for (const [runId, at] of this.released) if (stamp.mono - at > 2 * this.ttlMs) this.released.delete(runId)
    // A lease the store says is ours but this process does not know (the answer to its acquire was lost, e.g. a
    // pool timeout after the commit): ours to drive; the scheduler adopts it once it is a TTL old (checkStore).
    // Not one released here: the renew was answered before the release's delete landed.
    for (const runId of held) if (this.owned.has(runId) || !this.released.has(runId)) this.held(runId, stamp)
    for (const runId of [...this.owned]) {
      // Confirmed after this renew was sent (a run created or claimed meanwhile): not the renew's to judge.
      if (still.has(runId) || (this.confirmed.get(runId)?.mono ?? -Infinity) > stamp.mono) continue
      this.drop(runId)
      this.ctx.logger.warn('run lease lost', { runId, replica: this.replicaId })
      this.hooks.lost(runId)
    }
  }

  /**
   * Adopts active runs nobody holds: their lease expired, their owner is provably dead, or they have none and
   * were created more than a TTL ago (a run is leased by its creator right after it is stored; the grace keeps
   * a takeover from racing that; the start-up takeover skips it, as a single control plane's start always did).
   * Also ended runs whose attempts still run and whose owner is gone.
   */
  async takeover(startup: boolean): Promise<void> {
    if (!this.running) return
    try {
      const { store } = this.ctx
      const nowMs = this.ctx.now().getTime()
      // Lease expiries on the lease clock; creation and end times (written with callers' clocks) on ours, as before.
      const leaseMs = (await this.leaseNow()).getTime()
      const leases = new Map((await store.listRunLeases()).map((l) => [l.runId, l]))
      const free = (runId: string, createdAt: string): boolean => {
        if (this.owned.has(runId)) return false
        const lease = leases.get(runId)
        if (!lease) return startup || Date.parse(createdAt) + this.ttlMs <= nowMs
        return Date.parse(lease.expiresAt) <= leaseMs || ownerProvablyDead(lease.owner)
      }
      const grab = async (runId: string): Promise<boolean> => {
        const lease = leases.get(runId)
        // A dead local owner's lease is given up in its name first (its process cannot renew it any more).
        if (lease && Date.parse(lease.expiresAt) > leaseMs && ownerProvablyDead(lease.owner)) await store.releaseRunLease(runId, lease.owner)
        return this.running && (await this.claim(runId))
      }
      const active = await store.listRuns({ states: [...ACTIVE_RUN_STATES] })
      const activeIds = new Set(active.map((r) => r.id))
      // Oldest first, as the scheduler serves them.
      for (const run of active.reverse()) {
        if (!this.running) return
        if (!free(run.id, run.createdAt) || !(await grab(run.id))) continue
        this.ctx.logger.info('run adopted', { runId: run.id, replica: this.replicaId, previous: leases.get(run.id)?.owner })
        await this.hooks.adopt(run)
      }
      // Ended runs with attempts still running: their owner stopped them and died before their ends were recorded.
      const byRun = new Map<string, StepRunRecord[]>()
      for (const row of await store.listActiveStepRuns()) if (!activeIds.has(row.runId)) byRun.set(row.runId, [...(byRun.get(row.runId) ?? []), row])
      for (const [runId, rows] of byRun) {
        const run = await store.getRun(runId)
        if (!this.running || !run || activeIds.has(runId) || ACTIVE_RUN_STATES.includes(run.state)) continue
        const lease = leases.get(runId)
        if (lease && !free(runId, run.createdAt)) continue
        if (!lease && !startup && run.finishedAt !== undefined && Date.parse(run.finishedAt) + this.ttlMs > nowMs) continue
        if (!(await grab(runId))) continue
        await this.hooks.adoptEnded(run, rows)
      }
    } catch (err) {
      this.ctx.logger.error('run takeover failed', { error: String(err) })
    }
  }
}
