// Failure limits that hold across control-plane replicas (failed authentications, bad webhook calls): counted
// in this process (FailureLimiter, exact for one replica) and in the store's shared counters, per fixed window,
// so that failures spread over several replicas reach the limit about at their sum. Store load stays bounded:
// - a call is checked against the shared counter only when this process has itself seen a failure for that
//   (address, key prefix) in its window; every other call (nearly all: valid keys) costs no store access. So
//   each of N replicas may let one failure through before it looks, and the total over N replicas is at most
//   limit + N - 1 per window (exactly the limit with one replica);
// - a client over the limit here (or known over it from the store) is refused with no store access at all;
// - each failure costs one counter write, but only for the first SHARED_PREFIXES prefixes an address fails
//   with in a window (here): an address rotating prefixes writes no more rows, its further prefixes are
//   counted in this process only (limit × N over N replicas for those; a guessed prefix names no key anyway);
// - counter keys are a hash of the address and key prefix (bounded length, nothing a client chose verbatim).
// If the store fails, this process's own count still holds. FailureLimiter (this process's count) lives here too.
import { createHash } from 'node:crypto'
import type { LeaseStore } from '../store/leases.js'

/** How much of a presented key names it for the limiter: `ctl_` and 12 more characters (72 random bits). */
export const KEY_PREFIX_LENGTH = 16

/**
 * Failed authentications per (client address, presented key prefix) in fixed windows. Counting
 * per prefix, not per address alone, means wrong keys lock out only that prefix: every step of a
 * machine calls from 127.0.0.1, and one of them sending wrong keys must not lock out its
 * neighbours' valid keys (whose prefixes the API never shows). Memory is bounded: at most
 * `maxEntries` windows, finished ones dropped first, then the oldest.
 */
export class FailureLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>()
  constructor(private readonly max: number, private readonly windowMs: number, private readonly maxEntries = 10_000) {}

  private static id(address: string, key: string): string {
    return `${address}\u0000${key.slice(0, KEY_PREFIX_LENGTH)}`
  }

  /** Failures of `key` (by its prefix) from `address` in the current window. */
  failures(address: string, key: string, now = Date.now()): number {
    const w = this.windows.get(FailureLimiter.id(address, key))
    return w && now - w.start < this.windowMs ? w.count : 0
  }

  /** Milliseconds until `key` (by its prefix) may be tried again from `address`; 0 when it may now. */
  blockedFor(address: string, key: string, now = Date.now()): number {
    const id = FailureLimiter.id(address, key)
    const w = this.windows.get(id)
    if (!w) return 0
    if (now - w.start >= this.windowMs) {
      this.windows.delete(id)
      return 0
    }
    return w.count >= this.max ? w.start + this.windowMs - now : 0
  }

  fail(address: string, key: string, now = Date.now()): void {
    const id = FailureLimiter.id(address, key)
    const w = this.windows.get(id)
    if (w && now - w.start < this.windowMs) {
      w.count++
      return
    }
    this.windows.delete(id)
    if (this.windows.size >= this.maxEntries) {
      for (const [k, v] of this.windows) if (now - v.start >= this.windowMs) this.windows.delete(k)
      // Still full: drop the oldest windows (a Map iterates in insertion order).
      for (const k of this.windows.keys()) {
        if (this.windows.size < this.maxEntries) break
        this.windows.delete(k)
      }
    }
    this.windows.set(id, { start: now, count: 1 })
  }

  /** Windows held now (for tests of the memory bound). */
  get size(): number {
    return this.windows.size
  }
}

export type CounterStore = Pick<LeaseStore, 'addToCounter' | 'readCounter'>

/** How many prefixes per address and window get a shared counter row (see the top of this file). */
export const SHARED_PREFIXES = 16

