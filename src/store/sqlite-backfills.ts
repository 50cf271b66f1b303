// Backfills and their fire times (migration 0011). Fire-time states move by compare-and-set, so two
// passes (or two engines after a restart) never both claim one time.
import { newId, nowIso } from './ids.js'
import type { SqliteDb } from './sqlite-db.js'
import type { BackfillRecord, BackfillState, BackfillTimeRecord, BackfillTimeState, CreateBackfillInput } from './types.js'
import { toBackfill, toBackfillTime, type BackfillRow, type BackfillTimeRow } from './rows.js'

export function createBackfill(db: SqliteDb, input: CreateBackfillInput): Promise<BackfillRecord> {
  return db.write(() => {
    const id = newId('bf')
    const now = nowIso()
    db.stmt(`INSERT INTO backfills (id, resource_id, run_trigger, parallel, state, created_by, created_at) VALUES (?, ?, ?, ?, 'running', ?, ?)`)
      .run(id, input.resourceId, input.trigger, input.parallel, input.createdBy, now)
    const insert = db.stmt(`INSERT OR IGNORE INTO backfill_times (backfill_id, fire_at, state) VALUES (?, ?, 'pending')`)
    for (const t of input.times) insert.run(id, t)
    return toBackfill(db.stmt('SELECT * FROM backfills WHERE id = ?').get(id) as BackfillRow)
  })
}

export function getBackfill(db: SqliteDb, id: string): Promise<BackfillRecord | undefined> {
  return db.read(() => {
    const row = db.stmt('SELECT * FROM backfills WHERE id = ?').get(id) as BackfillRow | undefined
    return row && toBackfill(row)
  })
}

export function listBackfills(db: SqliteDb, filter: { resourceId?: string; states?: BackfillState[] }): Promise<BackfillRecord[]> {
  return db.read(() => {
    const where: string[] = []
    const args: unknown[] = []
    if (filter.resourceId !== undefined) {
      where.push('resource_id = ?')
      args.push(filter.resourceId)
    }
    if (filter.states && filter.states.length > 0) {
      where.push(`state IN (${filter.states.map(() => '?').join(', ')})`)
      args.push(...filter.states)
    }
    const sql = `SELECT * FROM backfills${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id`
    return (db.stmt(sql).all(...args) as BackfillRow[]).map(toBackfill)
  })
}

export function listBackfillTimes(db: SqliteDb, backfillId: string): Promise<BackfillTimeRecord[]> {
  return db.read(() => (db.stmt('SELECT * FROM backfill_times WHERE backfill_id = ? ORDER BY fire_at').all(backfillId) as BackfillTimeRow[]).map(toBackfillTime))
}

export async function updateBackfillTime(
  db: SqliteDb, backfillId: string, fireAt: string, patch: { state: BackfillTimeState; runId?: string }, fromStates: BackfillTimeState[],
): Promise<boolean> {
  const info = await db.write(() =>
    db.stmt(`UPDATE backfill_times SET state = ?, run_id = COALESCE(?, run_id) WHERE backfill_id = ? AND fire_at = ? AND state IN (${fromStates.map(() => '?').join(', ')})`)
      .run(patch.state, patch.runId ?? null, backfillId, fireAt, ...fromStates),
  )
  return info.changes > 0
}

export async function finishBackfill(db: SqliteDb, id: string, state: 'done' | 'cancelled'): Promise<boolean> {
  const info = await db.write(() => db.stmt(`UPDATE backfills SET state = ?, finished_at = ? WHERE id = ? AND state = 'running'`).run(state, nowIso(), id))
  return info.changes > 0
}
