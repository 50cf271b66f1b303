// Row ⇄ record mapping shared by the SQLite and PostgreSQL stores (their rows have the same column
// names and types). NULL columns become absent optional fields (never `null`), so records compare and
// serialize cleanly.
import type { ReplicaRecord } from './leases.js'
import type {
  ApprovalRecord,
  BackfillRecord,
  BackfillState,
  BackfillTimeRecord,
  BackfillTimeState,
  InstanceValues,
  LogStream,
  ResourceRecord,
  ResourceStatus,
  ResourceSummary,
  RevisionRecord,
  RunRecord,
  RunState,
  RunTrigger,
  ScheduleRecord,
  StepRunRecord,
  StepState,
} from './types.js'

export interface ResourceRow {
  id: string
  workspace: string
  type: string
  name: string
  version: string
  revision: number
  hash: string
  manifest: string
  owner: string
  status: string
  status_reason: string | null
  created_at: string
  updated_at: string
}

export const RESOURCE_COLUMNS =
  'id, workspace, type, name, version, revision, hash, manifest, owner, status, status_reason, created_at, updated_at'

/** '' stands for "no workspace" in the table (see 0001_init). */
export function wsToDb(workspace: string | null): string {
  return workspace ?? ''
}

/** The columns a listing reads: every one is in the `resources_list` covering index (0003). */
export const RESOURCE_LIST_COLUMNS =
  'id, workspace, type, name, version, revision, hash, owner, status, status_reason, created_at, updated_at'

/** A row of RESOURCE_LIST_COLUMNS as a raw array (listings skip per-row objects). */
export type ResourceListRow = [
  id: string, workspace: string, type: string, name: string, version: string, revision: number, hash: string,
  owner: string, status: string, statusReason: string | null, createdAt: string, updatedAt: string,
]

