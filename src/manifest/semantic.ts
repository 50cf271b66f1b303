// Checks a schema cannot express: names, the DAG, schedules, stacks and their
// stackSpec, projection templates, computes, volumes, the data of registry
// (cloud-kernel-image-pull) secrets, duplicates across a batch. Every problem
// is collected; nothing stops at the first.

import { checkFailureHandling } from './failure-rules.js'
import { cronParser } from '../lazy-module.js'
import type { ManifestIssue } from '../errors.js'
import type { ManifestContext, TemplateScope } from './context.js'
import { findCycles } from './cycles.js'
import { checkFlow, flowScopes } from './flow-checks.js'
import { issueAt } from './issues.js'
import { checkLabels } from './labels.js'
import { checkDependencyForms } from './dependencies.js'
import { checkTriggers } from './triggers.js'
import { envNameProblem } from './limits.js'
import {
  NAME_MAX_LENGTH,
  NAME_PATTERN,
  type JsonPath,
  type LoadedDocument,
  type NormalizedDocument,
  type ScheduleSpec,
  type SecretResource,
  type StepModel,
  type WorkflowResource,
} from './model.js'
import { PULL_SECRET_TYPE, pullSecretProblems } from './pull-secret.js'
import { suggestionSuffix, unknownMessage } from './suggest.js'
import { systemPathProblem } from './system-paths.js'

/** The projection's default folder (src/projection owns it; manifest sits below projection). */
const DEFAULT_PROJECTION_DIR = '/etc/ctl/projection'

type Obj = Record<string, unknown>

export interface SemanticContext extends ManifestContext {
  /** Computes to check against; undefined when unknown (offline), which skips the check. */
  computes?: ReadonlySet<string>
}

export function nameProblem(name: string): string | undefined {
  if (name.length > NAME_MAX_LENGTH) return `is ${name.length} characters long; at most ${NAME_MAX_LENGTH} are allowed`
  if (!NAME_PATTERN.test(name)) return 'must use lowercase letters, digits and "-", and start and end with a letter or digit'
  return undefined
}

/** Every check of one normalized document. `bodyKey` is where its body sits in the raw document. */
export function checkDocument(nd: NormalizedDocument, bodyKey: string, ctx: SemanticContext): ManifestIssue[] {
  const issues: ManifestIssue[] = []
  const { resource, doc } = nd
  const problem = nameProblem(resource.meta.name)
  if (problem) issues.push(issueAt(doc, 'E_NAME', ['name'], `invalid name "${resource.meta.name}": ${problem}`))
  checkLabels(resource.meta, doc, issues)
  if (resource.meta.type === 'workflow') checkTriggers(resource as WorkflowResource, doc, ctx, issues)
  if (resource.meta.type === 'workflow') checkDependencyForms(resource as WorkflowResource, doc, bodyKey, issues)
  if (resource.meta.type === 'workflow') checkWorkflow(resource as WorkflowResource, doc, bodyKey, ctx, issues)
  if (resource.meta.type === 'secret' || resource.meta.type === 'instance-secret') checkSecret(resource as SecretResource, doc, bodyKey, issues)
  if (resource.meta.type === 'stack') checkEnvNames(doc, [bodyKey, 'environmentVars'], issues)
  return issues
}

/** Only registry credentials have a shape to check; other secret types hold any keys. */
function checkSecret(secret: SecretResource, doc: LoadedDocument, bodyKey: string, issues: ManifestIssue[]): void {
  if (secret.secret.type !== PULL_SECRET_TYPE) return
  for (const p of pullSecretProblems(secret.secret)) issues.push(issueAt(doc, 'E_SECRET', [bodyKey, ...p.path], p.message))
}

