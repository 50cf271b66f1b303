// What this process wrote to step rows, in order, so that a follower of a run (a `--wait` watch, which asks for the
// whole run every 100 ms) re-reads only the rows written since its last look instead of every row of the run: a
// 200-step DAG cost 200 rows per look while a few changed.
//
// Only this process's writes are in the log. A run driven here (its lease is ours) is written by this process but
// for a person's action taken on another replica (a stop, a suspend: the run's state changes, which every look reads;
// an approval: a step row) or a replica that lost the lease and has not noticed yet: the reader reads every row again
// at least every FULL_READ_MS. A run driven elsewhere is read whole at every look, as before.

import type { RunRecord, StepRunRecord, Store } from '../store/types.js'

/** How stale a row written by another process may be at most in a follower's view of a run driven here. */
export const FULL_READ_MS = 1000
/** Writes remembered (at least; up to twice as many); a follower further behind reads everything. */
const LOG_SIZE = 4096
/** Step rows kept for other readers (RunChanges.known). */
const ROWS_KEPT = 4096

interface Change {
  seq: number
  /** A write that created step rows of this run (an attempt, instances): a follower reads every row again. */
  runId?: string
  /** A write to this step row. */
  stepRunId?: string
}

export class RunChanges {
  private seq = 0
  private readonly log: Change[] = []
  /**
   * Step rows as a reader last read them, while no write to them was noted since that read began: the scheduler's pass
   * and the watches of a run all re-read the row an attempt's end wrote; the first read serves the others.
   */
  private readonly rows = new Map<string, StepRunRecord>()

  /** The sequence number of the last write noted. */
  get now(): number {
    return this.seq
  }

  note(change: Omit<Change, 'seq'>): void {
    this.log.push({ seq: ++this.seq, ...change })
    if (change.stepRunId !== undefined) this.rows.delete(change.stepRunId)
    // Trimmed by halves: a front removal per write would move the whole log each time.
    if (this.log.length >= 2 * LOG_SIZE) this.log.splice(0, LOG_SIZE)
  }

  /** A step row as read since the last write noted to it, if one was kept. */
  known(stepRunId: string): StepRunRecord | undefined {
    return this.rows.get(stepRunId)
  }

  /** Keeps rows a reader read, with the sequence number before its read began: rows written since are not kept. */
  remember(rows: readonly StepRunRecord[], since: number): void {
    // The log no longer reaches back that far: nothing is known about what was written meanwhile.
    if (since < this.seq && (this.log.length === 0 || this.log[0]!.seq > since + 1)) return
    const written = new Set<string>()
    for (let i = this.log.length - 1; i >= 0 && this.log[i]!.seq > since; i--) {
      const c = this.log[i]!
      if (c.stepRunId !== undefined) written.add(c.stepRunId)
    }
    for (const row of rows) {
      if (written.has(row.id)) continue
      this.rows.delete(row.id)
      this.rows.set(row.id, row)
    }
    // Bounded, the oldest kept first out (a Map iterates in insertion order).
    for (const id of this.rows.keys()) {
      if (this.rows.size <= ROWS_KEPT) break
      this.rows.delete(id)
    }
  }

  /**
   * The rows among `rowIds` written after `since` (up to `until`), or 'all' when the run got new rows or the log no
   * longer reaches back that far.
   */
  since(since: number, until: number, runId: string, rowIds: { has(id: string): boolean }): Set<string> | 'all' {
    const out = new Set<string>()
    if (since >= until) return out
    if (this.log.length === 0 || this.log[0]!.seq > since + 1) return 'all'
    for (let i = this.log.length - 1; i >= 0; i--) {
      const c = this.log[i]!
      if (c.seq <= since) break
      if (c.seq > until) continue
      if (c.runId === runId) return 'all'
      if (c.stepRunId !== undefined && rowIds.has(c.stepRunId)) out.add(c.stepRunId)
    }
    return out
  }
}

/**
 * The store with every write to step rows noted in `changes` once it has settled (committed, or failed: a failed
 * write may have committed with its answer lost). Noted before the writer's own code goes on, so a write a caller saw
 * done is in the log before anything the caller does next (such as ending the run).
 */
