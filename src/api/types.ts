// Request and response shapes of the HTTP API (/api/v1). One definition, used by
// the server routes and the typed client, so the two cannot drift apart.
import type { V1ConfigMap, V1Pod, V1Secret } from '@kubernetes/client-node'
import type { ErrorCode, ManifestIssue } from './errors.js'
import type { ApiKeyRecord, ResourceRecord, RunRecord, StepRunRecord, LogLineRecord, ResourceStatus, AuditRecord, UserRecord, UserType, WorkspaceLayer, WorkspaceRecord, NodeDetail, RunDetail, RuntimeSummary, RuntimeInfo } from './records.js'

export type { NodeDetail, RunDetail, RuntimeSummary, RunRecord, StepRunRecord, LogLineRecord, ResourceRecord, RuntimeInfo }

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
  /** The run this apply started (an unscheduled workflow created or changed); absent when it started none. */
  runId?: string
  /** The params of the run it started (or, in a dry run, would start), defaults filled in; secret ones read `***`. */
  params?: Record<string, unknown>
  /** Why an unscheduled workflow started no run although it changed (a required param not given). */
  note?: string
  /**
   * Dry run with params only: the Pods (ConfigMaps, Secrets: references, never values) the run would start, a
   * fanned-out step as one example instance; what the client-side dry run shows, with the server's stacks.
   */
  steps?: { step: string; instance?: string; note?: string; pod: V1Pod; configMap?: V1ConfigMap; secret?: V1Secret }[]
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
  /** Only deleted resources. */
  deleted?: boolean
  /** kubectl's label selector grammar (`team=core,env!=dev`); filtered by the server. */
  labelSelector?: string
  /** Comma-separated tags every listed resource carries; filtered by the server. */
  tags?: string
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
  /** With `?revision=N`: `manifest` is that revision's, not the current one. */
  shownRevision?: number
}

/** `rollback --to-revision N`: the resource after revision N's manifest was applied again. */
export interface RollbackResponse {
  name: string
  version: string
  type: string
  workspace: string | null
  /** `unchanged` when revision N equals the current one (no new revision). */
  outcome: 'created' | 'updated' | 'unchanged'
  /** The resource's revision now (a new one unless unchanged). */
  revision: number
  toRevision: number
  /** The run the new revision started (an unscheduled workflow). */
  runId?: string
  dryRun?: boolean
}

export interface DeleteResponse {
  deleted: { workspace: string | null; type: string; name: string; revision: number }
  /** true on the answer to `?dryRun=true`: what would be done; nothing changed. */
  dryRun?: boolean
}

export interface RunsResponse {
  runs: RunRecord[]
}

/** The answer to POST .../runs/backfill (engine/api.ts BackfillAnswer). */
export interface BackfillResponse {
  times: string[]
  backfill?: { id: string; resourceId: string; trigger: string; parallel: number; state: string; createdBy: string; createdAt: string; finishedAt?: string }
  runs: RunRecord[]
  dryRun?: boolean
}

export interface RunActionRequest {
  runId?: string
}

/** `runtime approve|reject`: the step that waits; without runId, the newest run where it waits. */
export interface ApprovalRequest {
  runId?: string
  step: string
  /** Audited, and part of a rejected step's reason; at most 1,024 characters. */
  comment?: string
}

/** The decided step run (approved: `pending` again, about to start; rejected: `failed`). */
export interface ApprovalResponse {
  stepRun: StepRunRecord
}

export interface LogsQuery {
  step?: string
  attempt?: number
  afterSeq?: number
  tail?: number
  follow?: boolean
}

// ---- identity and access (issue 4)

export type { UserType }
export const ROLES = ['tenant-admin', 'operator', 'data-dev', 'viewer'] as const
export type Role = (typeof ROLES)[number]
/** What `auth can-i`, the audit log and 403 messages name. */
export const VERBS = [
  'get', 'runtime-get', 'log', 'apply', 'delete', 'run', 'stop', 'retry', 'grant', 'secret-read', 'use', 'admin', 'approve',
] as const
export type Verb = (typeof VERBS)[number]
/** Verbs the control plane authorizes as another verb: whoever may end a run may hold and release it. */
export const VERB_AUTHORIZED_AS = { suspend: 'stop', resume: 'stop' } as const satisfies Record<string, Verb>
/** `approve`: decide approval steps of a workflow (and read it), without running it. */
export const PERMISSIONS = ['read', 'run', 'use', 'manage', 'approve'] as const
export type Permission = (typeof PERMISSIONS)[number]

/** A role bound tenant-wide (workspace null) or in one workspace. Written as the tag `roles:id:<role>`. */
export interface RoleBinding {
  role: Role
  workspace: string | null
}

export interface Principal {
  /** User id; `admin` for the tenant admin created on first start. */
  id: string
  type: UserType
  name: string
  roles: RoleBinding[]
}

