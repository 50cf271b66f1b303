// The records the HTTP API sends: its own wire shapes, not the store's or the engine's types (those may
// change shape, e.g. a lazily read manifest, without changing what goes over the wire). Each server-side
// type must stay assignable to its shape here: tsc checks that where the routes answer with them.

export type ResourceStatus = 'creating' | 'active' | 'error' | 'deleted'
export type RunState = 'pending' | 'running' | 'suspended' | 'succeeded' | 'failed' | 'cancelled' | 'killed'
export type StepState = 'pending' | 'waiting' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled'
export type RunTrigger = 'apply' | 'schedule' | 'manual' | 'retry' | 'backfill' | `webhook:${string}`
export type LogStream = 'stdout' | 'stderr' | 'system'

export interface ResourceRecord {
  /** null for instance-level types (`stack`, `compute`, `instance-secret`). */
  workspace: string | null
  type: string
  name: string
  id: string
  version: string
  revision: number
  hash: string
  /** The normalized resource (secret values masked unless revealed). */
  manifest: unknown
  owner: string
  status: ResourceStatus
  statusReason?: string
  createdAt: string
  updatedAt: string
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
  /** Defaults filled in; secret ones read `***`. */
  params?: Record<string, unknown>
  /** The run's OpenTelemetry trace id (32 hex), when traces were on as it was created. */
  traceId?: string
  createdAt: string
  startedAt?: string
  finishedAt?: string
}

export interface ApprovalRecord {
  message?: string
  /** `roles:id:ROLE` / `users:id:ID`; empty: whoever may run the workflow. */
  approvers: string[]
  requestedAt: string
  deadline?: string
  decision?: 'approved' | 'rejected' | 'timeout'
  by?: string
  comment?: string
  decidedAt?: string
}

export type InstanceValues = { index: number; item: unknown } | { index: number; matrix: Record<string, string | number | boolean> }

export interface StepRunRecord {
  id: string
  runId: string
  step: string
  attempt: number
  state: StepState
  exitCode?: number
  reason?: string
  message?: string
  runtimeHandle?: unknown
  logOffset: number
  logSeq: number
  notBefore?: string
  createdAt: string
  startedAt?: string
  finishedAt?: string
  keptFrom?: string
  outputs?: Record<string, string>
  parent?: string
  instance?: InstanceValues
  approval?: ApprovalRecord
}

export interface LogLineRecord {
  runId: string
  step: string
  attempt: number
  seq: number
  time: string
  stream: LogStream
  text: string
}

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

export interface ApiKeyRecord {
  id: string
  userId: string
  name: string
  createdAt: string
  expiresAt?: string
  revokedAt?: string
  lastUsedAt?: string
}

export interface WorkspaceRecord {
  name: string
  description?: string
  layer: WorkspaceLayer
  tags: string[]
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

export interface RuntimeInfo {
  name: 'local' | 'kubernetes'
  sandbox: 'bubblewrap' | 'none'
  detail: string
  notice?: string
}

/** The RUNTIME column of `get`: pending, running, succeeded, failed, or `next:<RFC 3339>`. */
export type RuntimeSummary = string

export interface RunDetail {
  run: RunRecord
  /** Every attempt of every step, ordered by step then attempt. */
  steps: StepRunRecord[]
  progress: string
  live?: Record<string, { phase: string; message?: string }>
  allowedFailures?: string[]
  finally?: string[]
  dagStatus?: string
}

/** One attempt as the runtime sees it now (`runtime get --node`). */
export interface StepDescription {
  object: string
  node?: string
  phase: string
  message?: string
  conditions: { type: string; status: string; reason?: string; message?: string; since?: string }[]
  containers: { name: string; image: string; state: string; reason?: string; message?: string; exitCode?: number; startedAt?: string; finishedAt?: string; restarts: number }[]
  events: { time: string; type: string; reason: string; message: string; source?: string; count: number }[]
}

export interface NodeDetail {
  run: RunRecord
  attempts: StepRunRecord[]
  description?: StepDescription
  descriptionError?: string
}
