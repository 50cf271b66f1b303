// PostgreSQL runs and step runs. State changes are compare-and-set in one statement
// (`UPDATE … WHERE id = $1 AND state = ANY($2)`): under READ COMMITTED a concurrent update of the
// same row makes the second wait, then re-check its WHERE on the new row, so of two replicas moving
// a run out of one state exactly one wins, as with SQLite's single writer.
import { CtlError } from '../../errors.js'
import { checkedTraceId, newId, nowIso } from '../ids.js'
import type {
  CreateRunInput,
  NewStepInstance,
  RunPatch,
  RunRecord,
  RunFilter,
  RunState,
  StepRunPatch,
  StepRunRecord,
  StepState,
} from '../types.js'
import { sqlState, type PgDb, type PgQuery } from './db.js'
import { pgText, RUN_COLUMNS_SQL, RUN_SELECT, STEP_RUN_COLUMNS, toRun, toStepRun, type PgStepRunRow, type RunRow } from './rows.js'

export async function createRun(db: PgDb, input: CreateRunInput): Promise<{ run: RunRecord; steps: StepRunRecord[] }> {
  if (new Set(input.steps).size !== input.steps.length) {
    throw new CtlError('E_DUPLICATE_STEP', 'a run cannot have two steps with the same name')
  }
  return db.tx(async (q) => {
    const rev = await q.one('SELECT 1 FROM resource_revisions WHERE resource_id = $1 AND revision = $2', [input.resourceId, input.revision])
    if (!rev) throw new CtlError('E_NOT_FOUND', `resource ${input.resourceId} has no revision ${input.revision}`)
    const id = newId('r')
    const now = nowIso()
    // First, so this transaction's row locks on the resource go from strong to weak (the run's
    // foreign key takes a share lock) and never wait behind an apply while holding the weaker one.
    // Greatest id wins: ids of two replicas need not arrive in order.
    await q.exec('UPDATE resources SET last_run_id = $1 WHERE id = $2 AND (last_run_id IS NULL OR last_run_id < $1)', [id, input.resourceId])
    await q.exec(
      `INSERT INTO runs (id, resource_id, revision, run_trigger, state, scheduled_at, late_by_seconds, retry_of, params, trace_id, created_at)
       VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9, $10)`,
      [
        id,
        input.resourceId,
        input.revision,
        input.trigger,
        input.scheduledAt ?? null,
        input.lateBySeconds ?? null,
        input.retryOf ?? null,
        input.params && Object.keys(input.params).length > 0 ? JSON.stringify(input.params) : null,
        checkedTraceId(input.traceId) ?? null,
        now,
      ],
    )
    if (input.steps.length > 0) {
      await q.exec(
        `INSERT INTO step_runs (id, run_id, step, attempt, state, created_at)
         SELECT u.id, $1, u.step, 1, 'pending', $2 FROM unnest($3::text[], $4::text[]) AS u(id, step)`,
        [id, now, input.steps.map(() => newId('s')), input.steps],
      )
    }
    // Leased on the database's clock (the lease clock, leases.ts), like every lease time other replicas compare.
    const lease = input.lease
    if (lease) {
      await q.exec(
        `INSERT INTO run_leases (run_id, owner, expires_at)
         VALUES ($1, $2, to_char((clock_timestamp() + $3 * interval '1 millisecond') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`,
        [id, lease.owner, lease.ttlMs],
      )
    }
    const run = await getRunIn(q, id)
    return { run: run!, steps: await listStepRunsIn(q, id) }
  })
}

async function getRunIn(q: PgQuery, id: string): Promise<RunRecord | undefined> {
  const row = await q.one<RunRow>(`${RUN_SELECT} WHERE runs.id = $1`, [id])
  return row && toRun(row)
}

export function getRun(db: PgDb, id: string): Promise<RunRecord | undefined> {
  return getRunIn(db, id)
}

export async function listRuns(db: PgDb, filter: RunFilter): Promise<RunRecord[]> {
  const where: string[] = []
  const params: unknown[] = []
  if (filter.resourceId !== undefined) {
    params.push(filter.resourceId)
    where.push(`runs.resource_id = $${params.length}`)
  }
  if (filter.states !== undefined) {
    if (filter.states.length === 0) return []
    params.push(filter.states)
    where.push(`runs.state = ANY($${params.length}::text[])`)
  }
  if (filter.leasedBy !== undefined) {
    params.push(filter.leasedBy)
    where.push(`runs.id IN (SELECT run_id FROM run_leases WHERE owner = $${params.length})`)
  }
  let sql = `${RUN_SELECT}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY runs.id DESC`
  if (filter.limit !== undefined) {
    params.push(Math.max(0, Math.floor(filter.limit)))
    sql += ` LIMIT $${params.length}`
  }
  return (await db.rows<RunRow>(sql, params)).map(toRun)
}

