// What every engine room shares: the store, the runtime, the clock, a logger
// and the log redaction hook. Passed explicitly so each room can be built alone.

import type { Store, RunRecord, ResourceRecord } from '../store/types.js'
import type { Runtime, StepLaunch } from '../runtime/types.js'
import type { StepModel, WorkflowResource } from '../manifest/model.js'
import type { StepValues } from '../stack/values.js'
import type { Metrics } from '../metrics/metrics.js'

export interface EngineLogger {
  info(message: string, data?: Record<string, unknown>): void
  warn(message: string, data?: Record<string, unknown>): void
  error(message: string, data?: Record<string, unknown>): void
}

export const silentLogger: EngineLogger = { info() {}, warn() {}, error() {} }

import type { SecretBox } from '../secrets/crypto.js'
import type { RunEnds } from './run-ends.js'
import type { RunTracing } from './tracing.js'
import type { RunChanges } from './run-changes.js'

export interface EngineContext {
  store: Store
  runtime: Runtime
  now: () => Date
  logger: EngineLogger
  /** Redacts one log line of a run before it is stored (secret values). Identity for now. */
  redact: (runId: string, text: string) => string
  /** Told when a run ends, so that its followers here need not wait for their next read. */
  runEnds: RunEnds
  /** Seals and opens run params declared secret (src/secrets/params.ts); absent: stored as given (tests). */
  box?: SecretBox
  /** This control plane among the replicas sharing the store (claims and leases name it); absent: a lone engine. */
  replicaId?: string
  /** Traces on (tracing.ts): new runs get a trace id, `store` tells the tracer of every end. Absent: traces off. */
  tracing?: RunTracing
  /** Where runs, attempts, queue delays, schedule lag and log bytes are counted (src/metrics); none: not counted. */
  metrics?: Metrics
  /** The step rows `store` wrote (run-changes.ts), for readers that read a run again and again; absent: none. */
  changes?: RunChanges
}

/** Everything about a run the scheduler and the launcher need, loaded once per run. */
export interface RunScope {
  run: RunRecord
  resource: ResourceRecord
  /** The workflow as of the run's revision. */
  workflow: WorkflowResource
  /** Who applied that revision (the owner stays the creator across updates). */
  appliedBy?: string
}

/** Builds what the runtime needs to start one attempt of one step (stack, projections, volumes). */
export interface StepLauncher {
  /** `values`: the run's params, ancestors' outputs and an instance's item or matrix, rendered into the step first. */
  prepare(scope: RunScope, step: StepModel, attempt: number, values?: StepValues): Promise<StepLaunch>
  /** Problems that keep a workflow from running (e.g. a stack that does not resolve); empty when fine. */
  check(workflow: WorkflowResource, workspace: string | null): Promise<string[]>
}
