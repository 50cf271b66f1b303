// Request and response shapes of the HTTP API (/api/v1). One definition, used by
// the server routes and the typed client, so the two cannot drift apart.
import type { ErrorCode, ManifestIssue } from '../errors.js'
import type { ResourceRecord, RunRecord, LogLineRecord, ResourceStatus } from '../store/types.js'
import type { RunDetail, RuntimeSummary } from '../engine/api.js'
import type { RuntimeInfo } from '../runtime/types.js'

export type { RunDetail, RuntimeSummary, RunRecord, LogLineRecord, ResourceRecord, RuntimeInfo }

/** Where a document came from on the client side, so errors name the user's file. */
export interface DocumentSource {
  file: string
  /** 0-based index of the document in its file. */
  index: number
}

export interface ApplyDocument {
  source?: DocumentSource
  /** The manifest, already interpolated by the client. */
  manifest: unknown
}

export interface ApplyRequest {
  documents: ApplyDocument[]
}

export type ApplyOutcome = 'created' | 'updated' | 'unchanged'

export interface ApplyResultItem {
  name: string
  version: string
  type: string
  workspace: string | null
  outcome: ApplyOutcome
  revision: number
  /** Dry run only: the normalized manifest that would be stored (secret values masked). */
  manifest?: unknown
  /** Dry run only: the manifest stored now, if any (secret values masked), for a diff. */
  current?: unknown
}

export interface ApplyResponse {
  dryRun: boolean
  results: ApplyResultItem[]
}

/** A manifest issue as the API reports it: `document` is the index in the request's `documents`. */
export interface ApiIssue extends ManifestIssue {
  document?: number
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; issues?: ApiIssue[] }
}

export interface ListResourcesQuery {
  /** Default `public`; ignored with `all`. */
  workspace?: string
  /** Every workspace (and instance-level resources). */
  all?: boolean
  type?: string
  name?: string
  owner?: string
}

/** `get`'s table, printed by the server (as Kubernetes Tables): NAME … OWNER cells per row. */
export interface ResourceTable {
  columns: string[]
  rows: string[][]
}

export const RESOURCE_TABLE_COLUMNS = ['NAME', 'VERSION', 'TYPE', 'WORKSPACE', 'STATUS', 'RUNTIME', 'OWNER'] as const

/** One row of `get`: the record without its manifest, plus the derived RUNTIME column. */
export interface ResourceRow {
  id: string
  workspace: string | null
  type: string
  name: string
  version: string
  revision: number
  owner: string
  status: ResourceStatus
  statusReason?: string
  runtime: RuntimeSummary
  createdAt: string
  updatedAt: string
}

export interface ListResourcesResponse {
  resources: ResourceRow[]
}

export interface RevisionSummary {
  revision: number
  hash: string
  createdBy: string
  createdAt: string
}

export interface ResourceDetail {
  resource: ResourceRow
  /** The normalized manifest; secret `data` / `files` values are replaced by `***`. */
  manifest: unknown
  revisions?: RevisionSummary[]
}

export interface DeleteResponse {
  deleted: { workspace: string | null; type: string; name: string; revision: number }
}

export interface RunsResponse {
  runs: RunRecord[]
}

export interface RunActionRequest {
  runId?: string
}

export interface LogsQuery {
  step?: string
  attempt?: number
  afterSeq?: number
  tail?: number
  follow?: boolean
}

export interface Principal {
  /** User id; `admin` for the instance admin key. */
  id: string
  roles: string[]
}

export interface WhoAmIResponse {
  principal: Principal
}

export interface InfoResponse {
  version: string
  apiVersion: 'v1'
  store: string
  runtime: RuntimeInfo
}

export interface HealthResponse {
  status: 'ok'
}

/** Identifies one resource in the API: workspace null for instance-level types. */
export interface ResourceRef {
  workspace?: string | null
  type: string
  name: string
}