/** Above this many resources a listing reads every resource's newest run and drops the others here. */
const LATEST_ALL_ABOVE = 200

/** The newest run of each resource, through resources.last_run_id (kept by createRun). */
export async function listLatestRuns(db: PgDb, resourceIds: readonly string[]): Promise<RunRecord[]> {
  if (resourceIds.length === 0) return []
  const join = `SELECT ${RUN_COLUMNS_SQL} FROM resources r JOIN runs ON runs.id = r.last_run_id`
  if (resourceIds.length <= LATEST_ALL_ABOVE) {
    return (await db.rows<RunRow>(`${join} WHERE r.id = ANY($1::text[])`, [[...new Set(resourceIds)]])).map(toRun)
  }
  // A whole listing: sending 10,000 ids costs more than reading every resource's newest run.
  const wanted = new Set(resourceIds)
  return (await db.rows<RunRow>(`${join} WHERE r.last_run_id IS NOT NULL`)).filter((row) => wanted.has(row.resource_id)).map(toRun)
}

/** `UPDATE table SET a = $1, … WHERE id = $n [AND state = ANY($m)]`; columns come from a fixed map, never from input. */
async function casUpdate(
  db: PgDb,
  table: 'runs' | 'step_runs',
  id: string,
  sets: [column: string, value: unknown][],
  fromStates: readonly string[] | undefined,
): Promise<boolean> {
  if (fromStates !== undefined && fromStates.length === 0) return false
  const params: unknown[] = sets.map(([, v]) => v)
  // Nothing to write: answer whether the guard holds, for symmetry with a real update.
  let sql = sets.length === 0
    ? `SELECT 1 FROM ${table} WHERE id = $1`
    : `UPDATE ${table} SET ${sets.map(([c], i) => `${c} = $${i + 1}`).join(', ')} WHERE id = $${sets.length + 1}`
  params.push(id)
  if (fromStates !== undefined) {
    params.push(fromStates)
    sql += ` AND state = ANY($${params.length}::text[])`
  }
  if (sets.length === 0) return (await db.one(sql, params)) !== undefined
  return (await db.exec(sql, params)) === 1
}

const RUN_COLUMNS: Record<keyof RunPatch, string> = {
  state: 'state',
  reason: 'reason',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
}

export function updateRun(db: PgDb, id: string, patch: RunPatch, fromStates?: RunState[]): Promise<boolean> {
  const sets: [string, unknown][] = []
  for (const key of Object.keys(RUN_COLUMNS) as (keyof RunPatch)[]) {
    if (patch[key] !== undefined) sets.push([RUN_COLUMNS[key], key === 'reason' ? pgText(patch[key]) : patch[key]])
  }
  return casUpdate(db, 'runs', id, sets, fromStates)
}

const STEP_COLUMNS: Record<keyof StepRunPatch, string> = {
  state: 'state',
  exitCode: 'exit_code',
  reason: 'reason',
  message: 'message',
  runtimeHandle: 'runtime_handle',
  logOffset: 'log_offset',
  notBefore: 'not_before',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  keptFrom: 'kept_from',
  outputs: 'outputs',
  approval: 'approval',
}

export function updateStepRun(db: PgDb, id: string, patch: StepRunPatch, fromStates?: StepState[]): Promise<boolean> {
  const sets: [string, unknown][] = []
  for (const key of Object.keys(STEP_COLUMNS) as (keyof StepRunPatch)[]) {
    const value = patch[key]
    if (value === undefined) continue
    if (key === 'runtimeHandle' || key === 'outputs' || key === 'approval') sets.push([STEP_COLUMNS[key], JSON.stringify(value)])
    else sets.push([STEP_COLUMNS[key], typeof value === 'string' ? pgText(value) : value])
  }
  return casUpdate(db, 'step_runs', id, sets, fromStates)
}

async function listStepRunsIn(q: PgQuery, runId: string): Promise<StepRunRecord[]> {
  const rows = await q.rows<PgStepRunRow>(`SELECT ${STEP_RUN_COLUMNS} FROM step_runs WHERE run_id = $1 ORDER BY step, attempt`, [runId])
  return rows.map(toStepRun)
}

export function listStepRuns(db: PgDb, runId: string): Promise<StepRunRecord[]> {
  return listStepRunsIn(db, runId)
}

/** The latest attempt of each step, when it succeeded. */
function succeededSteps(rows: StepRunRecord[]): Map<string, StepRunRecord> {
  const latest = new Map<string, StepRunRecord>()
  for (const r of rows) latest.set(r.step, r) // ordered by step, attempt: the last one wins
  for (const [step, r] of latest) if (r.state !== 'succeeded') latest.delete(step)
  return latest
}

