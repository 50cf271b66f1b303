// The store interface. The engine, the server and the CLI's offline paths talk
// only to this, so the embedded SQLite file and PostgreSQL stay interchangeable.
// Everything is async because the PostgreSQL implementation will be; timestamps
// are ISO-8601 UTC text with milliseconds (`2024-05-01T12:00:00.000Z`), which
// sorts as text in both databases.

import type { LeaseStore, LogNotifier } from './leases.js'
export type { LeaseStore, LogNotifier, ReplicaRecord, RunLeaseRecord } from './leases.js'

export type ResourceStatus = 'creating' | 'active' | 'error' | 'deleted'
/** `suspended`: held by a user (`runtime suspend`): starts no new step, but is not over (engine/scheduler.ts ACTIVE_RUN_STATES). */
export type RunState = 'pending' | 'running' | 'suspended' | 'succeeded' | 'failed' | 'cancelled' | 'killed'
/** `waiting`: an approval step waits for a person's decision (not started, not over). */
export type StepState = 'pending' | 'waiting' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled'
/**
 * `backfill`: one of the fire times `runtime backfill` asked for (its scheduledAt says which).
 * `webhook:NAME`: started by the webhook trigger NAME of the workflow (src/http/routes/hooks.ts).
 */
export type RunTrigger = 'apply' | 'schedule' | 'manual' | 'retry' | 'backfill' | `webhook:${string}`
/** Every kind of trigger, `webhook` standing for each `webhook:NAME`. */
export const RUN_TRIGGER_KINDS = ['apply', 'schedule', 'manual', 'retry', 'backfill', 'webhook'] as const
export type LogStream = 'stdout' | 'stderr' | 'system'

/** Terminal states: a run or step in one of these never changes again. */
export const FINAL_RUN_STATES: readonly RunState[] = ['succeeded', 'failed', 'cancelled', 'killed']
export const FINAL_STEP_STATES: readonly StepState[] = ['succeeded', 'failed', 'skipped', 'cancelled']

/** `workspace` is null for instance-level types (`stack`, `compute`, `instance-secret`). */
export interface ResourceKey {
  workspace: string | null
  type: string
  name: string
}

export interface ResourceRecord extends ResourceKey {
  id: string
  version: string
  revision: number
  hash: string
  /**
   * The normalized resource JSON, parsed lazily on first access. Records from listResources do not
   * even carry the text: it is fetched (this revision's) on first access, so read it before the
   * store is closed (E_UNAVAILABLE after). Listings of thousands stay cheap either way.
   */
  manifest: unknown
  /** Who first created the resource (a later apply by someone else keeps it; see RevisionRecord.createdBy). */
  owner: string
  status: ResourceStatus
  statusReason?: string
  createdAt: string
  updatedAt: string
}

/** A resource record without its manifest. */
export type ResourceSummary = Omit<ResourceRecord, 'manifest'>

export interface RevisionRecord {
  resourceId: string
  revision: number
  /** Manifest version (`v1`, `v2alpha`, ...) of this revision. */
  version: string
  hash: string
  manifest: unknown
  createdBy: string
  createdAt: string
}

export interface ApplyResourceInput extends ResourceKey {
  version: string
  manifest: unknown
  owner: string
  /** Optimistic concurrency: apply only if the current revision is this one (0 = must not exist, deleted counts as not existing), else E_CONFLICT. */
  expectedRevision?: number
  /** Compute the outcome and the would-be record, write nothing. */
  dryRun?: boolean
  /** When given, the content hash is computed over this instead of `manifest` (secrets: values replaced by HMACs, so
   *  "unchanged" still works though ciphertexts differ). */
  hashSource?: unknown
}

export interface ApplyResourceResult {
  outcome: 'created' | 'updated' | 'unchanged'
  resource: ResourceRecord
}

