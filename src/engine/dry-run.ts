// What a dry run shows of a workflow's steps once the run's values are in: each step rendered with
// the given params (renderStepValues, as the engine does at launch), and for a step that fans out one
// example instance, named as the engine names it, with its first item or matrix combination. Values
// that only exist at run time (other steps' outputs, items computed from them) show as placeholders.
import type { V1ConfigMap, V1Pod, V1Secret } from '@kubernetes/client-node'
import { CtlError } from '../errors.js'
import { evaluateItems } from '../expr/index.js'
import { instanceName, matrixCombinations } from '../manifest/fanout.js'
import type { ParamSpec, ParamType, StepModel, WorkflowResource } from '../manifest/model.js'
import { resolveParams } from '../manifest/params.js'
import { resolveWorkflowPods, type ResolveStepOptions } from '../stack/resolve.js'
import { instanceStep } from './fanout-run.js'
import { templateReferences } from '../template/template.js'
import { renderStepValues, stepTemplateStrings, type StepValues } from '../stack/values.js'

export interface DryRunStep {
  /** The step as declared. */
  declared: StepModel
  /** Rendered; for a fanned-out step the example instance (its name is the instance's). */
  step: StepModel
  /** What the example instance stands for, or why there is none. */
  note?: string
}

export interface DryRunParams {
  /** Resolved params; required ones not given read `<param:NAME>`, secret ones `<secret:params/NAME>` (never printed). */
  values: Record<string, unknown>
  /** Required params that were not given. */
  missing: string[]
}

/** The params a dry run renders with: the given ones checked against the declarations (E_PARAMS), defaults filled in. */
export function dryRunParams(decls: readonly ParamSpec[] | undefined, given: Record<string, unknown>): DryRunParams {
  const missing = (decls ?? []).filter((d) => d.required && d.default === undefined && !Object.hasOwn(given, d.name)).map((d) => d.name)
  const values = resolveParams((decls ?? []).filter((d) => !missing.includes(d.name)), given)
  for (const name of missing) values[name] = `<param:${name}>`
  // As projections show `<secret:ID/KEY>` in a dry run: the shape, never the value.
  for (const d of decls ?? []) if (d.secret && Object.hasOwn(values, d.name)) values[d.name] = `<secret:params/${d.name}>`
  return { values, missing }
}

/** `.steps.S.outputs.K` references of a step, each filled with `<steps.S.outputs.K>`: outputs do not exist before a run. */
function placeholderSteps(step: StepModel): Record<string, unknown> {
  const steps: Record<string, unknown> = {}
  for (const text of stepTemplateStrings(step)) {
    for (const ref of templateReferences(text, { what: `step "${step.name}"` })) {
      if ((ref.base !== 'dot' && ref.base !== 'root') || ref.segments[0] !== 'steps' || ref.segments.length < 2) continue
      let node = steps
      const path = ref.segments.slice(1)
      path.forEach((seg, i) => {
        if (i === path.length - 1) {
          if (!Object.hasOwn(node, seg)) node[seg] = `<steps.${path.join('.')}>`
        } else {
          if (typeof node[seg] !== 'object' || node[seg] === null) node[seg] = {}
          node = node[seg] as Record<string, unknown>
        }
      })
    }
  }
  return steps
}

