// Conditions and fan-out at run time, pure: which instances a fanned-out step
// expands into, the state its instances add up to, which instances may start,
// and the values (params, outputs, item) conditions and templates read. The
// scheduler applies these to the store and the runtime; like dag.ts, this file
// only decides, so it is tested without processes or a store.

import { CtlError } from '../errors.js'
import type { ExprVars } from '../expr/index.js'
import { matrixCombinations, instanceNames } from '../manifest/fanout.js'
import { checkFanoutSize } from '../manifest/limits.js'
import type { MatrixValue, ParamSpec, StepModel, WorkflowResource } from '../manifest/model.js'
import type { StepValues } from '../stack/values.js'
import type { InstanceValues, NewStepInstance, RunRecord, StepRunRecord, StepState } from '../store/types.js'
import { isTerminalStepState } from './dag.js'
import { RULE_SKIP_REASON } from './rules.js'
import { REQUESTED_SKIP_REASONS } from './skip-reasons.js'
import { decodeDagEnd } from './finally.js'
import { scheduledTimeOf } from './cron.js'

/** Stored as the reason of a step a false `when` skipped (its message says which expression). */
export const CONDITION_SKIP_REASON = 'ConditionFalse'
/** Stored as the reason of a step whose condition or items could not be evaluated. */
export const EXPR_ERROR_REASON = 'ExprError'

/** Skips that are the run going as written or as asked: a false condition, a trigger rule, --skip / --only. */
const EXCUSED_SKIP_REASONS: ReadonlySet<string> = new Set([CONDITION_SKIP_REASON, RULE_SKIP_REASON, ...REQUESTED_SKIP_REASONS])

/** The steps whose skip is excused at its root (EXCUSED_SKIP_REASONS). */
export function excusedSkipped(view: RunView): Set<string> {
  return new Set([...view.steps.values()].filter((a) => a.state === 'skipped' && a.reason !== undefined && EXCUSED_SKIP_REASONS.has(a.reason)).map((a) => a.step))
}

/** What CEL conditions and item expressions read. */
export type RunVars = ExprVars

/** The CEL evaluators (src/expr), passed in so the rules stay pure. */
export interface Evaluators {
  condition(source: string, vars: RunVars): boolean
  items(source: string, vars: RunVars): unknown[]
  /** The server's bound on one forEach (default MAX_FOREACH_ITEMS). */
  maxForEachItems?: number
}

export function isFanned(step: Pick<StepModel, 'forEach' | 'matrix'>): boolean {
  return step.forEach !== undefined || step.matrix !== undefined
}

/** The run's params: the declared defaults, overridden by what the run was given. */
export function paramsOf(declared: readonly ParamSpec[] | undefined, given: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const p of declared ?? []) if (p.default !== undefined) out[p.name] = p.default
  return { ...out, ...(given ?? {}) }
}

/** A step run's outputs (absent until outputs are recorded). */
export function outputsOf(a: StepRunRecord): Record<string, string> {
  return a.outputs ?? {}
}

/** The latest attempt of each step run name, split into the workflow's steps and each fanned step's instances. */
export interface RunView {
  /** Latest attempt of each workflow step (a fanned step's own row included). */
  steps: Map<string, StepRunRecord>
  /** Fanned step name → latest attempt of each of its instances, in instance order. */
  instances: Map<string, StepRunRecord[]>
}

/** The latest attempt of each step run name (a step's, an instance's). */
export function latestAttempts(attempts: readonly StepRunRecord[]): Map<string, StepRunRecord> {
  const latest = new Map<string, StepRunRecord>()
  for (const a of attempts) {
    const cur = latest.get(a.step)
    if (!cur || a.attempt > cur.attempt) latest.set(a.step, a)
  }
  return latest
}

export function viewOf(latest: ReadonlyMap<string, StepRunRecord>): RunView {
  const steps = new Map<string, StepRunRecord>()
  const instances = new Map<string, StepRunRecord[]>()
  for (const [name, a] of latest) {
    if (a.parent === undefined) steps.set(name, a)
    else {
      let list = instances.get(a.parent)
      if (!list) instances.set(a.parent, (list = []))
      list.push(a)
    }
  }
  for (const list of instances.values()) list.sort((x, y) => (x.instance?.index ?? 0) - (y.instance?.index ?? 0))
  return { steps, instances }
}

/** Every step `name` depends on, directly or not. */
export function ancestorsOf(dag: readonly Pick<StepModel, 'name' | 'depends'>[], name: string): Set<string> {
  const byName = new Map(dag.map((s) => [s.name, s]))
  const out = new Set<string>()
  const todo = [...(byName.get(name)?.depends ?? [])]
  while (todo.length > 0) {
    const d = todo.pop()!
    if (out.has(d)) continue
    out.add(d)
    todo.push(...(byName.get(d)?.depends ?? []))
  }
  return out
}

