// PostgreSQL schedules (one row per scheduled workflow) and meta (a key/value table).
import { nowIso } from '../ids.js'
import type { ScheduleRecord } from '../types.js'
import type { PgDb } from './db.js'
import { toSchedule, type ScheduleRow } from './rows.js'

export async function getSchedule(db: PgDb, resourceId: string): Promise<ScheduleRecord | undefined> {
  const row = await db.one<ScheduleRow>('SELECT * FROM schedules WHERE resource_id = $1', [resourceId])
  return row && toSchedule(row)
}

export async function putSchedule(db: PgDb, record: Omit<ScheduleRecord, 'updatedAt'>): Promise<void> {
  await db.exec(
    `INSERT INTO schedules (resource_id, revision, next_fire_at, last_fire_at, updated_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (resource_id) DO UPDATE SET revision = excluded.revision, next_fire_at = excluded.next_fire_at,
       last_fire_at = excluded.last_fire_at, updated_at = excluded.updated_at`,
    [record.resourceId, record.revision, record.nextFireAt ?? null, record.lastFireAt ?? null, nowIso()],
  )
}

export async function deleteSchedule(db: PgDb, resourceId: string): Promise<void> {
  await db.exec('DELETE FROM schedules WHERE resource_id = $1', [resourceId])
}

export async function listSchedules(db: PgDb): Promise<ScheduleRecord[]> {
  // SQLite sorts NULLs first in ascending order; PostgreSQL last unless told.
  const rows = await db.rows<ScheduleRow>('SELECT * FROM schedules ORDER BY next_fire_at NULLS FIRST, resource_id')
  return rows.map(toSchedule)
}

export async function getMeta(db: PgDb, key: string): Promise<string | undefined> {
  const row = await db.one<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key])
  return row?.value
}

export async function setMeta(db: PgDb, key: string, value: string): Promise<void> {
  await db.exec('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value])
}
