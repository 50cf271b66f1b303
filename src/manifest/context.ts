// What the manifest core needs from the stack registry and the projection
// renderer. Injected, so the core stays pure and the CLI (built-in stacks) and
// the server (built-in plus applied stacks) run exactly the same checks.

import type { ManifestLimitSettings } from './limits.js'
import type { JsonPath, ParamSpec, ResourceMeta, StackDefinition, StackRef } from './model.js'

/** What lint reads of the catalog of stacks and computes (built by src/stack/catalog.ts). */
export interface CatalogView {
  /** Resolves `name[:version]` among built-in and applied stacks. */
  resolveStack(ref: StackRef): StackDefinition | undefined
  stackVersions(name: string): string[]
  /** Names of every known stack, for "did you mean" on an unknown one; absent: no suggestion. */
  stackNames?(): string[]
  /** Computes that exist (besides `runnable-default`); absent: unknown offline, so computes are not checked. */
  knownComputes?: ReadonlySet<string>
  /** The catalog plus the stacks and computes of the batch being linted (a stack and the workflow using it in one file). */
  withBatch(resources: readonly { meta: { type: string; name: string }; stack?: unknown; compute?: unknown }[]): CatalogView
}

export interface ManifestContext extends CatalogView {
  /** Validates a stackSpec; paths are relative to stackSpec. */
  validateStackSpec(stack: StackDefinition, stackSpec: unknown): { path: JsonPath; message: string }[]
  /**
   * From src/projection: messages for one template ('unknown secret alias "db"; declared: app'), [] when fine.
   * With a scope it also checks the run's values (params, outputs, item, index, matrix) of one step.
   */
  checkTemplate(template: string, declaredAliases: ReadonlySet<string>, scope?: TemplateScope): string[]
  /** From src/expr: the CEL problems of one expression (`when`, `forEach.items`, `approval.required`, a webhook param). */
  checkExpression(source: string, scope: ExprScope, expect: ExprExpect): ExprProblem[]
  /** From src/stack: builds a StackDefinition from a `type: stack` body (already schema-valid). */
  stackDefinitionFromBody(meta: ResourceMeta, body: Record<string, unknown>): StackDefinition
  /** Bounds a server sets (steps per workflow); absent: MANIFEST_LIMITS' defaults. */
  limits?: ManifestLimitSettings
}

/**
 * The run's values a template may read besides projections' own (issue 11): `.params.NAME`,
 * `.steps.STEP.outputs.KEY`, `.item`, `.index`, `.matrix.AXIS`. Built by lint for each step.
 */
export interface TemplateScope {
  params: readonly ParamSpec[]
  /** Steps the template may name: the step's ancestors through depends. */
  steps: readonly string[]
  /** Every step of the workflow, to tell "not an ancestor" from a typo. */
  allSteps?: readonly string[]
  fanout?: 'forEach' | 'matrix'
  /** Keys of the matrix (axes, then include's extra keys). */
  matrixAxes?: readonly string[]
  /** Ancestors that fan out: their `outputs` is the list of their instances' output maps. */
  fannedOut?: readonly string[]
  /**
   * False for stackSpec and envs values: `.secrets` and `.defaultProjections` belong to projections (a secret
   * in stackSpec or envs would be written into the Pod spec in clear).
   */
  projection: boolean
}

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

/** `value`: any result (a webhook param mapping; the param's declared type is checked when the run starts). */
export type ExprExpect = 'bool' | 'list' | 'value'
