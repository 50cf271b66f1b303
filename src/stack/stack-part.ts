// What a step's container gets from its stack's own templates (image, command, arguments, containerResourceTemplate,
// environmentVars, configFileTemplate), rendered against stackTemplateContext: no projection, no secret. Every step of
// a 200-step DAG with the same stack and stackSpec renders the same part, so a launch reuses it (resolvePodTemplate
// asks for that only for a step as stored: a step with run values rendered into it, which may be secret params, is
// rendered afresh and nothing of it is remembered).
//
// Kept per stack definition object (a WeakMap): a stack applied anew, or replaced, is a new object (the catalog is
// read afresh from the store), so a part rendered for an older definition is never served, and goes with it. Within a
// stack the key is everything the templates can see: the workspace always, the stackSpec and the other inputs of
// ApplicationSpec, and those run facts (run id, step name, workflow name…) the stack's templates name. Only parts
// that rendered without error are kept: an error names the step, and is thrown again for each.

import type { V1VolumeMount } from '@kubernetes/client-node'
import { CtlError } from '../errors.js'
import type { StackDefinition, StepModel, WorkflowResource } from '../manifest/model.js'
import type { RunContext } from '../template/run-context.js'
import { renderStackText, renderTemplate, renderYamlOnce, renderYamlTemplate, referencedKeys } from '../template/template.js'
import { isRecord, shortRunId } from './pod-parts.js'
import { applyStackSpecDefaults } from './validate.js'

export interface StackPart {
  /** The rendered image; '' when the template renders nothing (the merged template may still set one). */
  image: string
  command: string[]
  args: string[]
  /** The containerResourceTemplate's fields but env, volumeMounts and name (cloned out for each Pod). */
  shaped: Record<string, unknown>
  /** Its env: checked to be a list of {name, …}; absent when the template has none. */
  shapedEnv?: Record<string, unknown>[]
  shapedMounts?: unknown
  /** environmentVars, rendered, in declaration order. */
  env: [name: string, value: string][]
  /** configFileTemplate, rendered, in declaration order; files that rendered only whitespace left out. */
  files: [name: string, content: string][]
}

export interface StackPartInput {
  workflow: WorkflowResource
  step: StepModel
  stack: StackDefinition
  run: RunContext
}

/** The values stack templates see, as DataOS names them. */
function stackTemplateContext(input: StackPartInput): Record<string, unknown> {
  const { workflow, step, stack, run } = input
  return {
    Name: workflow.meta.name,
    Workspace: run.workspace,
    Type: 'workflow',
    Stamp: shortRunId(run.runId),
    RunId: run.runId,
    StepName: step.name,
    ApplicationSpec: {
      StackSpec: applyStackSpecDefaults(stack, step.spec.stackSpec),
      LogLevel: step.spec.logLevel ?? 'INFO',
      EnvironmentVars: step.spec.envs,
      Compute: step.spec.compute,
      Resources: step.spec.resources ?? {},
    },
  }
}

/**
 * Renders the stack's part of a step's container, in the order resolvePodTemplate always checked it (the first
 * problem is the one reported). `what` words a problem; `details` go with it. `remember`: the template renders may be
 * kept (renderStackText, renderYamlTemplate); not for a step with run values rendered into it.
 */