export function dryRunSteps(workflow: WorkflowResource, params: Record<string, unknown>, workspace: string): DryRunStep[] {
  const paramTypes: Record<string, ParamType> = Object.fromEntries((workflow.workflow.params ?? []).map((d) => [d.name, d.type]))
  const fin = new Set((workflow.workflow.finally ?? []).map((s) => s.name))
  return [...workflow.workflow.dag, ...(workflow.workflow.finally ?? [])].map((declared): DryRunStep => {
    const shown = example(declared)
    // A condition is decided at run time, once the step's dependencies are done.
    if (declared.when) shown.note = [shown.note, `runs only when ${declared.when}`].filter(Boolean).join('; ')
    if (fin.has(declared.name)) shown.note = [`finally: runs after the DAG (shown as if it succeeded)`, shown.note].filter(Boolean).join('; ')
    return shown
  })

  function example(declared: StepModel): DryRunStep {
    // `.workflow.status` as a finally step would read it after a DAG that succeeded; `Running` in the DAG.
    const status = fin.has(declared.name) ? 'Succeeded' : 'Running'
    const values: StepValues = { params, steps: placeholderSteps(declared), workflow: { name: workflow.meta.name, status } }
    // Named as the engine names the instance it runs (instanceStep), so the Pod shown is the Pod it starts.
    const render = (extra: Partial<StepValues>, name: string) => instanceStep(renderStepValues(declared, { ...values, ...extra }), name)
    if (declared.matrix) {
      const combos = matrixCombinations(declared.matrix)
      const first = combos[0]
      // Still rendered (with placeholders) so that the step's templates are checked all the same.
      if (!first) return { declared, step: render({ matrix: {} }, declared.name), note: 'matrix yields no combination: no instance runs' }
      return { declared, step: render({ matrix: first }, instanceName(declared.name, { matrix: first })), note: `example instance 1 of ${combos.length} (matrix ${JSON.stringify(first)})` }
    }
    if (declared.forEach) {
      const source = declared.forEach.items
      let items: unknown[] | undefined
      if (Array.isArray(source)) items = source
      else {
        try {
          items = evaluateItems(source, { params, steps: {}, workflow: { name: workflow.meta.name, workspace, runId: 'dry-run', trigger: 'apply' }, paramTypes })
        } catch (err) {
          // Items from another step's outputs: they only exist once that step ran.
          if (!(err instanceof CtlError) || !/\bsteps\b/.test(source)) throw err
        }
      }
      const name = instanceName(declared.name, { index: 0 })
      if (items === undefined) {
        const item = `<item of ${source}>`
        return { declared, step: render({ item, index: 0 }, name), note: `example instance with a placeholder item: the items (${source}) come from another step's outputs, which do not exist at dry run` }
      }
      if (items.length === 0) return { declared, step: render({ item: '<no item>', index: 0 }, declared.name), note: 'forEach over an empty list: no instance runs' }
      return { declared, step: render({ item: items[0], index: 0 }, name), note: `example instance 1 of ${items.length} (item ${JSON.stringify(items[0])})` }
    }
    return { declared, step: renderStepValues(declared, values) }
  }
}

export interface DryRunResolved {
  /** The params the Pods are rendered with (see DryRunParams). */
  params: Record<string, unknown>
  missing: string[]
  /** `step`: as declared; `instance`: the example instance of a fanned-out step. */
  steps: { step: string; instance?: string; note?: string; pod: V1Pod; configMap?: V1ConfigMap; secret?: V1Secret }[]
}

/**
 * The Pods a run of the workflow with these params would start (references mode: no secret value is
 * read), as both dry runs show them: the client's offline, the server's with its stacks and computes.
 */
export async function resolveDryRunWorkflow(
  declared: WorkflowResource,
  given: Record<string, unknown>,
  opts: Omit<ResolveStepOptions, 'run' | 'mode'> & { workspace: string },
): Promise<DryRunResolved> {
  const params = dryRunParams(declared.workflow.params, given)
  const steps = dryRunSteps(declared, params.values, opts.workspace)
  const workflow: WorkflowResource = { ...declared, workflow: { ...declared.workflow, dag: steps.map((s) => s.step) } }
  const resolved = await resolveWorkflowPods(workflow, {
    ...opts,
    run: { runId: 'dry-run', revision: 0, runStartTime: new Date(0).toISOString(), owner: declared.meta.owner ?? 'you', workspace: opts.workspace, dryRun: true },
    mode: 'references',
  })
  return {
    params: params.values,
    missing: params.missing,
    steps: resolved.map((r, i) => {
      const s = steps[i]!
      return {
        step: s.declared.name, ...(s.step.name !== s.declared.name ? { instance: s.step.name } : {}), ...(s.note ? { note: s.note } : {}),
        pod: r.pod, ...(r.configMap ? { configMap: r.configMap } : {}), ...(r.secret ? { secret: r.secret } : {}),
      }
    }),
  }
}