/** `steps.S` for the given steps: outputs (a list of the instances' maps, in order, for a fanned step) and state. */
export function stepsVars(names: Iterable<string>, view: RunView): RunVars['steps'] {
  const out: RunVars['steps'] = {}
  for (const name of names) {
    const a = view.steps.get(name)
    if (!a) continue
    const instances = view.instances.get(name)
    out[name] = { outputs: instances ? instances.map(outputsOf) : outputsOf(a), state: a.state }
  }
  return out
}

/**
 * What a condition or an item expression of `step` reads: the run's params, its ancestors' outputs and states,
 * the workflow. `cache` keeps each step's ancestors across calls (the workflow does not change within a run).
 */
export function runVars(run: RunRecord, workflow: WorkflowResource, view: RunView, step: string, cache?: Map<string, Set<string>>): RunVars {
  const declared = workflow.workflow.params ?? []
  let ancestors = cache?.get(step)
  if (!ancestors) {
    ancestors = ancestorsOf([...workflow.workflow.dag, ...(workflow.workflow.finally ?? [])], step)
    cache?.set(step, ancestors)
  }
  return {
    params: paramsOf(declared, run.params),
    paramTypes: Object.fromEntries(declared.map((p) => [p.name, p.type])),
    steps: stepsVars(ancestors, view),
    // How the DAG ended, for the finally steps (`Running` while it runs); the fire time of a scheduled or backfill run.
    workflow: { name: run.resourceName, workspace: run.workspace ?? 'public', runId: run.id, trigger: run.trigger, status: decodeDagEnd(run)?.status ?? 'Running', scheduledTime: scheduledTimeOf(run) },
  }
}

/** What one attempt's templates render with (renderStepValues); `instance` for an instance of a fanned step. */
export function launchValues(vars: RunVars, instance: InstanceValues | undefined): StepValues {
  const steps: Record<string, unknown> = {}
  for (const [name, s] of Object.entries(vars.steps)) steps[name] = { outputs: s.outputs }
  const values: StepValues = { params: vars.params, steps, workflow: { name: vars.workflow.name, status: vars.workflow.status ?? 'Running' } }
  if (instance && 'matrix' in instance) values.matrix = instance.matrix
  else if (instance) {
    values.item = instance.item
    values.index = instance.index
  }
  return values
}

/** Which way the condition went: run, skip (the message to store), or an evaluation error (the message). */
export type ConditionDecision = { run: true } | { run: false; skip: string } | { run: false; error: string }

export function decideCondition(step: Pick<StepModel, 'when'>, vars: RunVars, ev: Evaluators): ConditionDecision {
  if (step.when === undefined) return { run: true }
  try {
    return ev.condition(step.when, vars) ? { run: true } : { run: false, skip: `condition false: ${step.when}` }
  } catch (err) {
    return { run: false, error: `when: ${(err as Error).message}` }
  }
}

/**
 * The instances `step` expands into, named by instanceNames (stable across retries: the
 * same items give the same names). Throws CtlError (E_EXPR from the items expression, E_LIMIT over the bound) when the
 * items cannot be had.
 */
export function expandInstances(step: StepModel, vars: RunVars, ev: Evaluators, maxItems?: number): NewStepInstance[] {
  if (step.matrix) {
    const combos = matrixCombinations(step.matrix)
    checkFanoutSize(combos.length, 'matrix')
    const names = instanceNames(step.name, combos.map((matrix) => ({ matrix })))
    return combos.map((matrix, index) => ({ step: names[index]!, values: { index, matrix: matrix as Record<string, MatrixValue> } }))
  }
  const spec = step.forEach
  if (!spec) throw new CtlError('E_SCHEMA', `step "${step.name}" has neither forEach nor matrix`)
  const items = typeof spec.items === 'string' ? ev.items(spec.items, vars) : spec.items
  if (!Array.isArray(items)) throw new CtlError('E_SCHEMA', `step "${step.name}": forEach.items did not yield a list`)
  checkFanoutSize(items.length, 'forEach', maxItems)
  const names = instanceNames(step.name, items.map((_, index) => ({ index })))
  return items.map((item, index) => ({ step: names[index]!, values: { index, item } }))
}

/** The message of a fanned step with no instances. */
export function emptyFanoutMessage(step: Pick<StepModel, 'matrix'>): string {
  return step.matrix ? 'the matrix has no combinations: nothing to run' : 'forEach has no items: nothing to run'
}

/**
 * The state a fanned step's instances add up to: running while any is not over; then
 * failed if any failed, cancelled if any was cancelled, else succeeded.
 */
export function parentStateOf(instances: readonly Pick<StepRunRecord, 'state'>[]): StepState {
  if (instances.some((a) => !isTerminalStepState(a.state))) return 'running'
  if (instances.some((a) => a.state === 'failed')) return 'failed'
  if (instances.some((a) => a.state === 'cancelled')) return 'cancelled'
  return 'succeeded'
}

