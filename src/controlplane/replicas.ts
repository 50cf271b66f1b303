// This control plane among the replicas sharing the store (issue 13): an id per start (engine/ownership.ts
// newReplicaId: host, boot id, pid namespace, pid and a random part), a heartbeat every
// few seconds, its row removed on a graceful stop, and the housekeeping one replica or another does now and
// then (rows of replicas silent for long, old fire claims, finished counter windows). What the API shows of
// them is http/replicas.ts. Every replica runs it:
// each step is idempotent, so doing it twice costs a few statements and nothing else.
import { hostname } from 'node:os'
import type { Store } from '../store/types.js'
import { REPLICA_HEARTBEAT_MS } from '../http/replicas.js'
import type { EngineLogger } from '../engine/context.js'
import { packageVersion } from '../package-root.js'

/** A replica silent this long loses its row (a crash leaves one behind). */
export const REPLICA_FORGET_MS = 60 * 60_000
/**
 * Fire claims are kept a day after they were taken (not after their fire time: a backfill claims times long
 * past). A schedule claim protects its time until the schedule row moves past it, a backfill claim until the
 * time is `started`, a webhook claim its delivery's replay window (minutes): a day outlasts them all, short of
 * a maker that died holding a claim, whose time a day later is claimable again (backfills' recover looks for
 * its run first).
 */
export const FIRE_CLAIM_KEEP_MS = 24 * 60 * 60_000
/** How often the housekeeping runs. */
export const HOUSEKEEPING_MS = 10 * 60_000

export interface ReplicaOptions {
  store: Store
  id: string
  /** Its API as users reach this replica, when known. */
  url?: string
  /** Counter windows older than this are pruned (the longest limiter window, twice). */
  counterKeepMs: number
  logger: EngineLogger
  heartbeatMs?: number
  now?: () => Date
}

export interface ReplicaHandle {
  readonly id: string
  /** The URL it serves at, once listening (in the next heartbeat). */
  setUrl(url: string): void
  /** Graceful stop: no more heartbeats, and the row goes (its run leases stay until released or expired). */
  stop(): Promise<void>
}

/** Warnings to stderr (the detached server's log file), one JSON line each. */
export const stderrLogger: EngineLogger = {
  info() {},
  warn: (message, data) => console.error(JSON.stringify({ level: 'warn', time: new Date().toISOString(), message, ...data })),
  error: (message, data) => console.error(JSON.stringify({ level: 'error', time: new Date().toISOString(), message, ...data })),
}

/** Registers the replica (its first heartbeat is written before this resolves) and keeps it alive. */
export async function startReplica(opts: ReplicaOptions): Promise<ReplicaHandle> {
  const now = opts.now ?? (() => new Date())
  const row: { id: string; host: string; pid: number; version: string; startedAt: string; url?: string } = { id: opts.id, host: hostname(), pid: process.pid, version: packageVersion(), startedAt: now().toISOString(), ...(opts.url ? { url: opts.url } : {}) }
  const { store, logger } = opts
  await store.heartbeatReplica(row, now().toISOString())
  // Writes going on, awaited by stop() so that the store is not closed under them.
  const inFlight = new Set<Promise<unknown>>()
  const track = (p: Promise<unknown>): void => {
    inFlight.add(p)
    void p.finally(() => inFlight.delete(p))
  }
  let failing = false
  const beat = (): void => {
    track(store.heartbeatReplica(row, now().toISOString()).then(() => {
      if (failing) logger.info('replica heartbeat written again', { replica: opts.id })
      failing = false
    }, (err: unknown) => {
      // Logged once per outage: readiness (/readyz) is what tells the orchestrator.
      if (!failing) logger.warn('replica heartbeat failed', { replica: opts.id, error: String(err) })
      failing = true
    }))
  }
  const housekeeping = (): void => {
    track(housekeep(store, now(), opts.counterKeepMs).catch((err: unknown) => {
      logger.warn('replica housekeeping failed', { replica: opts.id, error: String(err) })
    }))
  }
  const heartbeat = setInterval(beat, opts.heartbeatMs ?? REPLICA_HEARTBEAT_MS)
  heartbeat.unref()
  const sweep = setInterval(housekeeping, HOUSEKEEPING_MS)
  sweep.unref()
  housekeeping()
  let stopped: Promise<void> | undefined
  return {
    id: opts.id,
    setUrl(url) {
      row.url = url
      beat()
    },
    stop: () =>
      (stopped ??= (async () => {
        clearInterval(heartbeat)
        clearInterval(sweep)
        await Promise.all(inFlight)
        await store.removeReplica(opts.id).catch(() => undefined)
      })()),
  }
}

/** Rows of replicas gone for long, fire claims past keeping, finished counter windows. */
export async function housekeep(store: Store, now: Date, counterKeepMs: number): Promise<void> {
  const t = now.getTime()
  for (const r of await store.listReplicas()) {
    if (t - Date.parse(r.heartbeatAt) > REPLICA_FORGET_MS) await store.removeReplica(r.id)
  }
  await store.pruneFireClaims(new Date(t - FIRE_CLAIM_KEEP_MS).toISOString())
  await store.pruneCounters(new Date(t - counterKeepMs).toISOString())
}
