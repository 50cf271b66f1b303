// Replicas, run leases, fire claims and shared counters on PostgreSQL (the contract: ../leases.ts;
// SQLite's: ../sqlite-leases.ts). Every claim is one statement: the unique key and the row lock an
// INSERT … ON CONFLICT takes make it atomic across replicas without a transaction of our own.
import { nowIso } from '../ids.js'
import type { ReplicaRecord, RunLeaseRecord } from '../leases.js'
import type { PgDb } from './db.js'
import { toReplica, type ReplicaRow } from '../rows.js'

export async function heartbeatReplica(db: PgDb, r: Omit<ReplicaRecord, 'heartbeatAt'>, now: string): Promise<void> {
  await db.exec(
    `INSERT INTO replicas (id, host, pid, url, version, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, url = excluded.url, version = excluded.version,
       heartbeat_at = excluded.heartbeat_at`,
    [r.id, r.host, r.pid, r.url ?? null, r.version, r.startedAt, now],
  )
}

export async function listReplicas(db: PgDb): Promise<ReplicaRecord[]> {
  return (await db.rows<ReplicaRow>('SELECT id, host, pid, url, version, started_at, heartbeat_at FROM replicas ORDER BY started_at, id')).map(toReplica)
}

export async function removeReplica(db: PgDb, id: string): Promise<void> {
  await db.exec('DELETE FROM replicas WHERE id = $1', [id])
}

/**
 * One statement: a concurrent caller's INSERT waits on the row the other inserted or locked, then
 * re-checks the WHERE against the committed row, so of two callers at most one gets a row back.
 */
export async function acquireRunLease(db: PgDb, runId: string, owner: string, now: string, expiresAt: string): Promise<boolean> {
  const n = await db.exec(
    `INSERT INTO run_leases (run_id, owner, expires_at) VALUES ($1, $2, $3)
     ON CONFLICT (run_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
     WHERE run_leases.owner = excluded.owner OR run_leases.expires_at <= $4`,
    [runId, owner, expiresAt, now],
  )
  return n > 0
}

export async function leaseClock(db: PgDb): Promise<string> {
  // clock_timestamp(): the time now, not the transaction's start.
  const row = await db.one<{ now: string }>(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS now`)
  return row!.now
}

export async function renewRunLeases(db: PgDb, owner: string, expiresAt: string): Promise<string[]> {
  const rows = await db.rows<{ run_id: string }>('UPDATE run_leases SET expires_at = $1 WHERE owner = $2 RETURNING run_id', [expiresAt, owner])
  return rows.map((r) => r.run_id).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
}

export async function releaseRunLease(db: PgDb, runId: string, owner: string): Promise<void> {
  await db.exec('DELETE FROM run_leases WHERE run_id = $1 AND owner = $2', [runId, owner])
}

export async function listRunLeases(db: PgDb): Promise<RunLeaseRecord[]> {
  const rows = await db.rows<{ run_id: string; owner: string; expires_at: string }>('SELECT run_id, owner, expires_at FROM run_leases ORDER BY run_id')
  return rows.map((r) => ({ runId: r.run_id, owner: r.owner, expiresAt: r.expires_at }))
}

export async function claimFire(db: PgDb, key: string, fireAt: string, owner: string): Promise<boolean> {
  const n = await db.exec('INSERT INTO fire_claims (fire_key, fire_at, owner, claimed_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [
    key, fireAt, owner, nowIso(),
  ])
  return n > 0
}

export async function releaseFire(db: PgDb, key: string, fireAt: string, owner: string): Promise<void> {
  await db.exec('DELETE FROM fire_claims WHERE fire_key = $1 AND fire_at = $2 AND owner = $3', [key, fireAt, owner])
}

export async function pruneFireClaims(db: PgDb, before: string): Promise<number> {
  return db.exec('DELETE FROM fire_claims WHERE claimed_at < $1', [before])
}

export async function addToCounter(db: PgDb, key: string, window: string, by: number): Promise<number> {
  const row = await db.one<{ value: string }>(
    `INSERT INTO counters (counter_key, time_window, value) VALUES ($1, $2, $3)
     ON CONFLICT (counter_key, time_window) DO UPDATE SET value = counters.value + excluded.value RETURNING value`,
    [key, window, by],
  )
  return Number(row!.value)
}

export async function readCounter(db: PgDb, key: string, window: string): Promise<number> {
  const row = await db.one<{ value: string }>('SELECT value FROM counters WHERE counter_key = $1 AND time_window = $2', [key, window])
  return row ? Number(row.value) : 0
}

export async function pruneCounters(db: PgDb, before: string): Promise<number> {
  return db.exec('DELETE FROM counters WHERE time_window < $1', [before])
}