/** `4 instances: 3 succeeded, 1 failed`. */
export function instancesSummary(instances: readonly Pick<StepRunRecord, 'state'>[]): string {
  const n = new Map<StepState, number>()
  for (const a of instances) n.set(a.state, (n.get(a.state) ?? 0) + 1)
  const order: StepState[] = ['succeeded', 'failed', 'cancelled', 'skipped', 'running', 'pending']
  const parts = order.filter((s) => n.has(s)).map((s) => `${n.get(s)} ${s}`)
  return `${instances.length} instance${instances.length === 1 ? '' : 's'}: ${parts.join(', ')}`
}

/** failFast: once an instance failed for good, the instances not yet started are cancelled. */
export function failFastVictims(step: Pick<StepModel, 'matrix'>, instances: readonly StepRunRecord[]): StepRunRecord[] {
  if (!step.matrix?.failFast) return []
  if (!instances.some((a) => a.state === 'failed')) return []
  return instances.filter((a) => a.state === 'pending')
}

/**
 * The instances of a fanned step that may start now, in order: pending ones whose backoff
 * is over, within the step's own parallelism (counting its running instances). `running`
 * says whether an instance is running (the engine's view, not only the stored state).
 */
export function dueInstances(
  step: Pick<StepModel, 'forEach' | 'matrix'>,
  instances: readonly StepRunRecord[],
  running: (a: StepRunRecord) => boolean,
  nowMs: number,
): { due: StepRunRecord[]; wait?: number } {
  const limit = step.forEach?.parallelism ?? step.matrix?.parallelism
  let room = limit === undefined || limit <= 0 ? Infinity : limit - instances.filter(running).length
  const due: StepRunRecord[] = []
  let wait: number | undefined
  for (const a of instances) {
    if (room <= 0) break
    if (a.state !== 'pending' || running(a)) continue
    if (a.notBefore !== undefined) {
      const t = Date.parse(a.notBefore)
      if (t > nowMs) {
        if (wait === undefined || t < wait) wait = t
        continue
      }
    }
    due.push(a)
    room--
  }
  return wait === undefined ? { due } : { due, wait }
}

/** The step model an instance runs: the fanned step under the instance's name. */
export function instanceStep(step: StepModel, name: string): StepModel {
  return { ...step, name }
}

/** A workflow's steps by name and each step's ancestors, made once per workflow object (scopes are cached per run). */
const indexes = new WeakMap<WorkflowResource, { byName: Map<string, StepModel>; ancestors: Map<string, Set<string>> }>()

function indexOf(workflow: WorkflowResource) {
  let ix = indexes.get(workflow)
  // The finally steps too: they run through the same machinery once the DAG is over.
  if (!ix) indexes.set(workflow, (ix = { byName: new Map([...workflow.workflow.dag, ...(workflow.workflow.finally ?? [])].map((s) => [s.name, s])), ancestors: new Map() }))
  return ix
}

export function stepIndex(workflow: WorkflowResource): Map<string, StepModel> {
  return indexOf(workflow).byName
}

export function ancestorsCache(workflow: WorkflowResource): Map<string, Set<string>> {
  return indexOf(workflow).ancestors
}

const dependentsIndexes = new WeakMap<WorkflowResource, Map<string, StepModel[]>>()

/** Each DAG step's name → the DAG steps that depend on it (finally steps not among either), made once per workflow. */
export function dagDependents(workflow: WorkflowResource): Map<string, StepModel[]> {
  let ix = dependentsIndexes.get(workflow)
  if (!ix) {
    const dag = workflow.workflow.dag
    ix = new Map(dag.map((s) => [s.name, dag.filter((d) => d.depends.includes(s.name))]))
    dependentsIndexes.set(workflow, ix)
  }
  return ix
}

/**
 * The attempts that may start now, in manifest order (a fanned step's instances in its place): the plain
 * steps ready (`readyPlain`, their condition held) whose backoff is over, and each expanded fanned step's
 * due instances. Also the run's running attempts (a fanned step's own row is none) and the earliest backoff.
 */
export function dueAttempts(
  steps: readonly StepModel[],
  view: RunView,
  readyPlain: ReadonlySet<string>,
  isRunning: (a: StepRunRecord) => boolean,
  nowMs: number,
): { due: { step: StepModel; row: StepRunRecord }[]; running: number; wait?: number } {
  let wait: number | undefined
  let running = 0
  const due: { step: StepModel; row: StepRunRecord }[] = []
  for (const step of steps) {
    const row = view.steps.get(step.name)
    if (!row) continue
    if (readyPlain.has(step.name)) {
      const t = row.notBefore === undefined ? 0 : Date.parse(row.notBefore)
      if (t <= nowMs) due.push({ step, row })
      else if (wait === undefined || t < wait) wait = t
    } else if (isFanned(step) && row.state === 'running') {
      const instances = view.instances.get(step.name) ?? []
      running += instances.filter(isRunning).length
      const r = dueInstances(step, instances, isRunning, nowMs)
      for (const a of r.due) due.push({ step: instanceStep(step, a.step), row: a })
      if (r.wait !== undefined && (wait === undefined || r.wait < wait)) wait = r.wait
    } else if (isRunning(row)) running++
  }
  return wait === undefined ? { due, running } : { due, running, wait }
}
