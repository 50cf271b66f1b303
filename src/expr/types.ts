// The shapes the CEL layer speaks: what an expression may name (scope, for lint) and what it reads (vars, at run time).
import type { ParamType } from '../manifest/model.js'
// Lint's side of the contract (what an expression may name, its problems) lives with the ManifestContext.
export type { ExprExpect, ExprProblem, ExprScope } from '../manifest/context.js'

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


/** What a webhook trigger's param mapping reads. */
export interface WebhookVars {
  body: unknown
  headers: Record<string, string>
}
