// Runs and step runs. State changes are compare-and-set (`WHERE state IN (...)`)
// so the engine, a user's kill and a restart's reattach cannot overwrite each
// other's transitions. Those updates are group-committed: every update issued in
// one turn of the event loop (twenty steps starting or ending at once) shares one
// transaction, each still applied in order and answered with its own result.
import { CtlError } from '../errors.js'
import { checkedTraceId, newId, nowIso } from './ids.js'
import { mapSqliteError, type SqliteDb } from './sqlite-db.js'
import { RUN_SELECT, runRowOf, STEP_RUN_COLUMNS, stepRunRowOf, toRun, toStepRun, type RunTuple, type StepRunTuple } from './rows.js'
import type {
  CreateRunInput,
  NewStepInstance,
  RunPatch,
  RunFilter,
  RunRecord,
  RunState,
  StepRunPatch,
  StepRunRecord,
  StepState,
} from './types.js'

const INSERT_STEP = `INSERT INTO step_runs (id, run_id, step, attempt, state, not_before, created_at)
  VALUES (?, ?, ?, ?, 'pending', ?, ?)`

/** A later attempt: an instance's parent and values come from its first attempt (NULL for a plain step). */
const INSERT_ATTEMPT = `INSERT INTO step_runs (id, run_id, step, attempt, state, not_before, created_at, parent_step, instance)
  SELECT ?, ?, ?, ?, 'pending', ?, ?, f.parent_step, f.instance
  FROM (SELECT 1) LEFT JOIN step_runs f ON f.run_id = ? AND f.step = ? AND f.attempt = 1`

const INSERT_INSTANCE = `INSERT INTO step_runs (id, run_id, step, attempt, state, created_at, parent_step, instance)
  VALUES (?, ?, ?, 1, 'pending', ?, ?, ?)`

export async function createRun(db: SqliteDb, input: CreateRunInput): Promise<{ run: RunRecord; steps: StepRunRecord[] }> {
  if (new Set(input.steps).size !== input.steps.length) {
    throw new CtlError('E_DUPLICATE_STEP', 'a run cannot have two steps with the same name')
  }
  // In the next group commit with the other writes of this loop turn (runs requested together share a commit),
  // under a savepoint of its own: a failure leaves nothing of this run and the others' writes intact.
  return queueWrite(db, () => db.raw.transaction(() => {
    const rev = db
      .stmt('SELECT 1 FROM resource_revisions WHERE resource_id = ? AND revision = ?')
      .get(input.resourceId, input.revision)
    if (!rev) throw new CtlError('E_NOT_FOUND', `resource ${input.resourceId} has no revision ${input.revision}`)
    const id = newId('r')
    const now = nowIso()
    db.stmt(
      `INSERT INTO runs (id, resource_id, revision, run_trigger, state, scheduled_at, late_by_seconds, retry_of, params, trace_id, created_at)
       VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)`,
    ).run(
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
    )
    for (const step of input.steps) db.stmt(INSERT_STEP).run(newId('s'), id, step, 1, null, now)
    // No clock of its own (leases.ts): the lease runs from the caller's time. A new run has no lease row yet.
    const lease = input.lease
    if (lease) db.stmt('INSERT INTO run_leases (run_id, owner, expires_at) VALUES (?, ?, ?)').run(id, lease.owner, new Date(Date.parse(lease.now) + lease.ttlMs).toISOString())
    return { run: getRunSync(db, id)!, steps: listStepRunsSync(db, id) }
  })())
}

/** A step row of STEP_RUN_COLUMNS read with rawStmt (an array: the driver builds no object per row). */
function stepRunOf(t: StepRunTuple): StepRunRecord {
  return toStepRun(stepRunRowOf(t))
}

/** Runs from RUN_SELECT rows read with rawStmt. */
function runsOf(rows: unknown[]): RunRecord[] {
  return (rows as RunTuple[]).map((t) => toRun(runRowOf(t)))
}

// The hottest statements' texts are made once: the statement cache looks a text up by its content, and a text built
// at each call is a new string to flatten and hash every time.
const RUN_BY_ID = `${RUN_SELECT} WHERE runs.id = ?`
const STEPS_OF_RUN = `SELECT ${STEP_RUN_COLUMNS} FROM step_runs WHERE run_id = ? ORDER BY step, attempt`
const STEP_BY_ID = `SELECT ${STEP_RUN_COLUMNS} FROM step_runs WHERE id = ?`
const ACTIVE_STEPS = `SELECT ${STEP_RUN_COLUMNS} FROM step_runs WHERE state = 'running' ORDER BY run_id, step, attempt`

function getRunSync(db: SqliteDb, id: string): RunRecord | undefined {
  const row = db.rawStmt(RUN_BY_ID).get(id) as RunTuple | undefined
  return row && toRun(runRowOf(row))
}

export async function getRun(db: SqliteDb, id: string): Promise<RunRecord | undefined> {
  return db.read(() => getRunSync(db, id))
}

