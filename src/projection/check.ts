// Static checks of projection templates (used by lint and on apply) and the
// default projections every template can read.

import { CtlError } from '../errors.js'
import type { TemplateScope } from '../manifest/context.js'
import type { ResourceMeta } from '../manifest/model.js'
import type { RunContext } from '../template/run-context.js'
import { templateReferences, type TemplateReference } from '../template/template.js'
import { didYouMean } from '../manifest/suggest.js'

/** Names under `.defaultProjections`. `dataOsRunId` and `runId` are the same value. */
export const DEFAULT_PROJECTIONS = [
  'dataOsRunId',
  'runId',
  'workflowName',
  'stepName',
  'workspace',
  'owner',
  'runStartTime',
  'resourceId',
  'runAttempt',
  'scheduledTime',
] as const
export type DefaultProjectionName = (typeof DEFAULT_PROJECTIONS)[number]

export function defaultProjectionValues(
  ctx: RunContext,
  stepName: string,
  workflow?: Pick<ResourceMeta, 'name' | 'version'>,
): Record<DefaultProjectionName, string> {
  return {
    dataOsRunId: ctx.runId,
    runId: ctx.runId,
    workflowName: workflow?.name ?? '',
    stepName,
    workspace: ctx.workspace,
    owner: ctx.owner,
    runStartTime: ctx.runStartTime,
    resourceId: workflow ? `workflow:${workflow.version}:${workflow.name}:${ctx.workspace}` : '',
    runAttempt: String(ctx.attempt ?? 1),
    // A run without a fire time (manual, apply, retry) stands for its start.
    scheduledTime: ctx.scheduledTime ?? ctx.runStartTime,
  }
}

/** References of a projection template, each either a secret key or a default projection. */
export type ProjectionReference =
  | { kind: 'secret'; alias: string; key: string; text: string }
  | { kind: 'default'; name: string; text: string }

export type { TemplateScope } from '../manifest/context.js'

const FLOW_HEADS = ['params', 'steps', 'item', 'index', 'matrix', 'workflow']
const hintOf = (word: string, known: readonly string[]): string => {
  const hint = didYouMean(word, known, { declared: true })
  return hint ? `; did you mean "${hint}"?` : ''
}

/** A data-flow reference's problem ('' when fine), or undefined when it is no data-flow reference. */
function classifyFlow(ref: TemplateReference, scope: TemplateScope): string | undefined {
  const [head, second, third, fourth, ...rest] = ref.segments
  switch (head) {
    case 'params': {
      if (second === undefined) return `"${ref.text}" must name a param, e.g. .params.NAME`
      const decl = scope.params.find((p) => p.name === second)
      const names = scope.params.map((p) => p.name)
      if (!decl) return `unknown param "${second}"${hintOf(second, names)} (${names.length > 0 ? `declared: ${names.join(', ')}` : 'the workflow declares no params'})`
      if (third !== undefined && decl.type !== 'object' && decl.type !== 'array') return `"${ref.text}": param "${second}" is a ${decl.type} and has no fields`
      return ''
    }
    case 'steps': {
      if (second === undefined || third === undefined) return `"${ref.text}" must name a step's output, e.g. .steps.STEP.outputs.KEY`
      if (!scope.steps.includes(second)) {
        const ancestors = scope.steps.length > 0 ? `its ancestors: ${scope.steps.join(', ')}` : 'it has no ancestors'
        if (scope.allSteps?.includes(second)) {
          return `step "${second}" is not an ancestor of this step, so its outputs do not exist when it runs; add it to depends (${ancestors})`
        }
        return `unknown step "${second}"${hintOf(second, scope.allSteps ?? scope.steps)} (${ancestors})`
      }
      if (third !== 'outputs') return `"${ref.text}": templates read a step's outputs only, as .steps.${second}.outputs.KEY`
      if (scope.fannedOut?.includes(second)) {
        // One value per instance: the whole list renders (as JSON); no single key can be picked.
        if (fourth === undefined) return ''
        return `"${ref.text}": step "${second}" fans out, so .steps.${second}.outputs is the list of its instances' outputs; use the whole list (.steps.${second}.outputs) or pick in CEL`
      }
      if (fourth === undefined) return `"${ref.text}" must name an output key, e.g. .steps.${second}.outputs.KEY`
      if (rest.length > 0) return `"${ref.text}": an output is a string and has no fields`
      return ''
    }
    case 'item':
    case 'index':
      if (scope.fanout !== 'forEach') return `".${head}" exists only in a forEach step${scope.fanout === 'matrix' ? ' (this step has a matrix: use .matrix.AXIS)' : ''}`
      if (head === 'index' && second !== undefined) return `"${ref.text}": .index is a number and has no fields`
      return ''
    case 'matrix': {
      if (scope.fanout !== 'matrix') return `".matrix" exists only in a matrix step${scope.fanout === 'forEach' ? ' (this step has forEach: use .item and .index)' : ''}`
      const axes = scope.matrixAxes ?? []
      if (second === undefined) return `"${ref.text}" must name a matrix axis, e.g. .matrix.${axes[0] ?? 'AXIS'}`
      if (!axes.includes(second)) return `unknown matrix axis "${second}"${hintOf(second, axes)} (axes: ${axes.join(', ')})`
      if (third !== undefined) return `"${ref.text}": a matrix value is a scalar and has no fields`
      return ''
    }
    case 'workflow':
      // `.workflow.status`: how the DAG ended, for finally steps (`Running` before).
      if (second === 'name' || second === 'status') return third === undefined ? '' : `"${ref.text}": .workflow.${second} is a string and has no fields`
      return `"${ref.text}": templates can read .workflow.name and .workflow.status`
    default:
      return undefined
  }
}

