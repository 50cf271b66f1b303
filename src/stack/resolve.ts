// resolveStep(): one step of a workflow → its Pod (with ConfigMap, Secret, pull secrets), the stack and compute
// looked up in the catalog, the stackSpec checked against the stack, the projection rendered. The one path
// for the dry runs (client and server), apply's dry run and every launch, so a bad step fails with the same
// error whichever of them meets it.
import { CtlError } from '../errors.js'
import { formatPath, type ComputeSpec, type StackDefinition, type StepModel, type WorkflowResource } from '../manifest/model.js'
import { defaultProjectionValues } from '../projection/check.js'
import { renderProjection, type ProjectionMode, type RenderedProjection } from '../projection/render.js'
import type { SecretValueProvider } from '../projection/secrets.js'
import type { RunContext } from '../template/run-context.js'
import { BUILTIN_COMPUTES, resolvePodTemplate, type ResolvedStep } from './pod.js'
import type { StackRegistry } from './registry.js'
import { validateStackSpec } from './validate.js'

/** What a step is resolved against: a Catalog (src/stack/catalog.ts), or its two parts. */
export interface StepCatalog {
  stacks: StackRegistry
  /** Applied computes; the built-in ones are always known. */
  computes: ReadonlyMap<string, ComputeSpec>
}

export interface ResolveStepOptions {
  catalog: StepCatalog
  run: RunContext
  secrets: SecretValueProvider
  /** 'values' at launch (real secret values), 'references' in dry runs (no value read). */
  mode: ProjectionMode
  claimNameFor?: (volumeId: string) => string
  /** What of the stack's part may stay in memory: PodTemplateInput.keep. */
  keep?: 'step' | 'nothing'
}

/** The step's stack and compute, or the error every path gives: E_UNKNOWN_STACK, E_STACK_SPEC, E_UNKNOWN_COMPUTE. */
export function lookupStep(step: StepModel, catalog: StepCatalog): { stack: StackDefinition; compute: ComputeSpec } {
  const details = { step: step.name, path: formatPath(step.path) }
  const ref = step.spec.stack
  const stack = catalog.stacks.resolve(ref)
  if (!stack) {
    const known = catalog.stacks.versions(ref.name)
    const hint = known.length ? `; known versions: ${known.join(', ')}` : ''
    throw new CtlError('E_UNKNOWN_STACK', `step "${step.name}": unknown stack "${ref.version ? `${ref.name}:${ref.version}` : ref.name}"${hint}`, details)
  }
  // Checked at lint too, but the stack may have changed since (a newer version applied): checked again here.
  const issues = validateStackSpec(stack, step.spec.stackSpec)
  if (issues.length) {
    const lines = issues.map((i) => `${i.message} (${formatPath([...step.path, 'spec', 'stackSpec', ...i.path])})`)
    throw new CtlError('E_STACK_SPEC', `step "${step.name}": stackSpec does not fit stack "${stack.name}:${stack.version}": ${lines.join('; ')}`, { ...details, issues })
  }
  const compute = catalog.computes.get(step.spec.compute) ?? BUILTIN_COMPUTES.get(step.spec.compute)
  if (!compute) throw new CtlError('E_UNKNOWN_COMPUTE', `step "${step.name}": unknown compute "${step.spec.compute}"`, details)
  return { stack, compute }
}

export async function resolveStep(workflow: WorkflowResource, step: StepModel, opts: ResolveStepOptions): Promise<{ resolved: ResolvedStep; projection: RenderedProjection }> {
  const { stack, compute } = lookupStep(step, opts.catalog)
  const projection = await renderProjection(step.spec.projection, {
    workspace: opts.run.workspace,
    defaults: defaultProjectionValues(opts.run, step.name, workflow.meta),
    secrets: opts.secrets,
    mode: opts.mode,
  })
  const resolved = resolvePodTemplate({ workflow, step, stack, compute, run: opts.run, projection, claimNameFor: opts.claimNameFor, keep: opts.keep })
  return { resolved, projection }
}

/** Every step of a workflow's DAG, in order, through resolveStep. */
export async function resolveWorkflowPods(workflow: WorkflowResource, opts: ResolveStepOptions): Promise<ResolvedStep[]> {
  const out: ResolvedStep[] = []
  for (const step of workflow.workflow.dag) out.push((await resolveStep(workflow, step, opts)).resolved)
  return out
}