function checkWorkflow(wf: WorkflowResource, doc: LoadedDocument, bodyKey: string, ctx: SemanticContext, issues: ManifestIssue[]): void {
  const v1 = wf.meta.version === 'v1'
  const dependsKey = v1 ? 'dependencies' : 'depends'
  const steps = wf.workflow.dag
  const indexOf = new Map<string, number>()
  steps.forEach((step, i) => {
    const problem = nameProblem(step.name)
    if (problem) issues.push(issueAt(doc, 'E_NAME', [...step.path, 'name'], `invalid step name "${step.name}": ${problem}`))
    const first = indexOf.get(step.name)
    if (first === undefined) indexOf.set(step.name, i)
    else {
      const at = doc.locate([...steps[first]!.path, 'name'])
      const where = at.line > 0 ? ` (first at line ${at.line})` : ` (first at ${bodyKey}.dag[${first}])`
      issues.push(issueAt(doc, 'E_DUPLICATE_STEP', [...step.path, 'name'], `duplicate step name "${step.name}"${where}`))
    }
  })
  const edges: number[][] = steps.map((step) => {
    const out: number[] = []
    step.depends.forEach((dep, j) => {
      const target = indexOf.get(dep)
      if (target !== undefined) out.push(target)
      else {
        const message = `unknown step "${dep}" in ${dependsKey}${suggestionSuffix(dep, indexOf.keys())}`
        issues.push(issueAt(doc, 'E_UNKNOWN_DEPENDENCY', [...step.path, dependsKey, j], message))
      }
    })
    return out
  })
  for (const cycle of findCycles(edges)) {
    const names = cycle.map((i) => steps[i]!.name)
    issues.push(issueAt(doc, 'E_CYCLE', steps[cycle[0]!]!.path, `dependency cycle: ${names.join(' → ')}`))
  }
  if (wf.workflow.schedule) checkSchedule(wf.workflow.schedule, doc, bodyKey, v1, issues)
  if (wf.workflow.schedule) checkScheduledParams(wf, doc, bodyKey, issues)
  const scopes = flowScopes(wf)
  checkFlow(wf, doc, bodyKey, ctx, scopes, issues)
  const workflowProjectionAliases = v1 ? new Set<string>() : checkProjectionBlock(doc, [bodyKey, 'use', 'projection'], new Set(), ctx, issues, () => scopes.workflow)
  steps.forEach((step, i) => checkStep(step, doc, v1, workflowProjectionAliases, ctx, issues, () => scopes.step(i)))
  // handles: and spec.finally (its steps checked as a DAG of their own): failure-rules.ts.
  if (wf.workflow.finally || steps.some((s) => s.handles)) checkFailureHandling(wf, doc, bodyKey, issues, (fin, out) => checkWorkflow(fin, doc, bodyKey, ctx, out))
}

/** A scheduled run takes no params: each one it needs must have a default. */
function checkScheduledParams(wf: WorkflowResource, doc: LoadedDocument, bodyKey: string, issues: ManifestIssue[]): void {
  wf.workflow.params?.forEach((p, i) => {
    if (!p.required || p.default !== undefined) return
    issues.push(issueAt(doc, 'E_PARAMS', [bodyKey, 'params', i, 'required'],
      `param "${p.name}" is required without a default, but the workflow is scheduled and scheduled runs use the defaults; give it a default`))
  })
}

function checkSchedule(schedule: ScheduleSpec, doc: LoadedDocument, bodyKey: string, v1: boolean, issues: ManifestIssue[]): void {
  const base: JsonPath = [bodyKey, 'schedule']
  let tz: string | undefined = schedule.timezone
  if (!isTimeZone(schedule.timezone)) {
    issues.push(issueAt(doc, 'E_TIMEZONE', [...base, 'timezone'], `unknown time zone "${schedule.timezone}"; use an IANA name such as UTC or Europe/Berlin`))
    tz = undefined
  }
  schedule.crons.forEach((expr, i) => {
    const path: JsonPath = v1 ? [...base, 'cron'] : [...base, 'crons', i]
    const problem = cronProblem(expr, tz)
    if (problem) issues.push(issueAt(doc, 'E_CRON', path, `invalid cron expression "${expr}": ${problem}`))
  })
  if (schedule.endOn !== undefined && !isRfc3339(schedule.endOn)) {
    issues.push(issueAt(doc, 'E_END_ON', [...base, 'endOn'], `endOn "${schedule.endOn}" is not an RFC 3339 time such as 2030-12-31T23:59:59Z`))
  }
}

const zoneCache = new Map<string, boolean>()
export function isTimeZone(zone: string): boolean {
  let ok = zoneCache.get(zone)
  if (ok === undefined) {
    try {
      new Intl.DateTimeFormat(undefined, { timeZone: zone })
      ok = true
    } catch {
      ok = false
    }
    zoneCache.set(zone, ok)
  }
  return ok
}

