// What the HTTP server may ask of the engine. The server never touches the
// scheduler, the DAG state machine or the runtime directly: it goes through
// this small surface, so each side can be tested on its own.
import type { BackfillRecord, RunRecord, StepRunRecord, ResourceRecord, ResourceSummary } from '../store/types.js'
import type { RuntimeInfo, StepDescription } from '../runtime/types.js'
import type { StepSelection } from './selection.js'

/** The RUNTIME column of `get`: pending, running, succeeded, failed, or `next:<RFC 3339>`. */
export type RuntimeSummary = string

export interface RunDetail {
  run: RunRecord
  /** Every attempt of every step, ordered by step then attempt. */
  steps: StepRunRecord[]
  /** `1 succeeded, 1 failed, 1 skipped of 3 steps` (progressOf in dag.ts). */
  progress: string
  /** Per running attempt (step run id): what the runtime reports now, when it can tell cheaply (e.g. a Pod still
      Pending with the scheduler's message). */
  live?: Record<string, { phase: string; message?: string }>
  /** Failed steps whose failure the workflow allows (`allowFailure`): shown `failed (allowed)`. */
  allowedFailures?: string[]
  /** The workflow's `finally` steps, in order: shown after the DAG. */
  finally?: string[]
  /** How the DAG ended (Succeeded, Failed, Killed, Cancelled; finally reads it as workflow.status), once it has. */
  dagStatus?: string
}

/** `runtime get --node`: one step's attempts as stored, and the latest one as the runtime sees it now. */
export interface NodeDetail {
  run: RunRecord
  attempts: StepRunRecord[]
  /** Absent when the runtime cannot describe attempts, or the latest attempt never started. */
  description?: StepDescription
  /** Why there is no description although the runtime can give one (e.g. the cluster did not answer). */
  descriptionError?: string
}

/** `runtime backfill`: the range (RFC 3339 times or dates in the schedule's zone), runs at once, dry run. */
export interface BackfillRequest {
  from: string
  to: string
  /** Most runs of this backfill at once; default 1, at most MAX_BACKFILL_PARALLEL. */
  parallel?: number
  dryRun?: boolean
}

export interface BackfillAnswer {
  /** The fire times in the range, oldest first (RFC 3339). */
  times: string[]
  /** Absent on a dry run. */
  backfill?: BackfillRecord
  /** The runs started at once (the others start as these end). */
  runs: RunRecord[]
  dryRun?: true
}

export interface EngineApi {
  /**
   * Called after a resource was stored (created or updated). Resolves once it is reconciled, with the run
   * that started (an unscheduled workflow's apply run), so the apply answer can name it. Never rejects.
   */
  resourceApplied(resource: ResourceRecord, outcome: 'created' | 'updated' | 'unchanged', params?: Record<string, unknown>): Promise<RunRecord | undefined>
  /** Kills the resource's running runs and forgets its schedule. */
  resourceDeleted(resource: ResourceRecord): Promise<void>
  /**
   * `runtime run`: a run now (an extra one for a scheduled workflow); `params` as given, E_PARAMS when they do not resolve.
   * `selection` (--skip / --only) leaves steps out; E_PARAMS naming unknown steps.
   */
  runNow(resource: ResourceRecord, by: string, params?: Record<string, unknown>, selection?: StepSelection): Promise<RunRecord>
  /** `runtime stop`: the run ends `killed`. Without runId: the resource's active runs. */
  stopRuns(resource: ResourceRecord, by: string, runId?: string, opts?: { force?: boolean }): Promise<RunRecord[]>
  /**
   * `runtime suspend`: the run (or, without runId, each active run) starts no new step; running steps go on and
   * their ends are recorded. Returns the runs now suspended (already suspended ones included: a no-op, not an error).
   * E_CONFLICT when the given run has ended.
   */
  suspendRuns(resource: ResourceRecord, by: string, runId?: string): Promise<RunRecord[]>
  /**
   * `runtime resume`: a suspended run goes on (`running`, or `pending` if no step had started). Without runId: every
   * suspended run. A given run that is not suspended but still active is a no-op answer; an ended one is E_CONFLICT.
   */
  resumeRuns(resource: ResourceRecord, by: string, runId?: string): Promise<RunRecord[]>
  /** `runtime retry`: reruns only the failed and skipped steps of the last (or given) run, with its params. */
  retryRun(resource: ResourceRecord, by: string, runId?: string): Promise<RunRecord>
  /**
   * The step run of `step` that waits for approval: in the given run, or (without runId) in the newest run where that
   * step waits. E_NOT_FOUND when there is none, E_CONFLICT when the given run's step does not wait.
   */
  waitingStep(resource: ResourceRecord, step: string, runId?: string): Promise<StepRunRecord>
  /**
   * `runtime approve|reject`: records the decision on a waiting step run (the caller has checked who may decide);
   * approve lets the step start, reject fails it (`Rejected by USER: COMMENT`). E_CONFLICT when it no longer waits.
   */
  decideApproval(stepRun: StepRunRecord, decision: 'approve' | 'reject', by: string, comment?: string): Promise<StepRunRecord>
  /**
   * `runtime backfill`: one run (trigger `backfill`) per fire time of the workflow's schedule in [from, to], stored so a
   * restart goes on; E_USAGE without a schedule or for a bad range, E_LIMIT over MAX_BACKFILL_FIRES times.
   */
  backfill(resource: ResourceRecord, by: string, request: BackfillRequest): Promise<BackfillAnswer>
  runtimeSummary(resource: ResourceRecord): Promise<RuntimeSummary>
  /** Batched runtimeSummary for listings (10,000 rows must not cost 10,000 queries); keyed by resource id. Optional: the server falls back to runtimeSummary. */
  runtimeSummaries(resources: readonly ResourceSummary[]): Promise<Map<string, RuntimeSummary>>
  runDetail(runId: string): Promise<RunDetail | undefined>
  /**
   * runDetail for a follower that asks again and again (a watch): each call answers as runDetail, reading again only
   * the step rows written since the last call (run-changes.ts says when it reads them all).
   */
  runDetailReader(runId: string): () => Promise<RunDetail | undefined>
  /** Resolves when the run ends in this engine, after `ms` at the latest, or when `signal` aborts (a follower's pause between reads). */
  untilRunEnds(runId: string, ms: number, signal: AbortSignal): Promise<void>
  /** A node of a run: `step` or `step-attempt`. Undefined when the run has no such step. */
  nodeDetail(runId: string, node: string): Promise<NodeDetail | undefined>
  /** The next fire time of a scheduled workflow, if any. */
  nextFireTime(resource: ResourceRecord): Promise<string | undefined>
  runtimeInfo(): RuntimeInfo
  /** A webhook trigger's run (trigger `webhook:NAME`), with the params its mapping gave; E_PARAMS when they do not resolve. */
  runTriggered(resource: ResourceRecord, trigger: `webhook:${string}`, params: Record<string, unknown>): Promise<RunRecord>
}
