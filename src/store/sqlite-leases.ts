// Replicas, run leases and fire claims on SQLite (migration 0012). Several processes may share one
// SQLite file on one machine; every claim is one statement inside the write lock, so it is atomic.
import { nowIso } from './ids.js'
import type { SqliteDb } from './sqlite-db.js'
import { queueUpdate } from './sqlite-runs.js'
import type { ReplicaRecord, RunLeaseRecord } from './leases.js'
import { toReplica, type ReplicaRow } from './rows.js'

export function heartbeatReplica(db: SqliteDb, r: Omit<ReplicaRecord, 'heartbeatAt'>, now: string): Promise<void> {
  return db.write(() => {
    db.stmt(`INSERT INTO replicas (id, host, pid, url, version, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, url = excluded.url, version = excluded.version, heartbeat_at = excluded.heartbeat_at`)
      .run(r.id, r.host, r.pid, r.url ?? null, r.version, r.startedAt, now)
  })
}

export function listReplicas(db: SqliteDb): Promise<ReplicaRecord[]> {
  return db.read(() => (db.stmt('SELECT * FROM replicas ORDER BY started_at, id').all() as ReplicaRow[]).map(toReplica))
}

export function removeReplica(db: SqliteDb, id: string): Promise<void> {
  return db.write(() => {
    db.stmt('DELETE FROM replicas WHERE id = ?').run(id)
  })
}

export function acquireRunLease(db: SqliteDb, runId: string, owner: string, now: string, expiresAt: string): Promise<boolean> {
  return db.write(() => {
    const r = db.stmt(`INSERT INTO run_leases (run_id, owner, expires_at) VALUES (?, ?, ?)
      ON CONFLICT (run_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
      WHERE run_leases.owner = excluded.owner OR run_leases.expires_at <= ?`).run(runId, owner, expiresAt, now)
    return r.changes > 0
  })
}

export function renewRunLeases(db: SqliteDb, owner: string, expiresAt: string): Promise<string[]> {
  return db.write(() => {
    db.stmt('UPDATE run_leases SET expires_at = ? WHERE owner = ?').run(expiresAt, owner)
    return (db.stmt('SELECT run_id FROM run_leases WHERE owner = ? ORDER BY run_id').all(owner) as { run_id: string }[]).map((r) => r.run_id)
  })
}

export async function releaseRunLease(db: SqliteDb, runId: string, owner: string): Promise<void> {
  // In the next group commit (sqlite-runs.ts), with the run ends of the same loop turn: one commit per run saved.
  await queueUpdate(db, () => db.stmt('DELETE FROM run_leases WHERE run_id = ? AND owner = ?').run(runId, owner).changes > 0)
}

export function listRunLeases(db: SqliteDb): Promise<RunLeaseRecord[]> {
  return db.read(() => (db.stmt('SELECT run_id, owner, expires_at FROM run_leases ORDER BY run_id').all() as { run_id: string; owner: string; expires_at: string }[])
    .map((r) => ({ runId: r.run_id, owner: r.owner, expiresAt: r.expires_at })))
}

export function claimFire(db: SqliteDb, key: string, fireAt: string, owner: string): Promise<boolean> {
  return db.write(() => db.stmt('INSERT INTO fire_claims (fire_key, fire_at, owner, claimed_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING')
    .run(key, fireAt, owner, nowIso()).changes > 0)
}

export function releaseFire(db: SqliteDb, key: string, fireAt: string, owner: string): Promise<void> {
  return db.write(() => {
    db.stmt('DELETE FROM fire_claims WHERE fire_key = ? AND fire_at = ? AND owner = ?').run(key, fireAt, owner)
  })
}

export function pruneFireClaims(db: SqliteDb, before: string): Promise<number> {
  return db.write(() => db.stmt('DELETE FROM fire_claims WHERE claimed_at < ?').run(before).changes)
}

export function addToCounter(db: SqliteDb, key: string, window: string, by: number): Promise<number> {
  return db.write(() => (db.stmt(`INSERT INTO counters (counter_key, window, value) VALUES (?, ?, ?)
    ON CONFLICT (counter_key, window) DO UPDATE SET value = value + excluded.value RETURNING value`).get(key, window, by) as { value: number }).value)
}

export function readCounter(db: SqliteDb, key: string, window: string): Promise<number> {
  return db.read(() => (db.stmt('SELECT value FROM counters WHERE counter_key = ? AND window = ?').get(key, window) as { value: number } | undefined)?.value ?? 0)
}

export function pruneCounters(db: SqliteDb, before: string): Promise<number> {
  return db.write(() => db.stmt('DELETE FROM counters WHERE window < ?').run(before).changes)
}
