// Lint of a workflow's data flow (issue 11): param declarations, `when` and `forEach.items` in CEL, matrix
// and forEach bounds, and the run's values in templates (stackSpec, envs, projections), each located.
import { parseApprover } from '../api/approvers.js'
import { CtlError, type ErrorCode, type ManifestIssue } from '../errors.js'
import type { ExprExpect, ExprScope, ManifestContext, TemplateScope } from './context.js'
import { matrixCombinations } from './fanout.js'
import { issueAt } from './issues.js'
import { fanoutSizeProblem } from './limits.js'
import { formatPath, type JsonPath, type LoadedDocument, type ParamSpec, type StepModel, type WorkflowResource } from './model.js'
import { checkParamDeclarations } from './params.js'

export interface FlowScopes {
  /** Workflow-level projections apply to every step: params only. */
  workflow: TemplateScope
  /**
   * The scope of the step at this index (`projection: true`; spread with `projection: false` for values).
   * Computed on first use: a 5,000-step DAG without templates costs nothing.
   */
  step(index: number): TemplateScope
}

/** The matrix keys a template may name: the axes, then the keys include adds. */
export function matrixKeys(step: StepModel): string[] {
  if (!step.matrix) return []
  const keys = Object.keys(step.matrix.axes)
  for (const entry of step.matrix.include) for (const key of Object.keys(entry)) if (!keys.includes(key)) keys.push(key)
  return keys
}

/** What each step's templates and expressions may name. */
export function flowScopes(wf: WorkflowResource): FlowScopes {
  const steps = wf.workflow.dag
  const params = wf.workflow.params ?? []
  const allSteps = steps.map((s) => s.name)
  const indexOf = new Map<string, number>()
  steps.forEach((s, i) => {
    if (!indexOf.has(s.name)) indexOf.set(s.name, i)
  })
  // Backwards through depends, in declaration order (cycles and unknown names are reported elsewhere).
  const ancestors = (start: number): string[] => {
    const seen = new Uint8Array(steps.length)
    const stack = [...steps[start]!.depends]
    while (stack.length > 0) {
      const at = indexOf.get(stack.pop()!)
      if (at === undefined || seen[at] === 1) continue
      seen[at] = 1
      stack.push(...steps[at]!.depends)
    }
    seen[start] = 0
    return allSteps.filter((_, i) => seen[i] === 1)
  }
  const fans = new Set(steps.filter((s) => s.forEach || s.matrix).map((s) => s.name))
  const memo = new Map<number, TemplateScope>()
  return {
    workflow: { params, steps: [], allSteps, projection: true },
    step(i: number): TemplateScope {
      const hit = memo.get(i)
      if (hit) return hit
      const step = steps[i]!
      const before = ancestors(i)
      const fannedOut = before.filter((name) => fans.has(name))
      const scope: TemplateScope = { params, steps: before, allSteps, projection: true, ...(fannedOut.length > 0 ? { fannedOut } : {}) }
      if (step.forEach) scope.fanout = 'forEach'
      else if (step.matrix) {
        scope.fanout = 'matrix'
        scope.matrixAxes = matrixKeys(step)
      }
      memo.set(i, scope)
      return scope
    },
  }
}

function exprScope(scope: TemplateScope): ExprScope {
  const out: ExprScope = { params: scope.params, steps: scope.steps }
  if (scope.allSteps) out.allSteps = scope.allSteps
  if (scope.fannedOut) out.fannedOut = scope.fannedOut
  if (scope.fanout) out.fanout = scope.fanout
  if (scope.matrixAxes) out.matrixAxes = scope.matrixAxes
  return out
}

/** CEL problems at their column when the scalar maps 1:1 to its line, else at the key. */
export function exprIssues(ctx: Pick<ManifestContext, 'checkExpression'>, doc: LoadedDocument, path: JsonPath, source: string, scope: ExprScope, expect: ExprExpect, issues: ManifestIssue[]): void {
  const problems = ctx.checkExpression(source, scope, expect)
  // Positions cost a YAML parse of a JSON manifest (src/manifest/json-fast.ts): only for a problem.
  const start = problems.length > 0 ? doc.locateText?.(path) : undefined
  for (const problem of problems) {
    if (start && problem.offset !== undefined && problem.offset <= source.length) {
      issues.push({ file: doc.file, line: start.line, column: start.column + problem.offset, path: formatPath(path), code: 'E_EXPR', message: problem.message })
    } else issues.push(issueAt(doc, 'E_EXPR', path, problem.message))
  }
}

/** The secret params an expression names (`params.x` or `params['x']`). */
function secretParamsNamed(source: string, params: readonly ParamSpec[]): string[] {
  const secret = new Set(params.filter((p) => p.secret).map((p) => p.name))
  const named = new Set<string>()
  for (const m of source.matchAll(/\bparams\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*['"]([^'"]+)['"]\s*\])/g)) named.add(m[1] ?? m[2]!)
  return [...named].filter((n) => secret.has(n))
}

/** Every string of a stackSpec (recursively) with its path; keys are not templates. */
function strings(value: unknown, path: JsonPath, out: [string, JsonPath][]): void {
  if (typeof value === 'string') out.push([value, path])
  else if (Array.isArray(value)) value.forEach((v, i) => strings(v, [...path, i], out))
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) strings(v, [...path, k], out)
}