export async function listRuns(db: SqliteDb, filter: RunFilter): Promise<RunRecord[]> {
  const where: string[] = []
  const params: unknown[] = []
  if (filter.resourceId !== undefined) {
    where.push('runs.resource_id = ?')
    params.push(filter.resourceId)
  }
  if (filter.states !== undefined) {
    if (filter.states.length === 0) return []
    where.push(`runs.state IN (${filter.states.map(() => '?').join(', ')})`)
    params.push(...filter.states)
  }
  if (filter.leasedBy !== undefined) {
    where.push('runs.id IN (SELECT run_id FROM run_leases WHERE owner = ?)')
    params.push(filter.leasedBy)
  }
  let sql = `${RUN_SELECT}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY runs.id DESC`
  if (filter.limit !== undefined) {
    sql += ' LIMIT ?'
    params.push(Math.max(0, Math.floor(filter.limit)))
  }
  return db.read(() => runsOf(db.rawStmt(sql).all(...params)))
}

/** The newest run of each resource, in one statement: an index seek per id on runs (resource_id, id). */
export async function listLatestRuns(db: SqliteDb, resourceIds: readonly string[]): Promise<RunRecord[]> {
  if (resourceIds.length === 0) return []
  if (resourceIds.length > 200) {
    // Many resources (a whole listing): one pass over the (resource_id, id) index
    // beats a lookup per resource; runs of resources not asked for are dropped.
    const wanted = new Set(resourceIds)
    const sql = `${RUN_SELECT} WHERE runs.id IN (SELECT MAX(id) FROM runs GROUP BY resource_id)`
    return db.read(() => runsOf((db.rawStmt(sql).all() as RunTuple[]).filter((row) => wanted.has(row[1]))))
  }
  const sql = `${RUN_SELECT} WHERE runs.id IN (
      SELECT (SELECT l.id FROM runs l WHERE l.resource_id = j.value ORDER BY l.id DESC LIMIT 1) FROM json_each(?) j)`
  return db.read(() => runsOf(db.rawStmt(sql).all(JSON.stringify(resourceIds))))
}

/** Builds `UPDATE table SET a = ?, ... WHERE id = ? [AND state IN (...)]`; columns come from a fixed map, never from input. */
function casUpdate(
  db: SqliteDb,
  table: 'runs' | 'step_runs',
  id: string,
  sets: [column: string, value: unknown][],
  fromStates: readonly string[] | undefined,
): boolean {
  if (fromStates !== undefined && fromStates.length === 0) return false
  const params: unknown[] = []
  let sql: string
  if (sets.length === 0) {
    // Nothing to write: answer whether the guard holds, for symmetry with a real update.
    sql = `SELECT 1 FROM ${table} WHERE id = ?`
  } else {
    sql = `UPDATE ${table} SET ${sets.map(([c]) => `${c} = ?`).join(', ')} WHERE id = ?`
    params.push(...sets.map(([, v]) => v))
  }
  params.push(id)
  if (fromStates !== undefined) {
    sql += ` AND state IN (${fromStates.map(() => '?').join(', ')})`
    params.push(...fromStates)
  }
  if (sets.length === 0) return db.stmt(sql).get(...params) !== undefined
  return db.stmt(sql).run(...params).changes === 1
}

const RUN_COLUMNS: Record<keyof RunPatch, string> = {
  state: 'state',
  reason: 'reason',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
}

interface QueuedUpdate {
  apply: () => unknown
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
}

/** Updates waiting for the next group commit, per database. */
const queues = new WeakMap<SqliteDb, QueuedUpdate[]>()

/**
 * Runs `apply` in the next group commit of `db`. Resolves once that transaction is committed,
 * so a caller that awaits the update reads it back like after a write of its own.
 * Also used for audit entries (sqlite-identity.ts): one commit per burst instead of one per request.
 */
export function queueUpdate(db: SqliteDb, apply: () => boolean): Promise<boolean> {
  return queueWrite(db, apply)
}

/** queueUpdate for any answer: `apply` runs in the next group commit; a write of several statements takes a savepoint. */
export function queueWrite<T>(db: SqliteDb, apply: () => T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let queue = queues.get(db)
    if (!queue) {
      queue = []
      queues.set(db, queue)
      // setImmediate, not a microtask: the updates of one burst are issued across several
      // microtask hops (each step's own await chain), all within the same loop turn.
      setImmediate(() => void flush(db))
    }
    queue.push({ apply, resolve: resolve as (value: unknown) => void, reject })
  })
}

async function flush(db: SqliteDb): Promise<void> {
  const queue = queues.get(db) ?? []
  queues.delete(db)
  let results: ({ ok: true; value: unknown } | { ok: false; error: unknown })[]
  try {
    // One failing update must not undo the others: each is caught inside the transaction
    // (a failed statement leaves the transaction usable). A whole-transaction failure
    // (busy beyond the retries, closed database) rejects them all.
    results = await db.write(() =>
      queue.map((u) => {
        try {
          return { ok: true as const, value: u.apply() }
        } catch (error) {
          return { ok: false as const, error }
        }
      }),
    )
  } catch (err) {
    for (const u of queue) u.reject(err)
    return
  }
  queue.forEach((u, i) => {
    const r = results[i]!
    if (r.ok) u.resolve(r.value)
    else u.reject(mapSqliteError(r.error))
  })
}

