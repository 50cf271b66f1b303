// Renders the run's values (`{{.params.X}}`, `{{.steps.S.outputs.K}}`, `{{.item}}`, `{{.index}}`,
// `{{.matrix.AXIS}}`) into one step, before its Pod is resolved: every string of stackSpec, the
// values of envs, and the projection's envVars, files and arguments. The engine calls it at launch
// and the dry run calls it too, so both show the same thing. Strict like every template here: a
// reference to a value that is not there is an error naming it, never an empty string.
//
// Projection templates are rendered twice: here for the values, later by the projection renderer for
// `.secrets` and `.defaultProjections`, whose references this pass leaves in place as written.

import { randomBytes } from 'node:crypto'
import { CtlError } from '../errors.js'
import type { MatrixValue, ProjectionSpec, StepModel } from '../manifest/model.js'
import { positionOf } from '../template/parse.js'
import { renderTemplate, templateReferences, type TemplateErrorCode, type TemplateReference } from '../template/template.js'

/** What a step's templates can read besides secrets and default projections. */
export interface StepValues {
  params: Record<string, unknown>
  /** `steps.S.outputs` per finished ancestor; a list of output maps for a fanned-out step. */
  steps: Record<string, unknown>
  /** Only in a forEach instance. */
  item?: unknown
  /** Only in a forEach instance: the item's position, from 0. */
  index?: number
  /** Only in a matrix instance. */
  matrix?: Record<string, MatrixValue>
  /** `.workflow.name`, and `.workflow.status` (how the DAG ended: what a finally step reports). */
  workflow?: { name: string; status: string }
}

/** Top-level names a value reference starts with. */
export const VALUE_ROOTS = ['params', 'steps', 'item', 'index', 'matrix', 'workflow'] as const
/** Top-level names the projection renderer resolves; left for it in projection templates. */
const PROJECTION_ROOTS = ['secrets', 'defaultProjections']

function contextOf(values: StepValues): Record<string, unknown> {
  // Absent keys stay absent so that `.item` outside a forEach is an unresolved reference.
  const ctx: Record<string, unknown> = { params: values.params, steps: values.steps }
  if (values.item !== undefined) ctx.item = values.item
  if (values.index !== undefined) ctx.index = values.index
  if (values.matrix !== undefined) ctx.matrix = values.matrix
  if (values.workflow !== undefined) ctx.workflow = values.workflow
  return ctx
}

function isTemplate(s: string): boolean {
  return s.includes('{{')
}

/** A reference that names a top-level value (not one relative to a with/range dot). */
function rootOf(ref: TemplateReference): string | undefined {
  return ref.base === 'dot' || ref.base === 'root' ? ref.segments[0] : undefined
}

/** Text that the projection renderer prints as is: `{{` would otherwise start an action there. */
function asLiteralTemplate(text: string): string {
  return text.replaceAll('{{', '{{"{{"}}')
}

export interface Where { code: TemplateErrorCode; what: string }

function renderValueString(source: string, ctx: Record<string, unknown>, where: Where): string {
  return renderTemplate(source, ctx, where)
}

/** One text with the run's values rendered (an approval's message); plain text comes back as is. */
export function renderValuesText(source: string, values: StepValues, where: Where): string {
  return isTemplate(source) ? renderValueString(source, contextOf(values), where) : source
}

/**
 * A projection template with its value references rendered and its `.secrets` / `.defaultProjections`
 * references kept as written. Those must then be plain actions (`{{ .secrets.app.KEY }}`): a secret
 * piped into a function, or tested by `if`, cannot be kept apart from the values around it.
 */
export function renderProjectionValues(source: string, values: StepValues, where: Where): string {
  if (!isTemplate(source)) return source
  const refs = templateReferences(source, where)
  const valueRefs = refs.filter((r) => (VALUE_ROOTS as readonly string[]).includes(rootOf(r) ?? ''))
  if (valueRefs.length === 0) return source
  const kept = refs.filter((r) => PROJECTION_ROOTS.includes(rootOf(r) ?? ''))
  const ctx = contextOf(values)
  if (kept.length === 0) return asLiteralTemplate(renderValueString(source, ctx, where))

  // Each kept reference renders as a sentinel, put back as `{{<reference>}}` once the values are in.
  const nonce = randomBytes(6).toString('hex')
  const sentinel = (i: number) => `\u0000ctl${nonce}r${i}\u0000`
  for (const [i, ref] of kept.entries()) {
    const before = source.slice(0, ref.offset)
    const after = source.slice(ref.offset + ref.text.length)
    if (!/\{\{-?\s*$/.test(before) || !/^\s*-?\}\}/.test(after)) {
      const p = positionOf(source, ref.offset)
      throw new CtlError(
        where.code,
        `${where.what}: "${ref.text}" at ${p.line}:${p.column} must stand alone as {{ ${ref.text} }} in a template that also uses .params, .steps, .item, .index or .matrix`,
        { reference: ref.text, line: p.line, column: p.column },
      )
    }
    // Build the path to the sentinel so the strict lookup finds it.
    let node = ctx as Record<string, unknown>
    const path = ref.segments
    for (let s = 0; s < path.length - 1; s++) {
      const seg = path[s]!
      // Only secrets/defaultProjections are built here; the value roots are never written to.
      if (node[seg] === null || typeof node[seg] !== 'object') node[seg] = {}
      node = node[seg] as Record<string, unknown>
    }
    node[path[path.length - 1]!] = sentinel(i)
  }
  const rendered = asLiteralTemplate(renderValueString(source, ctx, where))
  return rendered.replace(new RegExp(`\u0000ctl${nonce}r(\\d+)\u0000`, 'g'), (_all, i: string) => `{{ ${kept[Number(i)]!.text} }}`)
}

