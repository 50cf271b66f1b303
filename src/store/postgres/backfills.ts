// PostgreSQL backfills and their fire times. Fire-time states move by compare-and-set in one
// statement, so two replicas (or two passes) never both claim one time.
import { newId, nowIso } from '../ids.js'
import type { BackfillRecord, BackfillState, BackfillTimeRecord, BackfillTimeState, CreateBackfillInput } from '../types.js'
import type { PgDb } from './db.js'
import { toBackfill, toBackfillTime, type BackfillRow, type BackfillTimeRow } from '../rows.js'

export function createBackfill(db: PgDb, input: CreateBackfillInput): Promise<BackfillRecord> {
  return db.tx(async (q) => {
    const id = newId('bf')
    const row = await q.one<BackfillRow>(
      `INSERT INTO backfills (id, resource_id, run_trigger, parallel, state, created_by, created_at) VALUES ($1, $2, $3, $4, 'running', $5, $6)
       RETURNING *`,
      [id, input.resourceId, input.trigger, input.parallel, input.createdBy, nowIso()],
    )
    // A time given twice is one time (SQLite: INSERT OR IGNORE).
    await q.exec(
      `INSERT INTO backfill_times (backfill_id, fire_at, state) SELECT $1, t, 'pending' FROM unnest($2::text[]) AS t
       ON CONFLICT DO NOTHING`,
      [id, [...input.times]],
    )
    return toBackfill(row!)
  })
}

export async function getBackfill(db: PgDb, id: string): Promise<BackfillRecord | undefined> {
  const row = await db.one<BackfillRow>('SELECT * FROM backfills WHERE id = $1', [id])
  return row && toBackfill(row)
}

export async function listBackfills(db: PgDb, filter: { resourceId?: string; states?: BackfillState[] }): Promise<BackfillRecord[]> {
  const where: string[] = []
  const args: unknown[] = []
  if (filter.resourceId !== undefined) {
    args.push(filter.resourceId)
    where.push(`resource_id = $${args.length}`)
  }
  // As in SQLite, an empty state list filters nothing.
  if (filter.states && filter.states.length > 0) {
    args.push(filter.states)
    where.push(`state = ANY($${args.length}::text[])`)
  }
  const sql = `SELECT * FROM backfills${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id`
  return (await db.rows<BackfillRow>(sql, args)).map(toBackfill)
}

export async function listBackfillTimes(db: PgDb, backfillId: string): Promise<BackfillTimeRecord[]> {
  return (await db.rows<BackfillTimeRow>('SELECT * FROM backfill_times WHERE backfill_id = $1 ORDER BY fire_at', [backfillId])).map(toBackfillTime)
}

export async function updateBackfillTime(
  db: PgDb, backfillId: string, fireAt: string, patch: { state: BackfillTimeState; runId?: string }, fromStates: BackfillTimeState[],
): Promise<boolean> {
  const n = await db.exec(
    `UPDATE backfill_times SET state = $1, run_id = COALESCE($2, run_id) WHERE backfill_id = $3 AND fire_at = $4 AND state = ANY($5::text[])`,
    [patch.state, patch.runId ?? null, backfillId, fireAt, fromStates],
  )
  return n > 0
}

export async function finishBackfill(db: PgDb, id: string, state: 'done' | 'cancelled'): Promise<boolean> {
  const n = await db.exec(`UPDATE backfills SET state = $1, finished_at = $2 WHERE id = $3 AND state = 'running'`, [state, nowIso(), id])
  return n > 0
}