export interface ListResourcesFilter {
  /** Exact workspace; null = instance-level resources only. Ignored with allWorkspaces. */
  workspace?: string | null
  allWorkspaces?: boolean
  type?: string
  name?: string
  owner?: string
  includeDeleted?: boolean
  /**
   * `get -l` and `get --tag`: only resources whose labels and tags pass (the caller builds it with
   * src/manifest/selector.ts; the store stays free of the manifest code and only reads the column).
   */
  select?: (meta: ResourceSelectors) => boolean
}

/** What `select` is given: the labels and tags of the current revision. */
export interface ResourceSelectors {
  labels?: Readonly<Record<string, string>>
  tags?: readonly string[]
}

export interface RunRecord {
  id: string
  resourceId: string
  workspace: string | null
  resourceName: string
  revision: number
  trigger: RunTrigger
  state: RunState
  reason?: string
  scheduledAt?: string
  lateBySeconds?: number
  retryOf?: string
  /** The run's parameters, resolved against the revision's declarations (defaults filled in); secret ones included, masked by the API. */
  params?: Record<string, unknown>
  createdAt: string
  startedAt?: string
  finishedAt?: string
}

export interface CreateRunInput {
  resourceId: string
  revision: number
  trigger: RunTrigger
  scheduledAt?: string
  lateBySeconds?: number
  retryOf?: string
  /** Already resolved (src/manifest/params.ts); absent or empty: the run has none. */
  params?: Record<string, unknown>
  /** Step names; each gets attempt 1 in state `pending`. */
  steps: string[]
}

export interface StepRunRecord {
  id: string
  runId: string
  step: string
  attempt: number
  state: StepState
  exitCode?: number
  reason?: string
  message?: string
  /** JSON from the runtime (process id, pod name, ...). */
  runtimeHandle?: unknown
  /** The runtime's resume offset into its log source, committed together with the lines (appendLogs). */
  logOffset: number
  /** Last log sequence number written for this attempt (0 = none). */
  logSeq: number
  /** Retry backoff: do not start before this time. */
  notBefore?: string
  createdAt: string
  startedAt?: string
  finishedAt?: string
  /** Set on a step `runtime retry` carried over: the run whose attempts ran it (and hold its log lines). */
  keptFrom?: string
  /** What the attempt wrote to $CTL_OUTPUTS (redacted), stored with its final state. */
  outputs?: Record<string, string>
  /** Set on an instance of a fanned-out step (`shard-0`): that step's name. */
  parent?: string
  /** The values an instance renders with (`.item`/`.index` or `.matrix`). */
  instance?: InstanceValues
  /** An approval step's request and, once made, its decision (src/engine/approvals.ts). */
  approval?: ApprovalRecord
}

/** What an approval step asked for and what was decided; stored on its step run. */
export interface ApprovalRecord {
  /** The rendered `message`. */
  message?: string
  /** `roles:id:ROLE` / `users:id:ID`; empty: whoever may run the workflow. */
  approvers: string[]
  requestedAt: string
  /** After this the request counts as rejected (timed out). */
  deadline?: string
  decision?: 'approved' | 'rejected' | 'timeout'
  by?: string
  comment?: string
  decidedAt?: string
}

/** What one instance of a fanned-out step stands for: a forEach item with its index, or a matrix combination. */
export type InstanceValues = { index: number; item: unknown } | { index: number; matrix: Record<string, string | number | boolean> }

/** A new instance of a fanned-out step (`createStepInstances`). */
export interface NewStepInstance {
  /** The instance's name, e.g. `shard-0`. */
  step: string
  values: InstanceValues
}

export type StepRunPatch = Partial<Omit<StepRunRecord, 'id' | 'runId' | 'step' | 'attempt' | 'createdAt' | 'logSeq' | 'parent' | 'instance'>>
export type RunPatch = Partial<Pick<RunRecord, 'state' | 'reason' | 'startedAt' | 'finishedAt'>>

export interface LogLineInput {
  time: string
  stream: LogStream
  text: string
}

export interface LogLineRecord extends LogLineInput {
  runId: string
  step: string
  attempt: number
  seq: number
}

/**
 * Without `step`, every step of the run; without `attempt`, every attempt of the selected steps.
 * Lines come ordered by step name, attempt, seq. `afterSeq` and `tail` apply to each selected
 * step attempt on its own (like `kubectl logs --tail` per container); `limit` caps the total.
 */