function renderDeep(node: unknown, ctx: Record<string, unknown>, where: (path: string) => Where, path: string): unknown {
  if (typeof node === 'string') return isTemplate(node) ? renderValueString(node, ctx, where(path)) : node
  if (Array.isArray(node)) {
    let changed = false
    const out = node.map((v, i) => {
      const r = renderDeep(v, ctx, where, `${path}[${i}]`)
      if (r !== v) changed = true
      return r
    })
    return changed ? out : node
  }
  if (node !== null && typeof node === 'object') {
    let changed = false
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(node)) {
      const r = renderDeep(v, ctx, where, `${path}.${k}`)
      if (r !== v) changed = true
      out[k] = r
    }
    return changed ? out : node
  }
  return node
}

/**
 * The step with the run's values rendered into it (see the file comment). Pure; returns the same
 * step object when nothing in it is a template, so steps without values cost one walk.
 */
export function renderStepValues(step: StepModel, values: StepValues): StepModel {
  const ctx = contextOf(values)
  const at = (part: string, code: TemplateErrorCode = 'E_STACK_TEMPLATE'): Where => ({ code, what: `step "${step.name}": ${part}` })

  const stackSpec = renderDeep(step.spec.stackSpec, ctx, (p) => at(`stackSpec${p}`), '') as Record<string, unknown>
  let envs = step.spec.envs
  for (const [k, v] of Object.entries(step.spec.envs)) {
    if (!isTemplate(v)) continue
    if (envs === step.spec.envs) envs = { ...envs }
    envs[k] = renderValueString(v, ctx, at(`envs.${k}`))
  }
  const pj = step.spec.projection
  const pv = (text: string, part: string) => renderProjectionValues(text, values, at(part, 'E_PROJECTION'))
  const envVars = pj.envVars.map((e) => {
    const value = pv(e.value, `projection envVar "${e.key}"`)
    return value === e.value ? e : { ...e, value }
  })
  const files = pj.files.map((f) => {
    const value = pv(f.value, `projection file "${f.name}"`)
    return value === f.value ? f : { ...f, value }
  })
  const args = pj.arguments.map((a, i) => pv(a, `projection argument ${i}`))
  const projectionChanged = envVars.some((e, i) => e !== pj.envVars[i]) || files.some((f, i) => f !== pj.files[i]) || args.some((a, i) => a !== pj.arguments[i])

  if (stackSpec === step.spec.stackSpec && envs === step.spec.envs && !projectionChanged) return step
  const projection: ProjectionSpec = projectionChanged ? { ...pj, envVars, files, arguments: args } : pj
  return { ...step, spec: { ...step.spec, stackSpec, envs, projection } }
}

/** Every string of a step that renderStepValues treats as a template (for dry runs: what they reference). */
export function stepTemplateStrings(step: StepModel): string[] {
  const out: string[] = []
  const walk = (node: unknown): void => {
    if (typeof node === 'string') {
      if (isTemplate(node)) out.push(node)
    } else if (Array.isArray(node)) node.forEach(walk)
    else if (node !== null && typeof node === 'object') Object.values(node).forEach(walk)
  }
  walk(step.spec.stackSpec)
  walk(Object.values(step.spec.envs))
  const pj = step.spec.projection
  walk([...pj.envVars.map((e) => e.value), ...pj.files.map((f) => f.value), ...pj.arguments])
  return out
}

const templated = new WeakMap<StepModel, boolean>()

/**
 * Whether renderStepValues can change the step (it has a template string): without one, the run's values need not be
 * gathered for its launch (in a deep DAG, every ancestor's outputs). Remembered per step object (the workflow's).
 */
export function hasStepTemplates(step: StepModel): boolean {
  let has = templated.get(step)
  if (has === undefined) templated.set(step, (has = stepTemplateStrings(step).length > 0))
  return has
}