/** undefined when the expression is valid (5 fields, or 6 with seconds, or a predefined @name). */
export function cronProblem(expr: string, tz?: string): string | undefined {
  const fields = expr.trim().split(/\s+/)
  if (!expr.trim().startsWith('@') && (fields.length < 5 || fields.length > 6)) {
    return `expected 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}`
  }
  try {
    cronParser().CronExpressionParser.parse(expr, tz ? { tz } : {})
    return undefined
  } catch (err) {
    return err instanceof Error ? err.message : String(err)
  }
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/
export function isRfc3339(text: string): boolean {
  const m = RFC3339.exec(text)
  if (!m) return false
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  // A calendar check: Date.parse would roll 2030-02-31 over to March.
  const date = new Date(Date.UTC(y, mo - 1, d))
  return date.getUTCMonth() === mo - 1 && date.getUTCDate() === d && h < 24 && mi < 60 && sec < 61
}

const STACK_REF = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(:[A-Za-z0-9][A-Za-z0-9._-]*)?$/

/** The keys of a raw mapping of environment variables (`envs`, a stack's `environmentVars`). */
function checkEnvNames(doc: LoadedDocument, path: JsonPath, issues: ManifestIssue[]): void {
  const map = getAt(doc.value, path)
  if (!isObj(map)) return
  for (const name of Object.keys(map)) envName(doc, [...path, name], name, issues)
}

function envName(doc: LoadedDocument, path: JsonPath, name: string, issues: ManifestIssue[]): void {
  const problem = envNameProblem(name)
  if (problem) issues.push(issueAt(doc, 'E_SCHEMA', path, problem))
}

function checkStep(
  step: StepModel,
  doc: LoadedDocument,
  v1: boolean,
  workflowAliases: ReadonlySet<string>,
  ctx: SemanticContext,
  issues: ManifestIssue[],
  scope: () => TemplateScope,
): void {
  const specPath: JsonPath = [...step.path, 'spec']
  checkEnvNames(doc, [...specPath, 'envs'], issues)
  if (v1) {
    // dataosSecrets keys consumed as envVars become variable names.
    const dataos = getAt(doc.value, [...specPath, 'dataosSecrets'])
    if (Array.isArray(dataos)) {
      dataos.forEach((s, i) => {
        if (!isObj(s) || s['consumptionType'] === 'propFile') return
        if (typeof s['key'] === 'string') envName(doc, [...specPath, 'dataosSecrets', i, 'key'], s['key'], issues)
        if (Array.isArray(s['keys'])) s['keys'].forEach((k, j) => typeof k === 'string' && envName(doc, [...specPath, 'dataosSecrets', i, 'keys', j], k, issues))
      })
    }
  }
  const { stack: ref } = step.spec
  const refText = ref.version === undefined ? ref.name : `${ref.name}:${ref.version}`
  if (!STACK_REF.test(refText)) {
    issues.push(issueAt(doc, 'E_UNKNOWN_STACK', [...specPath, 'stack'], `invalid stack reference "${refText}"; use NAME or NAME:VERSION`))
  } else {
    const stack = ctx.resolveStack(ref)
    if (!stack) {
      const versions = ctx.stackVersions(ref.name)
      const message =
        versions.length === 0 || ref.version === undefined
          ? `unknown stack "${ref.name}"${versions.length === 0 ? suggestionSuffix(ref.name, ctx.stackNames?.() ?? []) : ''}`
          : `unknown version "${ref.version}" of stack "${ref.name}"; known versions: ${versions.join(', ')}`
      issues.push(issueAt(doc, 'E_UNKNOWN_STACK', [...specPath, 'stack'], message))
    } else {
      let problems: { path: JsonPath; message: string }[]
      try {
        problems = ctx.validateStackSpec(stack, step.spec.stackSpec)
      } catch (err) {
        problems = [{ path: [], message: err instanceof Error ? err.message : String(err) }]
      }
      for (const p of problems) issues.push(issueAt(doc, 'E_STACK_SPEC', [...specPath, 'stackSpec', ...p.path], p.message))
    }
  }
  if (ctx.computes && !ctx.computes.has(step.spec.compute)) {
    issues.push(issueAt(doc, 'E_UNKNOWN_COMPUTE', [...specPath, 'compute'], unknownMessage('compute', step.spec.compute, [...ctx.computes].sort(), 'known computes')))
  }
  step.spec.volumes.forEach((volume, i) => {
    const at: JsonPath = [...specPath, 'use', 'volumes', i]
    if (!volume.directory.startsWith('/')) {
      issues.push(issueAt(doc, 'E_VOLUME', [...at, 'directory'], `volume directory "${volume.directory}" must be an absolute path`))
    } else {
      const problem = systemPathProblem(volume.directory)
      if (problem) issues.push(issueAt(doc, 'E_VOLUME', [...at, 'directory'], `volume directory "${volume.directory}" ${problem}; mount volumes at a folder of their own such as /data`))
    }
    // Resolved inside the volume at run time; one that cannot stay inside is refused here already.
    const sub = volume.subPath
    if (sub !== undefined && (sub.startsWith('/') || sub.split('/').includes('..'))) {
      issues.push(issueAt(doc, 'E_VOLUME', [...at, 'subPath'], `volume subPath "${sub}" must be a relative path inside the volume, without ".."`))
    }
  })
  if (!v1) checkProjectionBlock(doc, [...specPath, 'use', 'projection'], workflowAliases, ctx, issues, scope)
}

/**
 * Checks every template of one raw projection block against the aliases it
 * may use (its own plus `inherited`); returns the aliases it declares.
 */
function checkProjectionBlock(
  doc: LoadedDocument,
  path: JsonPath,
  inherited: ReadonlySet<string>,
  ctx: SemanticContext,
  issues: ManifestIssue[],
  /** What the templates may read of the run; computed only when a template is there. */
  scope: () => TemplateScope,
): Set<string> {
  const block = getAt(doc.value, path)
  const aliases = new Set(inherited)
  if (!isObj(block)) return aliases
  const secrets = Array.isArray(block['secrets']) ? (block['secrets'] as Obj[]) : []
  for (const s of secrets) aliases.add(String(s['contextAlias']))
  const projections = isObj(block['projections']) ? block['projections'] : {}
  const check = (template: unknown, at: JsonPath): void => {
    if (typeof template !== 'string') return
    for (const message of ctx.checkTemplate(template, aliases, scope())) issues.push(issueAt(doc, 'E_PROJECTION', at, message))
  }
  const list = (key: string): unknown[] => (Array.isArray(projections[key]) ? (projections[key] as unknown[]) : [])
  list('envVars').forEach((e, i) => {
    check(isObj(e) ? e['value'] : undefined, [...path, 'projections', 'envVars', i, 'value'])
    if (isObj(e) && typeof e['key'] === 'string') envName(doc, [...path, 'projections', 'envVars', i, 'key'], e['key'], issues)
  })
  list('files').forEach((f, i) => {
    check(isObj(f) ? f['value'] : undefined, [...path, 'projections', 'files', i, 'value'])
    const dir = isObj(f) ? f['directory'] : undefined
    if (typeof dir === 'string' && !dir.startsWith('/')) {
      issues.push(issueAt(doc, 'E_PROJECTION', [...path, 'projections', 'files', i, 'directory'], `projection directory "${dir}" must be an absolute path`))
    } else if (typeof dir === 'string') {
      const problem = systemPathProblem(dir)
      if (problem) {
        const message = `projection directory "${dir}" ${problem}; project files into a folder of their own such as ${DEFAULT_PROJECTION_DIR}`
        issues.push(issueAt(doc, 'E_PROJECTION', [...path, 'projections', 'files', i, 'directory'], message))
      }
    }
  })
  list('arguments').forEach((a, i) => check(a, [...path, 'projections', 'arguments', i]))
  return aliases
}

/** Same type and name (and workspace) twice in one batch. */
export function checkDuplicates(docs: readonly NormalizedDocument[]): { nd: NormalizedDocument; issue: ManifestIssue }[] {
  const issues: { nd: NormalizedDocument; issue: ManifestIssue }[] = []
  const seen = new Map<string, NormalizedDocument>()
  for (const nd of docs) {
    const { type, name, workspace } = nd.resource.meta
    const key = `${type}\0${name}\0${workspace ?? ''}`
    const first = seen.get(key)
    if (!first) {
      seen.set(key, nd)
      continue
    }
    const at = first.doc.locate(['name'])
    const where = at.line > 0 ? `${first.doc.file}:${at.line}` : `${first.doc.file} (document ${first.doc.index + 1})`
    issues.push({ nd, issue: issueAt(nd.doc, 'E_DUPLICATE_RESOURCE', ['name'], `duplicate resource: ${type} "${name}" is also defined at ${where}`) })
  }
  return issues
}

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function getAt(root: unknown, path: JsonPath): unknown {
  let node = root
  for (const part of path) {
    if (typeof part === 'number') node = Array.isArray(node) ? node[part] : undefined
    else node = isObj(node) ? node[part] : undefined
  }
  return node
}
