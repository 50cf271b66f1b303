// Static checks of projection templates (used by lint and on apply) and the
// default projections every template can read.

import { CtlError } from '../errors.js'
import type { ResourceMeta } from '../manifest/model.js'
import type { RunContext } from '../stack/run-context.js'
import { templateReferences, type TemplateReference } from '../stack/template.js'
import { didYouMean } from '../stack/validate.js'

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
  }
}

/** References of a projection template, each either a secret key or a default projection. */
export type ProjectionReference =
  | { kind: 'secret'; alias: string; key: string; text: string }
  | { kind: 'default'; name: string; text: string }

function classify(ref: TemplateReference, aliases: ReadonlySet<string>): ProjectionReference | string {
  // Inside with/range a path is relative to another value; only top-level paths name things.
  if (ref.base === 'nested' || ref.base === 'var') return ''
  const [head, second, third, ...rest] = ref.segments
  if (head === 'secrets') {
    if (second === undefined) return `"${ref.text}" must name a secret alias and key, e.g. .secrets.app.API_TOKEN`
    if (!aliases.has(second)) {
      const declared = [...aliases].sort()
      if (declared.length === 0) return `unknown secret alias "${second}"; no secrets are declared`
      const hint = didYouMean(second, declared)
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
      const hint = didYouMean(second, DEFAULT_PROJECTIONS)
      return `unknown default projection "${second}"${hint ? `; did you mean "${hint}"?` : ''}; known: ${DEFAULT_PROJECTIONS.join(', ')}`
    }
    return { kind: 'default', name: second, text: ref.text }
  }
  return `unknown reference "${ref.text}"; projection templates can use .secrets.<alias>.<KEY> and .defaultProjections.<name>`
}

/**
 * Problems of one projection template, empty when it is fine: syntax errors,
 * unknown secret aliases, unknown default projections, any other reference.
 */
export function checkTemplate(template: string, declaredAliases: ReadonlySet<string>): string[] {
  let refs: TemplateReference[]
  try {
    refs = templateReferences(template, { code: 'E_PROJECTION', what: 'projection template' })
  } catch (err) {
    return [err instanceof CtlError ? err.message.replace(/^projection template: /, '') : String(err)]
  }
  const problems: string[] = []
  for (const ref of refs) {
    const r = classify(ref, declaredAliases)
    if (typeof r === 'string' && r !== '' && !problems.includes(r)) problems.push(r)
  }
  return problems
}

/** The secret and default-projection references of a template (which must already pass checkTemplate). */
export function projectionReferences(template: string, declaredAliases: ReadonlySet<string>): ProjectionReference[] {
  const out: ProjectionReference[] = []
  for (const ref of templateReferences(template, { code: 'E_PROJECTION', what: 'projection template' })) {
    const r = classify(ref, declaredAliases)
    if (typeof r === 'string') {
      if (r !== '') throw new CtlError('E_PROJECTION', `projection template: ${r}`)
    } else {
      out.push(r)
    }
  }
  return out
}