export async function updateRun(db: SqliteDb, id: string, patch: RunPatch, fromStates?: RunState[]): Promise<boolean> {
  const sets: [string, unknown][] = []
  for (const key of Object.keys(RUN_COLUMNS) as (keyof RunPatch)[]) {
    if (patch[key] !== undefined) sets.push([RUN_COLUMNS[key], patch[key]])
  }
  return queueUpdate(db, () => casUpdate(db, 'runs', id, sets, fromStates))
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

export async function updateStepRun(
  db: SqliteDb,
  id: string,
  patch: StepRunPatch,
  fromStates?: StepState[],
): Promise<boolean> {
  const sets: [string, unknown][] = []
  for (const key of Object.keys(STEP_COLUMNS) as (keyof StepRunPatch)[]) {
    const value = patch[key]
    if (value === undefined) continue
    sets.push([STEP_COLUMNS[key], key === 'runtimeHandle' || key === 'outputs' || key === 'approval' ? JSON.stringify(value) : value])
  }
  return queueUpdate(db, () => casUpdate(db, 'step_runs', id, sets, fromStates))
}

function listStepRunsSync(db: SqliteDb, runId: string): StepRunRecord[] {
  return (
    db.rawStmt(STEPS_OF_RUN).all(runId) as StepRunTuple[]
  ).map(stepRunOf)
}

export async function listStepRuns(db: SqliteDb, runId: string): Promise<StepRunRecord[]> {
  return db.read(() => listStepRunsSync(db, runId))
}

/** The latest attempt of each step, when it succeeded. */
function succeededSteps(rows: StepRunRecord[]): Map<string, StepRunRecord> {
  const latest = new Map<string, StepRunRecord>()
  for (const r of rows) latest.set(r.step, r) // ordered by step, attempt: the last one wins
  for (const [step, r] of latest) if (r.state !== 'succeeded') latest.delete(step)
  return latest
}

export async function stepOutputs(db: SqliteDb, runId: string): Promise<Map<string, Record<string, string>>> {
  return db.read(() => {
    const out = new Map<string, Record<string, string>>()
    const origins = new Map<string, Map<string, StepRunRecord>>()
    for (const [step, r] of succeededSteps(listStepRunsSync(db, runId))) {
      let ran: StepRunRecord | undefined = r
      if (r.keptFrom) {
        // Carried over by a retry: its outputs are those of the attempt that ran it (keptFrom always names that run).
        let steps = origins.get(r.keptFrom)
        if (!steps) origins.set(r.keptFrom, (steps = succeededSteps(listStepRunsSync(db, r.keptFrom))))
        ran = steps.get(step)
      }
      out.set(step, { ...(ran?.outputs ?? {}) })
    }
    return out
  })
}

export async function getStepRun(db: SqliteDb, id: string): Promise<StepRunRecord | undefined> {
  return db.read(() => {
    const row = db.rawStmt(STEP_BY_ID).get(id) as StepRunTuple | undefined
    return row && stepRunOf(row)
  })
}

export async function createStepAttempt(
  db: SqliteDb,
  runId: string,
  step: string,
  attempt: number,
  notBefore?: string,
): Promise<StepRunRecord> {
  return db.write(() => {
    const id = newId('s')
    try {
      db.stmt(INSERT_ATTEMPT).run(id, runId, step, attempt, notBefore ?? null, nowIso(), runId, step)
    } catch (err) {
      const code = (err as { code?: string }).code
      if (code === 'SQLITE_CONSTRAINT_UNIQUE')
        throw new CtlError('E_CONFLICT', `step ${step} of run ${runId} already has attempt ${attempt}`)
      if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw new CtlError('E_NOT_FOUND', `run ${runId} not found`)
      throw err
    }
    return stepRunOf(db.rawStmt(STEP_BY_ID).get(id) as StepRunTuple)
  })
}

export async function createStepInstances(
  db: SqliteDb,
  runId: string,
  parent: string,
  instances: readonly NewStepInstance[],
): Promise<StepRunRecord[]> {
  return db.write(() => {
    const now = nowIso()
    const ids: string[] = []
    for (const inst of instances) {
      const id = newId('s')
      try {
        db.stmt(INSERT_INSTANCE).run(id, runId, inst.step, now, parent, JSON.stringify(inst.values))
      } catch (err) {
        const code = (err as { code?: string }).code
        if (code === 'SQLITE_CONSTRAINT_UNIQUE') throw new CtlError('E_CONFLICT', `run ${runId} already has a step ${inst.step}`)
        if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw new CtlError('E_NOT_FOUND', `run ${runId} not found`)
        throw err
      }
      ids.push(id)
    }
    const byId = db.rawStmt(STEP_BY_ID)
    return ids.map((id) => stepRunOf(byId.get(id) as StepRunTuple))
  })
}

export async function listActiveStepRuns(db: SqliteDb): Promise<StepRunRecord[]> {
  return db.read(() =>
    (
      db.rawStmt(ACTIVE_STEPS).all() as StepRunTuple[]
    ).map(stepRunOf),
  )
}