export interface LogQuery {
  runId: string
  step?: string
  attempt?: number
  afterSeq?: number
  tail?: number
  limit?: number
}

/**
 * A run of consecutive lines of one step attempt, already encoded: `data` holds lines
 * firstSeq..lastSeq as `[seq,"time","stream","text"]\n` each (UTF-8, see store/log-codec.ts),
 * which is also the HTTP wire format of log lines.
 */
export interface LogChunk {
  runId: string
  step: string
  attempt: number
  firstSeq: number
  lastSeq: number
  data: Uint8Array
}

export interface ScheduleRecord {
  resourceId: string
  revision: number
  nextFireAt?: string
  lastFireAt?: string
  updatedAt: string
}

/** A backfill (or a catch-up after downtime): fire times of a workflow's schedule, run at most `parallel` at once. */
export type BackfillState = 'running' | 'done' | 'cancelled'
export interface BackfillRecord {
  id: string
  resourceId: string
  /** `backfill`, or `schedule` for missed fire times run by `catchUp: all`. */
  trigger: RunTrigger
  parallel: number
  state: BackfillState
  createdBy: string
  createdAt: string
  finishedAt?: string
}
/** `starting`: claimed, its run being created (a restart looks for that run before making one). */
export type BackfillTimeState = 'pending' | 'starting' | 'started'
export interface BackfillTimeRecord {
  backfillId: string
  fireAt: string
  state: BackfillTimeState
  runId?: string
}
export interface CreateBackfillInput {
  resourceId: string
  trigger: RunTrigger
  parallel: number
  createdBy: string
  /** RFC 3339 (ISO) fire times, each stored `pending`. */
  times: readonly string[]
}

/** The store's backfills (issue 12): what the engine's BackfillRunner persists so a restart starts no fire time twice. */
export interface BackfillStore {
  createBackfill(input: CreateBackfillInput): Promise<BackfillRecord>
  getBackfill(id: string): Promise<BackfillRecord | undefined>
  /** Oldest first. */
  listBackfills(filter: { resourceId?: string; states?: BackfillState[] }): Promise<BackfillRecord[]>
  /** Oldest fire time first. */
  listBackfillTimes(backfillId: string): Promise<BackfillTimeRecord[]>
  /** Compare-and-set on the time's state, like updateRun; returns whether it applied. */
  updateBackfillTime(backfillId: string, fireAt: string, patch: { state: BackfillTimeState; runId?: string }, fromStates: BackfillTimeState[]): Promise<boolean>
  /** Ends a running backfill; false when it was not running. */
  finishBackfill(id: string, state: 'done' | 'cancelled'): Promise<boolean>
}

export interface Store extends IdentityStore, BackfillStore, LeaseStore, LogNotifier {
  readonly kind: 'sqlite' | 'postgres'
  close(): Promise<void>

  // resources
  applyResource(input: ApplyResourceInput): Promise<ApplyResourceResult>
  /** Deleted resources are hidden unless includeDeleted. */
  getResource(key: ResourceKey, options?: { includeDeleted?: boolean }): Promise<ResourceRecord | undefined>
  /** Returns deleted resources too (runs keep pointing at them). */
  getResourceById(id: string): Promise<ResourceRecord | undefined>
  /** Ordered by workspace, type, name. Manifests load on first access (see ResourceRecord.manifest). */
  listResources(filter: ListResourcesFilter): Promise<ResourceRecord[]>
  /** The same rows without manifests, as plain objects: what `get` tables need, as cheaply as the store can. */
  listResourceSummaries(filter: ListResourcesFilter): Promise<ResourceSummary[]>
  /** Oldest first. */
  listRevisions(resourceId: string): Promise<RevisionRecord[]>
  getRevision(resourceId: string, revision: number): Promise<RevisionRecord | undefined>
  /** E_NOT_FOUND when the resource does not exist. */
  setResourceStatus(id: string, status: ResourceStatus, reason?: string): Promise<void>
  /**
   * Marks the resource `deleted` and drops its schedule; revisions, runs and logs stay. A later apply
   * of the same key revives the SAME record (same id) with revision N+1 and outcome `created`,
   * even when the content equals the last revision, so history and run links survive.
   */
  deleteResource(id: string): Promise<void>