export function renderStackPart(input: StackPartInput, what: (part: string) => string, details: Record<string, unknown>, remember = true): StackPart {
  const { stack } = input
  const ctx = stackTemplateContext(input)
  const text = (source: string, part: string) => (remember ? renderStackText : renderTemplate)(source, ctx, { what: what(part) })
  const yamlTree = remember ? renderYamlTemplate : renderYamlOnce
  const image = text(stack.image, 'image')
  const command = stack.command.map((c, i) => text(c, `command[${i}]`))
  const args = stack.arguments.map((a, i) => text(a, `arguments[${i}]`))
  let tree: Record<string, unknown> = {}
  if (stack.workflowJobConfig.containerResourceTemplate) {
    const rendered = yamlTree(stack.workflowJobConfig.containerResourceTemplate, ctx, { what: what('containerResourceTemplate') })
    if (rendered !== null && rendered !== undefined && !isRecord(rendered)) {
      throw new CtlError('E_STACK_TEMPLATE', `${what('containerResourceTemplate')} must render a YAML mapping of container fields`, details)
    }
    tree = rendered ?? {}
  }
  const { env: shapedEnv, volumeMounts: shapedMounts, name: _ignoredName, ...shaped } = tree
  // The image the container ends with: the template's wins over the stack's (a deep merge of plain values).
  const finalImage = 'image' in shaped ? shaped.image : image || undefined
  if (typeof finalImage !== 'string' || finalImage === '') throw new CtlError('E_STACK_TEMPLATE', `${what('image')} renders no image`, details)
  const env = Object.entries(stack.environmentVars).map(([k, v]): [string, string] => [k, text(v, `environmentVars.${k}`)])
  if (shapedEnv !== undefined && (!Array.isArray(shapedEnv) || !shapedEnv.every((e) => isRecord(e) && typeof e.name === 'string'))) {
    throw new CtlError('E_STACK_TEMPLATE', `${what('containerResourceTemplate')}: env must be a list of {name, value}`, details)
  }
  const files: [string, string][] = []
  for (const [file, source] of Object.entries(stack.workflowJobConfig.configFileTemplate ?? {})) {
    const content = text(source, `configFileTemplate "${file}"`)
    // A file whose template renders nothing (an optional input left out) is not created.
    if (content.trim() !== '') files.push([file, content])
  }
  const part: StackPart = { image, command, args, shaped, env, files }
  if (shapedEnv !== undefined) part.shapedEnv = shapedEnv as Record<string, unknown>[]
  if (shapedMounts !== undefined) part.shapedMounts = shapedMounts as V1VolumeMount[]
  return part
}

/** Run facts by their context name (ApplicationSpec is keyed by its inputs, Workspace always). */
type Fact = (input: StackPartInput) => string
const FACTS: Record<string, Fact> = {
  Name: (i) => i.workflow.meta.name,
  Type: () => 'workflow',
  Stamp: (i) => shortRunId(i.run.runId),
  RunId: (i) => i.run.runId,
  StepName: (i) => i.step.name,
}

/** The run facts a stack's templates read (all of them when one reads the whole context); undefined: one does not parse. */
const factsByStack = new WeakMap<StackDefinition, { facts?: Fact[] }>()

function factsOf(stack: StackDefinition): Fact[] | undefined {
  let known = factsByStack.get(stack)
  if (!known) {
    known = {}
    try {
      const sources = [stack.image, ...stack.command, ...stack.arguments, ...Object.values(stack.environmentVars), ...Object.values(stack.workflowJobConfig.configFileTemplate ?? {})]
      if (stack.workflowJobConfig.containerResourceTemplate) sources.push(stack.workflowJobConfig.containerResourceTemplate)
      const names = new Set<string>()
      let all = false
      for (const source of sources) {
        const keys = referencedKeys(source)
        if (keys === 'all') all = true
        else for (const k of keys) names.add(k)
      }
      known.facts = Object.entries(FACTS).filter(([name]) => all || names.has(name)).map(([, fact]) => fact)
    } catch {
      // A syntax error: never reused, the render reports it for each step.
    }
    factsByStack.set(stack, known)
  }
  return known.facts
}

/** The key of a step's part within its stack, or undefined when it must not be reused. */
function keyOf(input: StackPartInput): string | undefined {
  const facts = factsOf(input.stack)
  if (facts === undefined) return undefined
  const { spec } = input.step
  // The workspace always, read or not: a part is never shared across workspaces.
  return JSON.stringify([input.run.workspace, facts.map((f) => f(input)), spec.stackSpec, spec.logLevel ?? 'INFO', spec.envs, spec.compute, spec.resources ?? {}])
}

const PARTS_PER_STACK = 256
const parts = new WeakMap<StackDefinition, Map<string, StackPart>>()

/** renderStackPart, reusing a part rendered before for the same stack object and key. Never change what it returns. */
export function reusableStackPart(input: StackPartInput, what: (part: string) => string, details: Record<string, unknown>): StackPart {
  const key = keyOf(input)
  if (key === undefined) return renderStackPart(input, what, details)
  let byKey = parts.get(input.stack)
  const hit = byKey?.get(key)
  if (hit) return hit
  const part = renderStackPart(input, what, details)
  if (!byKey) parts.set(input.stack, (byKey = new Map()))
  if (byKey.size >= PARTS_PER_STACK) byKey.delete(byKey.keys().next().value as string)
  byKey.set(key, part)
  return part
}

/** How many parts are kept for a stack definition (tests: what is remembered, and what never is). */
export function heldStackParts(stack: StackDefinition): number {
  return parts.get(stack)?.size ?? 0
}
