// Row → record mapping for the PostgreSQL store. The rows have SQLite's column names and types
// (TEXT times and JSON), so the SQLite mappers serve both; what differs is handled here: BIGINT
// columns arrive as strings, and resources carry their manifest as a plain, eagerly parsed field.
import {
  toRevision,
  toRun,
  toSchedule,
  toStepRun as toStepRunRow,
  type RevisionRow,
  type RunRow,
  type ScheduleRow,
  type StepRunRow,
} from '../rows.js'
import type { ResourceRecord, ResourceStatus, ResourceSummary, StepRunRecord } from '../types.js'

export { toRevision, toRun, toSchedule, type RevisionRow, type RunRow, type ScheduleRow }
export { STEP_RUN_COLUMNS, wsToDb } from '../rows.js'

/** A RunRow's columns, from `runs` and its resource `r`. */
export const RUN_COLUMNS_SQL = `runs.id, runs.resource_id, r.workspace, r.name AS resource_name, runs.revision,
  runs.run_trigger, runs.state, runs.reason, runs.scheduled_at, runs.late_by_seconds, runs.retry_of,
  runs.params, runs.trace_id, runs.created_at, runs.started_at, runs.finished_at`
export const RUN_SELECT = `SELECT ${RUN_COLUMNS_SQL} FROM runs JOIN resources r ON r.id = runs.resource_id`

/** A step_runs row as pg returns it: log_offset and log_seq are BIGINT, i.e. strings. */
export type PgStepRunRow = Omit<StepRunRow, 'log_offset' | 'log_seq'> & { log_offset: string | number; log_seq: string | number }

export function toStepRun(row: PgStepRunRow): StepRunRecord {
  return toStepRunRow({ ...row, log_offset: Number(row.log_offset), log_seq: Number(row.log_seq) })
}

/** The columns of a resource record without its manifest (listings). */
export const RESOURCE_SUMMARY_COLUMNS =
  'id, workspace, type, name, version, revision, hash, owner, status, status_reason, created_at, updated_at'

export interface ResourceSummaryRow {
  id: string
  workspace: string
  type: string
  name: string
  version: string
  revision: number
  hash: string
  owner: string
  status: string
  status_reason: string | null
  created_at: string
  updated_at: string
}

export interface ResourceRow extends ResourceSummaryRow {
  manifest: string
}

export const RESOURCE_COLUMNS = `${RESOURCE_SUMMARY_COLUMNS}, manifest`

export function toResourceSummary(row: ResourceSummaryRow): ResourceSummary {
  const rec: ResourceSummary = {
    id: row.id,
    workspace: row.workspace === '' ? null : row.workspace,
    type: row.type,
    name: row.name,
    version: row.version,
    revision: row.revision,
    hash: row.hash,
    owner: row.owner,
    status: row.status as ResourceStatus,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
  if (row.status_reason !== null) rec.statusReason = row.status_reason
  return rec
}

/** A plain record (fields in the SQLite store's order): the manifest is parsed here, so the record outlives the store. */
export function toResource(row: ResourceRow): ResourceRecord {
  return {
    id: row.id,
    workspace: row.workspace === '' ? null : row.workspace,
    type: row.type,
    name: row.name,
    version: row.version,
    revision: row.revision,
    hash: row.hash,
    owner: row.owner,
    status: row.status as ResourceStatus,
    ...(row.status_reason !== null ? { statusReason: row.status_reason } : {}),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    manifest: JSON.parse(row.manifest) as unknown,
  }
}

/** Kept for the callers that map their free text explicitly; every string parameter is mapped anyway (db.ts). */
export { storeText as pgText } from '../text.js'