function classify(ref: TemplateReference, aliases: ReadonlySet<string>, scope?: TemplateScope): ProjectionReference | string {
  // Inside with/range a path is relative to another value; only top-level paths name things.
  if (ref.base === 'nested' || ref.base === 'var') return ''
  const [head, second, third, ...rest] = ref.segments
  if (scope) {
    const flow = classifyFlow(ref, scope)
    if (flow !== undefined) return flow
    if (!scope.projection && head === 'secrets') {
      return `"${ref.text}": a secret cannot be used in stackSpec or envs, where it would be written into the Pod spec in clear; project it with use.projection (envVars, files or arguments)`
    }
    if (!scope.projection && head === 'defaultProjections') {
      return `"${ref.text}": .defaultProjections is available in projections only (use.projection envVars, files or arguments)`
    }
    if (!scope.projection) {
      return `unknown reference "${ref.text}"; values can use .params.NAME, .steps.STEP.outputs.KEY, .item, .index and .matrix.AXIS`
    }
  }
  if (head === 'secrets') {
    if (second === undefined) return `"${ref.text}" must name a secret alias and key, e.g. .secrets.app.API_TOKEN`
    if (!aliases.has(second)) {
      const declared = [...aliases].sort()
      if (declared.length === 0) return `unknown secret alias "${second}"; no secrets are declared`
      const hint = didYouMean(second, declared, { declared: true })
      return `unknown secret alias "${second}"; declared: ${declared.join(', ')}${hint ? ` (did you mean "${hint}"?)` : ''}`
    }
    if (third === undefined) return `"${ref.text}" must name a key of secret alias "${second}", e.g. .secrets.${second}.KEY`
    if (rest.length) return `"${ref.text}": a secret key has no fields`
    return { kind: 'secret', alias: second, key: third, text: ref.text }
  }
  if (head === 'defaultProjections') {
    if (second === undefined || rest.length || third !== undefined) {
      return `"${ref.text}" must name one default projection: ${DEFAULT_PROJECTIONS.join(', ')}`
    }
    if (!(DEFAULT_PROJECTIONS as readonly string[]).includes(second)) {
      const hint = didYouMean(second, DEFAULT_PROJECTIONS, { declared: true })
      return `unknown default projection "${second}"${hint ? `; did you mean "${hint}"?` : ''}; known: ${DEFAULT_PROJECTIONS.join(', ')}`
    }
    return { kind: 'default', name: second, text: ref.text }
  }
  if (scope) {
    return `unknown reference "${ref.text}"; projection templates can use .secrets.<alias>.<KEY>, .defaultProjections.<name>, .params.NAME, .steps.STEP.outputs.KEY, .item, .index and .matrix.AXIS`
  }
  return `unknown reference "${ref.text}"; projection templates can use .secrets.<alias>.<KEY> and .defaultProjections.<name>`
}

/**
 * Problems of one projection template, empty when it is fine: syntax errors,
 * unknown secret aliases, unknown default projections, any other reference.
 * With a scope, the run's values too (params, ancestors' outputs, item, index, matrix); with
 * `scope.projection` false it checks a stackSpec or envs value, where secrets are refused.
 */
export function checkTemplate(template: string, declaredAliases: ReadonlySet<string>, scope?: TemplateScope): string[] {
  let refs: TemplateReference[]
  try {
    refs = templateReferences(template, { code: 'E_PROJECTION', what: 'projection template' })
  } catch (err) {
    return [err instanceof CtlError ? err.message.replace(/^projection template: /, '') : String(err)]
  }
  const problems: string[] = []
  for (const ref of refs) {
    const r = classify(ref, declaredAliases, scope)
    if (typeof r === 'string' && r !== '' && !problems.includes(r)) problems.push(r)
  }
  return problems
}

/** Problems of a stackSpec or envs value (a template when it holds `{{`): the engine's check before rendering. */
export function checkValueTemplate(template: string, scope: Omit<TemplateScope, 'projection'>): string[] {
  if (!template.includes('{{')) return []
  return checkTemplate(template, new Set(), { ...scope, projection: false })
}

/** The secret and default-projection references of a template (which must already pass checkTemplate). */
export function projectionReferences(template: string, declaredAliases: ReadonlySet<string>): ProjectionReference[] {
  const out: ProjectionReference[] = []
  for (const ref of templateReferences(template, { code: 'E_PROJECTION', what: 'projection template' })) {
    // The run's values (params, outputs, item…) were checked at lint with the step's scope; rendering fills them.
    if (ref.base !== 'nested' && ref.base !== 'var' && FLOW_HEADS.includes(ref.segments[0] ?? '')) continue
    const r = classify(ref, declaredAliases)
    if (typeof r === 'string') {
      if (r !== '') throw new CtlError('E_PROJECTION', `projection template: ${r}`)
    } else {
      out.push(r)
    }
  }
  return out
}