  // runs and steps
  /** E_NOT_FOUND when the resource or revision does not exist. */
  createRun(input: CreateRunInput): Promise<{ run: RunRecord; steps: StepRunRecord[] }>
  getRun(id: string): Promise<RunRecord | undefined>
  /** Newest first. */
  listRuns(filter: { resourceId?: string; states?: RunState[]; limit?: number }): Promise<RunRecord[]>
  /** The newest run of each given resource, in one query (for listings); resources without runs are left out; any order. */
  listLatestRuns(resourceIds: readonly string[]): Promise<RunRecord[]>
  /** Compare-and-set: applies the patch only when the run's state is one of `fromStates` (if given); returns whether it applied. */
  updateRun(id: string, patch: RunPatch, fromStates?: RunState[]): Promise<boolean>
  getStepRun(id: string): Promise<StepRunRecord | undefined>
  /** Every attempt, ordered by step then attempt. */
  listStepRuns(runId: string): Promise<StepRunRecord[]>
  /**
   * Attempt 1 (state `pending`) of each instance of the fanned-out step `parent`, in one transaction;
   * E_CONFLICT if one exists. Returns them in the order given.
   */
  createStepInstances(runId: string, parent: string, instances: readonly NewStepInstance[]): Promise<StepRunRecord[]>
  /** A new attempt in state `pending` (an instance's keeps its parent and values); E_CONFLICT if that attempt exists. */
  createStepAttempt(runId: string, step: string, attempt: number, notBefore?: string): Promise<StepRunRecord>
  /** Compare-and-set like updateRun. Keys set to undefined are left unchanged. */
  updateStepRun(id: string, patch: StepRunPatch, fromStates?: StepState[]): Promise<boolean>
  /** State `running`, across runs (reattach after a restart). */
  listActiveStepRuns(): Promise<StepRunRecord[]>
  /**
   * The outputs of each step of the run whose latest attempt succeeded (a step `runtime retry` carried over: those
   * of the run that ran it), for templates and conditions downstream. Steps without outputs map to `{}`.
   */
  stepOutputs(runId: string): Promise<Map<string, Record<string, string>>>

  // logs
  /** Lines get seq logSeq+1.. and the runtime's resume offset is set, in ONE transaction: a crash never loses or repeats a line. */
  appendLogs(stepRunId: string, lines: LogLineInput[], newOffset: number): Promise<void>
  readLogs(query: LogQuery): Promise<LogLineRecord[]>
  /** Streams in pages (no transaction held between pages) for big logs without holding them in memory. */
  iterateLogs(query: LogQuery, pageSize?: number): AsyncIterable<LogLineRecord[]>
  /**
   * The same lines as iterateLogs, as encoded chunks (no transaction held between chunks), for
   * sending logs on without decoding them. Optional: without it callers encode iterateLogs pages.
   */
  iterateLogChunks?(query: LogQuery): AsyncIterable<LogChunk>
  /** Retention: deletes the lines of step attempts that finished before `time`; returns the number of lines deleted. */
  deleteLogsBefore(time: string): Promise<number>

  // schedules
  getSchedule(resourceId: string): Promise<ScheduleRecord | undefined>
  /** Insert or replace. */
  putSchedule(record: Omit<ScheduleRecord, 'updatedAt'>): Promise<void>
  deleteSchedule(resourceId: string): Promise<void>
  listSchedules(): Promise<ScheduleRecord[]>

  // small key/value for the server (admin key hash, settings)
  getMeta(key: string): Promise<string | undefined>
  setMeta(key: string, value: string): Promise<void>
}

// ---- identity: users, API keys, role bindings, workspaces, grants, audit (issue 4)

export type UserType = 'person' | 'application'
export type WorkspaceLayer = 'user' | 'system'