export class SharedFailureLimiter {
  private readonly local: FailureLimiter
  /** Counter keys the store says are over the limit, until their window ends. Bounded like the local windows. */
  private readonly blocked = new Map<string, number>()
  /** The shared counter keys each address has in the current window (at most SHARED_PREFIXES each). */
  private shared = { window: '', byAddress: new Map<string, Set<string>>() }

  constructor(
    private readonly store: CounterStore,
    /** Names the limit in the counter key (`auth`, `hook`). */
    private readonly scope: string,
    private readonly max: number,
    private readonly windowMs: number,
    private readonly maxEntries = 10_000,
  ) {
    this.local = new FailureLimiter(max, windowMs, maxEntries)
  }

  /** The shared counter's key: bounded, whatever the address and key sent. */
  counterKey(address: string, key: string): string {
    return `${this.scope}:${createHash('sha256').update(`${address}\u0000${key.slice(0, KEY_PREFIX_LENGTH)}`).digest('hex').slice(0, 32)}`
  }

  /** The fixed window `now` falls in, as the counter names it (its start, ISO; pruneCounters compares these). */
  private window(now: number): { name: string; end: number } {
    const start = Math.floor(now / this.windowMs) * this.windowMs
    return { name: new Date(start).toISOString(), end: start + this.windowMs }
  }

  private block(id: string, until: number, now: number): number {
    this.blocked.delete(id)
    if (this.blocked.size >= this.maxEntries) {
      for (const [k, t] of this.blocked) if (t <= now) this.blocked.delete(k)
      for (const k of this.blocked.keys()) {
        if (this.blocked.size < this.maxEntries) break
        this.blocked.delete(k)
      }
    }
    this.blocked.set(id, until)
    return until - now
  }

  /** Milliseconds until `key` (by its prefix) may be tried again from `address`; 0 when it may now. */
  async blockedFor(address: string, key: string, now = Date.now()): Promise<number> {
    const here = this.local.blockedFor(address, key, now)
    if (here > 0) return here
    // The counter's key is a hash: made only when something may be blocked or failed (not for every good request).
    let id: string | undefined
    if (this.blocked.size > 0) {
      id = this.counterKey(address, key)
      const until = this.blocked.get(id)
      if (until !== undefined) {
        if (until > now) return until - now
        this.blocked.delete(id)
      }
    }
    // No failure seen here: no store read (the limit + N - 1 bound above).
    if (this.local.failures(address, key, now) === 0) return 0
    id ??= this.counterKey(address, key)
    const w = this.window(now)
    if (!this.sharedSet(address, w.name, false)?.has(id)) return 0
    const n = await this.store.readCounter(id, w.name).catch(() => 0)
    return n >= this.max ? this.block(id, w.end, now) : 0
  }

  async fail(address: string, key: string, now = Date.now()): Promise<void> {
    this.local.fail(address, key, now)
    const id = this.counterKey(address, key)
    const w = this.window(now)
    const ids = this.sharedSet(address, w.name, true)!
    if (!ids.has(id)) {
      if (ids.size >= SHARED_PREFIXES) return
      ids.add(id)
    }
    const n = await this.store.addToCounter(id, w.name, 1).catch(() => 0)
    if (n >= this.max) this.block(id, w.end, now)
  }

  /** The shared counter keys of `address` in window `window` (created when `create`); bounded like the rest. */
  private sharedSet(address: string, window: string, create: boolean): Set<string> | undefined {
    if (this.shared.window !== window) this.shared = { window, byAddress: new Map() }
    let ids = this.shared.byAddress.get(address)
    if (!ids && create) {
      for (const k of this.shared.byAddress.keys()) {
        if (this.shared.byAddress.size < this.maxEntries) break
        this.shared.byAddress.delete(k)
      }
      ids = new Set()
      this.shared.byAddress.set(address, ids)
    }
    return ids
  }

  /** Entries held in memory (for tests of the bound). */
  get size(): number {
    return this.local.size + this.blocked.size + this.shared.byAddress.size
  }
}