export function noteStepWrites(store: Store, changes: RunChanges): Store {
  const noted = <A extends unknown[], R>(write: (...args: A) => Promise<R>, change: (...args: A) => Omit<Change, 'seq'>) =>
    (...args: A): Promise<R> => write.apply(store, args).finally(() => changes.note(change(...args)))
  const writes: Partial<Record<keyof Store, unknown>> = {
    updateStepRun: noted(store.updateStepRun, (id) => ({ stepRunId: id })),
    appendLogs: noted(store.appendLogs, (stepRunId) => ({ stepRunId })),
    createStepAttempt: noted(store.createStepAttempt, (runId) => ({ runId })),
    createStepInstances: noted(store.createStepInstances, (runId) => ({ runId })),
  }
  const bound = new Map<PropertyKey, unknown>()
  return new Proxy(store, {
    get(target, key) {
      const write = writes[key as keyof Store]
      if (write !== undefined) return write
      const value: unknown = Reflect.get(target, key, target)
      if (typeof value !== 'function') return value
      // Methods run on the store itself (its private fields), bound once.
      let fn = bound.get(key)
      if (fn === undefined) bound.set(key, (fn = (value as (...args: unknown[]) => unknown).bind(target)))
      return fn
    },
  })
}

/** What marks a change of a run a follower must read everything again for: its state (a stop, a suspend, its end). */
const runKey = (run: RunRecord): string => `${run.state}|${run.reason ?? ''}`

/**
 * The step rows of one run, for a follower that reads them again and again: the rows written since its last read
 * (changes), the whole run when it is not driven here (owned), when its state changed, or once FULL_READ_MS passed.
 * Each answer is what listStepRuns would answer: in SQLite the rows are read back to back (nothing is written in
 * between); elsewhere a read that raced with writes of this process to the run reads those rows again.
 */
export class StepRowsReader {
  private rows: StepRunRecord[] = []
  private readonly at = new Map<string, number>()
  private seq = -1
  private key = ''
  private fullAt = 0
  private wasOwned = false

  constructor(
    private readonly store: Store,
    private readonly changes: RunChanges,
    private readonly runId: string,
    private readonly owned: () => boolean,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /**
   * Starts from rows the store answered when the changes log was at `seq` (a run's creation): the next read reads
   * only the rows written since, as after a whole read at that moment.
   */
  seed(run: RunRecord, rows: readonly StepRunRecord[], seq: number): void {
    this.rows = [...rows]
    this.at.clear()
    this.rows.forEach((r, i) => this.at.set(r.id, i))
    this.seq = seq
    this.key = runKey(run)
    this.fullAt = this.nowMs()
    this.wasOwned = this.owned()
  }

  /** The run's step rows, as listStepRuns answers; `run` was read just before. */
  async read(run: RunRecord): Promise<StepRunRecord[]> {
    let until = this.changes.now
    // Driven here since the last read too: rows another replica wrote before it let go of the run are read whole.
    const owned = this.owned()
    const fresh = this.seq >= 0 && owned && this.wasOwned && runKey(run) === this.key && this.nowMs() - this.fullAt < FULL_READ_MS
    this.wasOwned = owned
    let changed = fresh ? this.changes.since(this.seq, until, this.runId, this.at) : 'all'
    // Rows re-read one by one cost more than one row each of a whole read: past a share of the run, read it whole.
    for (let round = 0; changed !== 'all' && changed.size > 0; round++) {
      if (round >= 3 || changed.size > Math.max(4, this.rows.length / 4)) {
        changed = 'all'
        break
      }
      // Rows another reader read since their last write are taken as it read them; the others are read.
      const began = this.changes.now
      const rows = await Promise.all([...changed].map((id) => this.changes.known(id) ?? this.store.getStepRun(id)))
      if (rows.some((r) => r === undefined || r.runId !== this.runId)) {
        changed = 'all'
        break
      }
      this.changes.remember(rows as StepRunRecord[], began)
      for (const row of rows as StepRunRecord[]) this.rows[this.at.get(row.id)!] = row
      // Written again while being read: those rows once more, so the answer is one moment of the run.
      const since = until
      until = this.changes.now
      changed = this.changes.since(since, until, this.runId, this.at)
    }
    if (changed === 'all') {
      until = this.changes.now
      this.rows = await this.store.listStepRuns(this.runId)
      // Served to other readers only of runs driven here (known() is asked then): others' rows would crowd them out.
      if (owned) this.changes.remember(this.rows, until)
      this.at.clear()
      this.rows.forEach((r, i) => this.at.set(r.id, i))
      this.fullAt = this.nowMs()
    }
    this.seq = until
    this.key = runKey(run)
    // A copy: the caller may keep or change its array.
    return [...this.rows]
  }
}