/** A plain record: the manifest is parsed here, so the record outlives the store. */
export function toResource(row: ResourceRow): ResourceRecord {
  const rec: ResourceRecord = {
    id: row.id,
    workspace: row.workspace === '' ? null : row.workspace,
    type: row.type,
    name: row.name,
    version: row.version,
    revision: row.revision,
    hash: row.hash,
    manifest: JSON.parse(row.manifest) as unknown,
    owner: row.owner,
    status: row.status as ResourceStatus,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
  if (row.status_reason !== null) rec.statusReason = row.status_reason
  return rec
}

export function toResourceSummary(row: ResourceListRow): ResourceSummary {
  const [id, workspace, type, name, version, revision, hash, owner, status, statusReason, createdAt, updatedAt] = row
  const rec: ResourceSummary = {
    id, workspace: workspace === '' ? null : workspace, type, name, version, revision, hash, owner,
    status: status as ResourceStatus, createdAt, updatedAt,
  }
  if (statusReason !== null) rec.statusReason = statusReason
  return rec
}

export interface RevisionRow {
  resource_id: string
  revision: number
  version: string
  hash: string
  manifest: string
  created_by: string
  created_at: string
}

export function toRevision(row: RevisionRow): RevisionRecord {
  return {
    resourceId: row.resource_id,
    revision: row.revision,
    version: row.version,
    hash: row.hash,
    manifest: JSON.parse(row.manifest) as unknown,
    createdBy: row.created_by,
    createdAt: row.created_at,
  }
}

export interface RunRow {
  id: string
  resource_id: string
  workspace: string
  resource_name: string
  revision: number
  run_trigger: string
  state: string
  reason: string | null
  scheduled_at: string | null
  late_by_seconds: number | null
  retry_of: string | null
  params: string | null
  trace_id: string | null
  created_at: string
  started_at: string | null
  finished_at: string | null
}

export const RUN_SELECT = `SELECT runs.id, runs.resource_id, r.workspace, r.name AS resource_name, runs.revision,
  runs.run_trigger, runs.state, runs.reason, runs.scheduled_at, runs.late_by_seconds, runs.retry_of,
  runs.params, runs.trace_id, runs.created_at, runs.started_at, runs.finished_at
  FROM runs JOIN resources r ON r.id = runs.resource_id`

/** A row of RUN_SELECT as a raw array, in its column order (SQLite reads runs so: no per-row object from the driver). */
export type RunTuple = [
  id: string, resourceId: string, workspace: string, resourceName: string, revision: number, trigger: string, state: string,
  reason: string | null, scheduledAt: string | null, lateBySeconds: number | null, retryOf: string | null, params: string | null,
  traceId: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null,
]

/** The RunRow of a RUN_SELECT tuple (toRun maps it, one mapping for both stores). */
export function runRowOf(t: RunTuple): RunRow {
  return {
    id: t[0], resource_id: t[1], workspace: t[2], resource_name: t[3], revision: t[4], run_trigger: t[5], state: t[6], reason: t[7],
    scheduled_at: t[8], late_by_seconds: t[9], retry_of: t[10], params: t[11], trace_id: t[12], created_at: t[13], started_at: t[14], finished_at: t[15],
  }
}

export function toRun(row: RunRow): RunRecord {
  const run: RunRecord = {
    id: row.id,
    resourceId: row.resource_id,
    workspace: row.workspace === '' ? null : row.workspace,
    resourceName: row.resource_name,
    revision: row.revision,
    trigger: row.run_trigger as RunTrigger,
    state: row.state as RunState,
    createdAt: row.created_at,
  }
  if (row.reason !== null) run.reason = row.reason
  if (row.scheduled_at !== null) run.scheduledAt = row.scheduled_at
  if (row.late_by_seconds !== null) run.lateBySeconds = row.late_by_seconds
  if (row.retry_of !== null) run.retryOf = row.retry_of
  if (row.params !== null) run.params = JSON.parse(row.params) as Record<string, unknown>
  if (row.trace_id !== null) run.traceId = row.trace_id
  if (row.started_at !== null) run.startedAt = row.started_at
  if (row.finished_at !== null) run.finishedAt = row.finished_at
  return run
}

export interface StepRunRow {
  id: string
  run_id: string
  step: string
  attempt: number
  state: string
  exit_code: number | null
  reason: string | null
  message: string | null
  runtime_handle: string | null
  log_offset: number
  log_seq: number
  not_before: string | null
  created_at: string
  started_at: string | null
  finished_at: string | null
  kept_from: string | null
  outputs: string | null
  parent_step: string | null
  instance: string | null
  approval: string | null
}

export const STEP_RUN_COLUMNS =
  'id, run_id, step, attempt, state, exit_code, reason, message, runtime_handle, log_offset, log_seq, not_before, created_at, started_at, finished_at, kept_from, outputs, parent_step, instance, approval'

/** A row of STEP_RUN_COLUMNS as a raw array, in its column order (SQLite reads step rows so: no per-row object from the driver). */
export type StepRunTuple = [
  id: string, runId: string, step: string, attempt: number, state: string, exitCode: number | null, reason: string | null,
  message: string | null, runtimeHandle: string | null, logOffset: number, logSeq: number, notBefore: string | null, createdAt: string,
  startedAt: string | null, finishedAt: string | null, keptFrom: string | null, outputs: string | null, parentStep: string | null,
  instance: string | null, approval: string | null,
]

export function stepRunRowOf(t: StepRunTuple): StepRunRow {
  return {
    id: t[0], run_id: t[1], step: t[2], attempt: t[3], state: t[4], exit_code: t[5], reason: t[6], message: t[7], runtime_handle: t[8],
    log_offset: t[9], log_seq: t[10], not_before: t[11], created_at: t[12], started_at: t[13], finished_at: t[14], kept_from: t[15],
    outputs: t[16], parent_step: t[17], instance: t[18], approval: t[19],
  }
}

export function toStepRun(row: StepRunRow): StepRunRecord {
  const s: StepRunRecord = {
    id: row.id,
    runId: row.run_id,
    step: row.step,
    attempt: row.attempt,
    state: row.state as StepState,
    logOffset: row.log_offset,
    logSeq: row.log_seq,
    createdAt: row.created_at,
  }
  if (row.exit_code !== null) s.exitCode = row.exit_code
  if (row.reason !== null) s.reason = row.reason
  if (row.message !== null) s.message = row.message
  if (row.runtime_handle !== null) s.runtimeHandle = JSON.parse(row.runtime_handle) as unknown
  if (row.not_before !== null) s.notBefore = row.not_before
  if (row.started_at !== null) s.startedAt = row.started_at
  if (row.finished_at !== null) s.finishedAt = row.finished_at
  if (row.kept_from !== null) s.keptFrom = row.kept_from
  if (row.outputs !== null) s.outputs = JSON.parse(row.outputs) as Record<string, string>
  if (row.parent_step !== null) s.parent = row.parent_step
  if (row.instance !== null) s.instance = JSON.parse(row.instance) as InstanceValues
  if (row.approval !== null) s.approval = JSON.parse(row.approval) as ApprovalRecord
  return s
}

export interface ScheduleRow {
  resource_id: string
  revision: number
  next_fire_at: string | null
  last_fire_at: string | null
  updated_at: string
}

export function toSchedule(row: ScheduleRow): ScheduleRecord {
  const s: ScheduleRecord = { resourceId: row.resource_id, revision: row.revision, updatedAt: row.updated_at }
  if (row.next_fire_at !== null) s.nextFireAt = row.next_fire_at
  if (row.last_fire_at !== null) s.lastFireAt = row.last_fire_at
  return s
}

export const STREAM_CODE: Record<LogStream, number> = { stdout: 0, stderr: 1, system: 2 }

export interface BackfillRow {
  id: string
  resource_id: string
  run_trigger: string
  parallel: number
  state: string
  created_by: string
  created_at: string
  finished_at: string | null
}

export interface BackfillTimeRow {
  backfill_id: string
  fire_at: string
  state: string
  run_id: string | null
}

export function toBackfill(r: BackfillRow): BackfillRecord {
  const b: BackfillRecord = {
    id: r.id, resourceId: r.resource_id, trigger: r.run_trigger as RunTrigger, parallel: r.parallel,
    state: r.state as BackfillState, createdBy: r.created_by, createdAt: r.created_at,
  }
  if (r.finished_at !== null) b.finishedAt = r.finished_at
  return b
}

export function toBackfillTime(r: BackfillTimeRow): BackfillTimeRecord {
  const t: BackfillTimeRecord = { backfillId: r.backfill_id, fireAt: r.fire_at, state: r.state as BackfillTimeState }
  if (r.run_id !== null) t.runId = r.run_id
  return t
}

export interface ReplicaRow {
  id: string
  host: string
  pid: number
  url: string | null
  version: string
  started_at: string
  heartbeat_at: string
}

export function toReplica(r: ReplicaRow): ReplicaRecord {
  const rec: ReplicaRecord = { id: r.id, host: r.host, pid: r.pid, version: r.version, startedAt: r.started_at, heartbeatAt: r.heartbeat_at }
  if (r.url !== null) rec.url = r.url
  return rec
}
