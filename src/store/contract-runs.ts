// The store contract, runs and their step attempts: what the engine persists as it runs a workflow.
// Times are ISO-8601 UTC text with milliseconds (`2024-05-01T12:00:00.000Z`), which sorts as text
// in both databases. Records are plain data: what a call returns stays whole after the store closes.

/** `suspended`: held by a user (`runtime suspend`): starts no new step, but is not over (ACTIVE_RUN_STATES). */
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

/** Terminal states: a run or step in one of these never changes again. */
export const FINAL_RUN_STATES: readonly RunState[] = ['succeeded', 'failed', 'cancelled', 'killed']
/** Runs that are not over: a suspended run still has steps running or to run, so it counts as active. */
export const ACTIVE_RUN_STATES: readonly RunState[] = ['pending', 'running', 'suspended']
export const FINAL_STEP_STATES: readonly StepState[] = ['succeeded', 'failed', 'skipped', 'cancelled']

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
  /**
   * The run's OpenTelemetry trace id (32 lower-case hex), chosen when the run is created while traces are on:
   * every replica that touches the run builds its spans in this trace (src/controlplane/traces). Absent otherwise.
   */
  traceId?: string
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
  /** The run's trace id (32 lower-case hex), when traces are on. */
  traceId?: string
  /** Step names; each gets attempt 1 in state `pending`. */
  steps: string[]
  /**
   * The run's lease (leases.ts) for its creator, written in the same transaction as the run: the run never exists
   * unleased, and creating it costs one write, not two. It expires `ttlMs` after the lease clock (leaseClock) where
   * the store has one, else after `now`.
   */
  lease?: CreateRunLease
}

/** listRuns' filter: every given condition holds. */
export interface RunFilter {
  resourceId?: string
  states?: RunState[]
  /** Only runs whose lease row (leases.ts) names this owner, expired or not: what one replica drives. */
  leasedBy?: string
  limit?: number
}

/** See CreateRunInput.lease. */
export interface CreateRunLease {
  owner: string
  ttlMs: number
  /** The caller's time, for a store without a clock of its own (ISO-8601 UTC). */
  now: string
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

export interface RunStore {
  /** E_NOT_FOUND when the resource or revision does not exist. */
  createRun(input: CreateRunInput): Promise<{ run: RunRecord; steps: StepRunRecord[] }>
  getRun(id: string): Promise<RunRecord | undefined>
  /** Newest first. */
  listRuns(filter: RunFilter): Promise<RunRecord[]>
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
}
