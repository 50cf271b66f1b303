// The shapes the CEL layer speaks: what an expression may name (scope, for lint) and what it reads (vars, at run time).
import type { ParamSpec, ParamType } from '../manifest/model.js'

/** What an expression of one step may name; lint builds it from the workflow. */
export interface ExprScope {
  params: readonly ParamSpec[]
  /** Steps the expression may name: the step's ancestors through `depends`. */
  steps: readonly string[]
  /** The step's own fan-out, if any (its `item`, `index`, `matrix` are still not visible to `when` or `items`). */
  fanout?: 'forEach' | 'matrix'
  matrixAxes?: readonly string[]
  /** Every step of the workflow, so that a step that exists but is no ancestor is told apart from a typo. */
  allSteps?: readonly string[]
  /** Ancestors that fan out: their `outputs` is a list of maps. */
  fannedOut?: readonly string[]
  /**
   * `webhook`: a trigger's param mapping, which reads only the request: `body` (dyn, its JSON) and `headers`
   * (map of string to string, names lowercased); params, steps and workflow do not exist yet.
   */
  context?: 'webhook'
}

/** One problem of an expression; `offset` is a 0-based index into its source, when known. */
export interface ExprProblem {
  message: string
  offset?: number
}

export interface ExprStepVars {
  /** A fanned-out step's outputs are the list of its instances' output maps. */
  outputs: Record<string, string> | Record<string, string>[]
  state: string
}

/** What an expression reads at run time. */
export interface ExprVars {
  params: Record<string, unknown>
  steps: Record<string, ExprStepVars>
  /**
   * `status`: how the DAG ended (Succeeded, Failed, Killed, Cancelled), `Running` while it runs; finally steps read it.
   * `scheduledTime`: the fire time of a scheduled or backfill run, else when the run was created (RFC 3339); '' when unknown.
   */
  workflow: { name: string; workspace: string; runId: string; trigger: string; status?: string; scheduledTime?: string }
  /**
   * Declared types of the params. CEL keeps int and double apart (`1 + 1.5` is an error), so a `number` param
   * given as `2` must stay a double; without this, whole numbers are ints.
   */
  paramTypes?: Record<string, ParamType>
}

/** `value`: any result (a webhook param mapping; the param's declared type is checked when the run starts). */
export type ExprExpect = 'bool' | 'list' | 'value'

/** What a webhook trigger's param mapping reads. */
export interface WebhookVars {
  body: unknown
  headers: Record<string, string>
}