/** The console session (GET/POST /api/v1/session): the user; with a session cookie also its CSRF token and expiry. */
export interface SessionResponse {
  user: Principal
  csrfToken?: string
  expiresAt?: string
}

/** A one-time console sign-in URL (POST /api/v1/session/links); the code is in the URL's fragment. */
export interface SignInLinkResponse {
  url: string
  code: string
  expiresAt: string
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

/** `GET /readyz`: 200 `ok` while the store answers and the engine runs, else 503 `not ready`; nothing more. */
export interface ReadyResponse {
  status: 'ok' | 'not ready'
}

/** One control plane sharing the store, as `ctl server status` shows it. */
export interface ReplicaInfo {
  id: string
  host: string
  pid: number
  url?: string
  version: string
  startedAt: string
  heartbeatAt: string
  /** Heartbeat seen within the last REPLICA_ALIVE_MS. */
  alive: boolean
  /** Run leases the replica holds (expired ones included until another replica takes them). */
  runsOwned: number
}

/** `GET /api/v1/replicas` (tenant-admin): the replicas and the store they share (its kind only, never its URL). */
export interface ReplicasResponse {
  store: string
  /** The replica that answered. */
  self: string
  replicas: ReplicaInfo[]
}

/** Identifies one resource in the API: workspace null for instance-level types. */
export interface ResourceRef {
  workspace?: string | null
  type: string
  name: string
}

/** A user as the API shows it (`deletedAt` only in listings that include deleted users). */
export type UserInfo = UserRecord

export interface CreateUserRequest {
  id: string
  name: string
  type: UserType
  email?: string
}

export interface UserResponse {
  user: UserInfo
  /** true on the answer to `?dryRun=true`: what would be done; nothing changed. */
  dryRun?: boolean
}

export interface UsersResponse {
  /** `tags` when asked for (GET /api/v1/users?tags=true). */
  users: (UserInfo & { tags?: UserTag[] })[]
}

/** An API key as the API shows it: the store's record (it holds no secret: only the key's hash is stored, not here). */
export type ApiKeyInfo = ApiKeyRecord

export interface CreateApiKeyRequest {
  name?: string
  /** A duration: `30s`, `15m`, `24h`, `30d`, `1w` (or combined, `1d12h`). No expiry when absent. */
  expiresIn?: string
}

/** The token is shown here once; the server keeps only its hash. */
export interface CreateApiKeyResponse {
  id: string
  name: string
  token: string
  expiresAt?: string
  /** true on the answer to `?dryRun=true`: what would be done; nothing changed. */
  dryRun?: boolean
}

export interface ApiKeysResponse {
  apikeys: ApiKeyInfo[]
}

/** `tag` is `roles:id:<role>`; no workspace = tenant-wide. */
export interface TagRequest {
  tag: string
  workspace?: string
}

export interface UserTag {
  tag: string
  role: Role
  workspace: string | null
  createdBy: string
  createdAt: string
}

export interface TagsResponse {
  tags: UserTag[]
}

export interface TagChangeResponse {
  /** false when nothing changed (the binding existed already / did not exist). */
  changed: boolean
  tags: UserTag[]
  /** true on the answer to `?dryRun=true`: what would be done; nothing changed. */
  dryRun?: boolean
}

export type { WorkspaceLayer }

export type WorkspaceInfo = WorkspaceRecord

export interface CreateWorkspaceRequest {
  name: string
  description?: string
  layer?: WorkspaceLayer
  tags?: string[]
}

export interface WorkspaceResponse {
  workspace: WorkspaceInfo
  /** true on the answer to `?dryRun=true`: what would be done; nothing changed. */
  dryRun?: boolean
}

export interface WorkspacesResponse {
  workspaces: WorkspaceInfo[]
}

export interface DeleteWorkspaceResponse {
  deleted: { name: string; resources: number }
  /** true on the answer to `?dryRun=true`: what would be done; nothing changed. */
  dryRun?: boolean
}

/** `to` is `user:ID`. */
export interface GrantRequest {
  to: string
  permission: Permission
}

export interface GrantInfo {
  to: string
  permission: Permission
  grantedBy: string
  createdAt: string
}

export interface GrantsResponse {
  grants: GrantInfo[]
}

export interface GrantChangeResponse {
  changed: boolean
  grants: GrantInfo[]
  /** true on the answer to `?dryRun=true`: what would be done; nothing changed. */
  dryRun?: boolean
}

export interface CanIRequest {
  verb: Verb
  type: string
  name?: string
  workspace?: string
}

/** `reason` names the binding or grant that decided, or what is missing. */
export interface CanIResponse {
  allowed: boolean
  reason: string
}

/** One audit record: `actor` is a user id, or `anonymous` for a call without a valid key; `result` is
 *  `ok`, `denied`, `unauthenticated` or `error` (detail says which). */
export type AuditEntry = AuditRecord

export interface AuditQuery {
  /** ISO time or a duration back from now (`1h`, `30m`). */
  since?: string
  limit?: number
}

export interface AuditResponse {
  entries: AuditEntry[]
}