function templateIssues(doc: LoadedDocument, ctx: ManifestContext, scope: () => TemplateScope, code: ErrorCode, values: [string, JsonPath][], issues: ManifestIssue[]): void {
  for (const [text, path] of values) {
    // A value without `{{` is plain text, as before templates existed in stackSpec and envs.
    if (!text.includes('{{')) continue
    for (const message of ctx.checkTemplate(text, new Set(), { ...scope(), projection: false })) issues.push(issueAt(doc, code, path, message))
  }
}

function checkFanout(ctx: ManifestContext, step: StepModel, doc: LoadedDocument, scope: () => ExprScope, maxItems: number | undefined, issues: ManifestIssue[]): void {
  if (step.forEach && step.matrix) {
    issues.push(issueAt(doc, 'E_SCHEMA', [...step.path, 'matrix'], `step "${step.name}" has both forEach and matrix; a step fans out one way: use one of them`))
  }
  if (step.forEach) {
    const path: JsonPath = [...step.path, 'forEach', 'items']
    const items = step.forEach.items
    if (typeof items === 'string') {
      exprIssues(ctx, doc, path, items, scope(), 'list', issues)
      // Items are stored with each instance and shown with the run: a secret param's value must not become one.
      for (const name of secretParamsNamed(items, scope().params)) {
        issues.push(issueAt(doc, 'E_EXPR', path, `forEach.items reads params.${name}, which is declared secret: its values would be stored and shown as the instances' items`))
      }
    }
    else {
      const problem = fanoutSizeProblem(items.length, 'forEach', maxItems)
      if (problem) issues.push(issueAt(doc, 'E_LIMIT', path, problem))
    }
  }
  if (step.matrix) {
    const path: JsonPath = [...step.path, 'matrix']
    const axes = Object.keys(step.matrix.axes)
    step.matrix.exclude.forEach((entry, i) => {
      for (const key of Object.keys(entry)) {
        if (!axes.includes(key)) issues.push(issueAt(doc, 'E_SCHEMA', [...path, 'exclude', i, key], `exclude names "${key}", which is no axis (axes: ${axes.join(', ') || 'none'})`))
      }
    })
    let count: number
    try {
      count = matrixCombinations(step.matrix).length
    } catch (err) {
      issues.push(issueAt(doc, err instanceof CtlError ? err.code : 'E_LIMIT', [...path, 'axes'], err instanceof Error ? err.message : String(err)))
      return
    }
    const problem = fanoutSizeProblem(count, 'matrix')
    if (problem) issues.push(issueAt(doc, 'E_LIMIT', [...path, 'axes'], `${problem} (after exclude and include)`))
    // An empty axis is the schema's to report.
    if (count === 0 && Object.values(step.matrix.axes).every((values) => values.length > 0)) issues.push(issueAt(doc, 'E_SCHEMA', path, 'the matrix yields no combination: give axes, or include entries'))
  }
}

/**
 * `approval:`: `required` in CEL like `when`, each approver's syntax, and `message` as a template. The request is
 * made before a fanned step expands, so neither reads `.item`, `.index` nor `.matrix`.
 */
function checkApproval(step: StepModel, doc: LoadedDocument, ctx: ManifestContext, scope: () => TemplateScope, issues: ManifestIssue[]): void {
  const approval = step.approval!
  const path: JsonPath = [...step.path, 'approval']
  const unfanned = (): TemplateScope => {
    const { fanout: _fanout, matrixAxes: _axes, ...rest } = scope()
    return rest
  }
  if (typeof approval.required === 'string') exprIssues(ctx, doc, [...path, 'required'], approval.required, exprScope(unfanned()), 'bool', issues)
  approval.approvers.forEach((text, i) => {
    const parsed = parseApprover(text)
    if ('error' in parsed) issues.push(issueAt(doc, 'E_SCHEMA', [...path, 'approvers', i], parsed.error))
  })
  if (approval.message !== undefined) templateIssues(doc, ctx, unfanned, 'E_TEMPLATE', [[approval.message, [...path, 'message']]], issues)
}

/**
 * Data-flow checks of one workflow: params, each step's `when`, fan-out, and the run's values in its
 * stackSpec and envs (projections are checked with `scopes` by the projection check itself).
 */
export function checkFlow(wf: WorkflowResource, doc: LoadedDocument, bodyKey: string, ctx: ManifestContext, scopes: FlowScopes, issues: ManifestIssue[]): void {
  for (const p of checkParamDeclarations(wf.workflow.params ?? [])) {
    issues.push(issueAt(doc, 'E_PARAMS', [bodyKey, 'params', p.index, ...(p.field ? [p.field] : [])], p.message))
  }
  const steps = wf.workflow.dag
  steps.forEach((step, i) => {
    const scope = () => scopes.step(i)
    const cel = () => exprScope(scope())
    if (step.when !== undefined) exprIssues(ctx, doc, [...step.path, 'when'], step.when, cel(), 'bool', issues)
    checkFanout(ctx, step, doc, cel, ctx.limits?.maxForEachItems, issues)
    const values: [string, JsonPath][] = []
    strings(step.spec.stackSpec, [...step.path, 'spec', 'stackSpec'], values)
    templateIssues(doc, ctx, scope, 'E_TEMPLATE', values, issues)
    const envs = Object.entries(step.spec.envs).map(([k, v]): [string, JsonPath] => [v, [...step.path, 'spec', 'envs', k]])
    templateIssues(doc, ctx, scope, 'E_TEMPLATE', envs, issues)
    if (step.approval) checkApproval(step, doc, ctx, scope, issues)
  })
}