export async function stepOutputs(db: PgDb, runId: string): Promise<Map<string, Record<string, string>>> {
  const out = new Map<string, Record<string, string>>()
  const origins = new Map<string, Map<string, StepRunRecord>>()
  for (const [step, r] of succeededSteps(await listStepRunsIn(db, runId))) {
    let ran: StepRunRecord | undefined = r
    if (r.keptFrom) {
      // Carried over by a retry: its outputs are those of the attempt that ran it (keptFrom always names that run).
      let steps = origins.get(r.keptFrom)
      if (!steps) origins.set(r.keptFrom, (steps = succeededSteps(await listStepRunsIn(db, r.keptFrom))))
      ran = steps.get(step)
    }
    out.set(step, { ...(ran?.outputs ?? {}) })
  }
  return out
}

export async function getStepRun(db: PgDb, id: string): Promise<StepRunRecord | undefined> {
  const row = await db.one<PgStepRunRow>(`SELECT ${STEP_RUN_COLUMNS} FROM step_runs WHERE id = $1`, [id])
  return row && toStepRun(row)
}

/** A later attempt: an instance's parent and values come from its first attempt (NULL for a plain step). */
const INSERT_ATTEMPT = `INSERT INTO step_runs (id, run_id, step, attempt, state, not_before, created_at, parent_step, instance)
  SELECT $1, $2, $3, $4, 'pending', $5, $6, f.parent_step, f.instance
  FROM (SELECT 1) AS one LEFT JOIN step_runs f ON f.run_id = $2 AND f.step = $3 AND f.attempt = 1
  RETURNING ${STEP_RUN_COLUMNS}`

export function createStepAttempt(db: PgDb, runId: string, step: string, attempt: number, notBefore?: string): Promise<StepRunRecord> {
  return db.tx(async (q) => {
    try {
      const row = await q.one<PgStepRunRow>(INSERT_ATTEMPT, [newId('s'), runId, step, attempt, notBefore ?? null, nowIso()])
      return toStepRun(row!)
    } catch (err) {
      if (sqlState(err) === '23505') throw new CtlError('E_CONFLICT', `step ${step} of run ${runId} already has attempt ${attempt}`)
      if (sqlState(err) === '23503') throw new CtlError('E_NOT_FOUND', `run ${runId} not found`)
      throw err
    }
  })
}

export function createStepInstances(db: PgDb, runId: string, parent: string, instances: readonly NewStepInstance[]): Promise<StepRunRecord[]> {
  if (instances.length === 0) return Promise.resolve([])
  const names = instances.map((i) => i.step)
  const seen = new Set<string>()
  for (const name of names) {
    if (seen.has(name)) throw new CtlError('E_CONFLICT', `run ${runId} already has a step ${name}`)
    seen.add(name)
  }
  return db.tx(async (q) => {
    // Name the clashing step like SQLite does; a clash that appears after this check still fails on the key.
    const taken = new Set(
      (await q.rows<{ step: string }>('SELECT step FROM step_runs WHERE run_id = $1 AND step = ANY($2::text[]) AND attempt = 1', [runId, names])).map((r) => r.step),
    )
    const clash = names.find((n) => taken.has(n))
    if (clash !== undefined) throw new CtlError('E_CONFLICT', `run ${runId} already has a step ${clash}`)
    const ids = instances.map(() => newId('s'))
    let rows: PgStepRunRow[]
    try {
      rows = await q.rows<PgStepRunRow>(
        `INSERT INTO step_runs (id, run_id, step, attempt, state, created_at, parent_step, instance)
         SELECT u.id, $1, u.step, 1, 'pending', $2, $3, u.instance FROM unnest($4::text[], $5::text[], $6::text[]) AS u(id, step, instance)
         RETURNING ${STEP_RUN_COLUMNS}`,
        [runId, nowIso(), parent, ids, names, instances.map((i) => JSON.stringify(i.values))],
      )
    } catch (err) {
      if (sqlState(err) === '23505') throw new CtlError('E_CONFLICT', `run ${runId} already has one of the steps ${names.join(', ')}`)
      if (sqlState(err) === '23503') throw new CtlError('E_NOT_FOUND', `run ${runId} not found`)
      throw err
    }
    const byId = new Map(rows.map((r) => [r.id, r]))
    return ids.map((id) => toStepRun(byId.get(id)!))
  })
}

export async function listActiveStepRuns(db: PgDb): Promise<StepRunRecord[]> {
  const rows = await db.rows<PgStepRunRow>(`SELECT ${STEP_RUN_COLUMNS} FROM step_runs WHERE state = 'running' ORDER BY run_id, step, attempt`)
  return rows.map(toStepRun)
}