export interface UserRecord {
  id: string
  name: string
  type: UserType
  email?: string
  createdAt: string
  deletedAt?: string
}

export interface CreateUserInput {
  id: string
  name: string
  type: UserType
  email?: string
}

export interface ApiKeyRecord {
  id: string
  userId: string
  name: string
  createdAt: string
  expiresAt?: string
  revokedAt?: string
  lastUsedAt?: string
}

export interface CreateApiKeyInput {
  userId: string
  name: string
  /** sha256 (hex) of the token; the token itself is never stored. */
  hash: string
  expiresAt?: string
}

export interface RoleBindingRecord {
  userId: string
  role: string
  /** null: tenant-wide. */
  workspace: string | null
  createdBy: string
  createdAt: string
}

export interface WorkspaceRecord {
  name: string
  description?: string
  layer: WorkspaceLayer
  tags: string[]
  createdAt: string
}

export interface GrantRecord {
  resourceId: string
  userId: string
  permission: string
  grantedBy: string
  createdAt: string
}

export interface AuditRecord {
  seq: number
  time: string
  actor: string
  action: string
  target: string
  result: string
  detail?: unknown
}

export type AuditInput = Omit<AuditRecord, 'seq' | 'time'> & { time?: string }

export interface IdentityStore {
  /** E_CONFLICT when a user with that id exists; a deleted user of that id is revived (with no keys, bindings, grants). */
  createUser(input: CreateUserInput): Promise<UserRecord>
  getUser(id: string, options?: { includeDeleted?: boolean }): Promise<UserRecord | undefined>
  /** Ordered by id. */
  listUsers(options?: { includeDeleted?: boolean }): Promise<UserRecord[]>
  /** Marks the user deleted, revokes its keys, drops its bindings and grants. E_NOT_FOUND when absent. */
  deleteUser(id: string): Promise<void>

  createApiKey(input: CreateApiKeyInput): Promise<ApiKeyRecord>
  /** Oldest first, revoked ones included. */
  listApiKeys(userId: string): Promise<ApiKeyRecord[]>
  /** Sets revoked_at; false when no such (unrevoked) key of that user. */
  revokeApiKey(userId: string, keyId: string): Promise<boolean>
  /** The key with this hash and its user (deleted users too: the caller says why it fails). */
  findApiKeyByHash(hash: string): Promise<{ key: ApiKeyRecord; user: UserRecord } | undefined>
  touchApiKey(keyId: string, time: string): Promise<void>

  /** false when the binding existed already. E_NOT_FOUND for an unknown user or workspace. */
  addRoleBinding(input: Omit<RoleBindingRecord, 'createdAt'>): Promise<boolean>
  /** false when there was no such binding. */
  removeRoleBinding(userId: string, role: string, workspace: string | null): Promise<boolean>
  /** Ordered by user, workspace ('' = tenant-wide first), role. */
  listRoleBindings(filter: { userId?: string; workspace?: string | null }): Promise<RoleBindingRecord[]>

  /** E_CONFLICT when it exists (a deleted one is revived). */
  createWorkspace(input: Omit<WorkspaceRecord, 'createdAt'>): Promise<WorkspaceRecord>
  getWorkspace(name: string): Promise<WorkspaceRecord | undefined>
  /** Ordered by name. */
  listWorkspaces(): Promise<WorkspaceRecord[]>
  /** Marks it deleted and drops the bindings in it; the caller deals with its resources first. */
  deleteWorkspace(name: string): Promise<void>

  /** false when it existed already. */
  addGrant(input: Omit<GrantRecord, 'createdAt'>): Promise<boolean>
  removeGrant(resourceId: string, userId: string, permission: string): Promise<boolean>
  listGrants(filter: { resourceId?: string; userId?: string }): Promise<GrantRecord[]>
  deleteGrantsForResource(resourceId: string): Promise<void>

  appendAudit(entry: AuditInput): Promise<void>
  /** Oldest first; `since` inclusive; `limit` keeps the NEWEST entries. */
  listAudit(filter: { since?: string; limit?: number }): Promise<AuditRecord[]>
}
