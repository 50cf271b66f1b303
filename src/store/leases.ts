// The store contract, leases (LeaseStore): the store's part in running several control-plane replicas on one database (issue 13): who is
// alive, who owns which run, and which replica fired a schedule's fire time. Plain records; times
// are ISO-8601 UTC text like everywhere in the store, and every call takes `now` from the caller so
// a fake clock drives leases in tests as it drives schedules.

/** A control plane that shares the store; rows of replicas that stopped heartbeating are kept until removed. */
export interface ReplicaRecord {
  /** Random per process start (e.g. `r-3f9a…`). */
  id: string
  host: string
  pid: number
  /** Its API as other replicas and users reach it, when known. */
  url?: string
  /** ctl version the replica runs. */
  version: string
  startedAt: string
  heartbeatAt: string
}

/** One run's owner: the replica whose engine schedules its steps and follows its attempts. */
export interface RunLeaseRecord {
  runId: string
  owner: string
  expiresAt: string
}

export interface LeaseStore {
  /** Inserts the replica or refreshes its row (every field but startedAt is overwritten; heartbeatAt = now). */
  heartbeatReplica(replica: Omit<ReplicaRecord, 'heartbeatAt'>, now: string): Promise<void>
  /** Ordered by startedAt. */
  listReplicas(): Promise<ReplicaRecord[]>
  /** Drops the row (a graceful stop); its leases stay until they expire or are released. */
  removeReplica(id: string): Promise<void>

  /**
   * Takes the run's lease for `owner` until `expiresAt` when nobody holds it, its holder's lease
   * ran out (expiresAt <= now), or `owner` holds it already (then it is extended). Atomic across
   * replicas: of two concurrent callers at most one gets true. Returns whether `owner` holds it now.
   */
  acquireRunLease(runId: string, owner: string, now: string, expiresAt: string): Promise<boolean>
  /**
   * The database's clock (ISO-8601 UTC) when the store is shared by several machines (PostgreSQL), so lease
   * times written by one replica and compared by another do not depend on either machine's clock; undefined
   * where the store has no clock of its own (SQLite: one machine, the caller's clock, a fake one in tests).
   */
  leaseClock(): Promise<string | undefined>
  /** Extends every lease `owner` still holds (expired ones nobody took too) to `expiresAt`; returns their run ids. */
  renewRunLeases(owner: string, expiresAt: string): Promise<string[]>
  /** Gives the lease up (run ended, or a graceful stop); a no-op when `owner` does not hold it. */
  releaseRunLease(runId: string, owner: string): Promise<void>
  /** Every lease row, expired ones included; ordered by runId. */
  listRunLeases(): Promise<RunLeaseRecord[]>

  /**
   * Exactly-once claims across replicas: true for the first caller of a (key, fireAt) pair, false for
   * every later one, whatever the replica. Keys name what fires (`schedule:<resourceId>`,
   * `backfill:<id>`). Claims taken before `before` may be dropped by pruneFireClaims.
   */
  claimFire(key: string, fireAt: string, owner: string): Promise<boolean>
  /**
   * Gives a claim back when its owner could not make what it claimed (a failed statement), so that the next
   * pass, here or on another replica, claims the time again; a no-op when `owner` does not hold it.
   */
  releaseFire(key: string, fireAt: string, owner: string): Promise<void>
  /**
   * Deletes claims taken (claimedAt, not fireAt: a backfill claims times long past) before `before`; returns how
   * many.
   */
  pruneFireClaims(before: string): Promise<number>

  /**
   * Shared counters for limits that must hold across replicas (failed authentications per address
   * and key prefix, bad webhook requests): adds `by` to the counter (key, window) and returns its new
   * value, atomically. `window` names the time window (e.g. its start time); keys are bounded by the caller.
   */
  addToCounter(key: string, window: string, by: number): Promise<number>
  /** The counter's value (0 when absent). */
  readCounter(key: string, window: string): Promise<number>
  /** Deletes counters whose window sorts before `before`; returns how many. */
  pruneCounters(before: string): Promise<number>
}

// Kept here for the importers of this file from before the split; it lives with the logs.
export type { LogNotifier } from './contract-logs.js'
