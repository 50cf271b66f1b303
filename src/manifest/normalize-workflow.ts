// v1 and v2alpha workflows → one WorkflowResource. Everything the two shapes
// say differently (dependencies/depends, cron/crons, secrets/projection) is
// decided here, once, so nothing downstream ever branches on the version.

import type { ManifestIssue } from '../errors.js'
import { issueAt } from './issues.js'
import { durationField, MANIFEST_LIMITS } from './limits.js'
import type {
  ApprovalSpec,
  JsonPath,
  LoadedDocument,
  MatrixValue,
  NetworkMode,
  ParamSpec,
  ParamType,
  ProjectionSpec,
  ResourceMeta,
  ResourceRequirementsSpec,
  RetrySpec,
  RetryStrategy,
  CatchUpPolicy,
  ScheduleSpec,
  StackRef,
  StepModel,
  StepSpec,
  TriggerRule,
  VolumeMountSpec,
  WorkflowResource,
  ConcurrencyPolicy,
} from './model.js'

type Obj = Record<string, unknown>

export const DEFAULT_COMPUTE = 'runnable-default'

export function normalizeWorkflow(
  doc: LoadedDocument,
  meta: ResourceMeta & { type: 'workflow' },
  bodyKey: string,
): { resource: WorkflowResource; issues: ManifestIssue[] } {
  const issues: ManifestIssue[] = []
  const body = (doc.value as Obj)[bodyKey] as Obj
  const v1 = meta.version === 'v1'
  const workflowNetwork = networkOf(body['network'])
  const workflowProjection = v1 ? emptyProjection() : projectionFrom(obj(obj(body['use'])['projection']))
  const rawDag = body['dag'] as Obj[]
  const stepOf = (list: string) => (step: Obj, i: number): StepModel => {
    const path: JsonPath = [bodyKey, list, i]
    const spec = obj(step['spec'])
    const stepProjection = v1 ? v1Projection(doc, path, spec, issues) : projectionFrom(obj(obj(spec['use'])['projection']))
    const stepSpec: StepSpec = {
      stack: parseStackRef(String(spec['stack'])),
      stackSpec: obj(spec['stackSpec']),
      compute: typeof spec['compute'] === 'string' ? spec['compute'] : DEFAULT_COMPUTE,
      envs: stringMap(spec['envs']),
      volumes: volumesFrom(obj(spec['use'])['volumes']),
      projection: mergeProjections(workflowProjection, stepProjection),
    }
    const resources = resourcesFrom(spec['resources'])
    if (resources) stepSpec.resources = resources
    if (typeof spec['runAsUser'] === 'number') stepSpec.runAsUser = spec['runAsUser']
    const network = networkOf(spec['network']) ?? workflowNetwork
    if (network) stepSpec.network = network
    if (typeof spec['logLevel'] === 'string') stepSpec.logLevel = spec['logLevel']
    const model: StepModel = {
      name: String(step['name']),
      depends: strings(step[v1 ? 'dependencies' : 'depends']),
      spec: stepSpec,
      path,
    }
    if (typeof step['title'] === 'string') model.title = step['title']
    if (typeof step['description'] === 'string') model.description = step['description']
    const retry = retryFrom(doc, [...path, 'retry'], step['retry'], issues)
    if (retry) model.retry = retry
    const timeout = timeoutSeconds(doc, path, step['timeout'], step['activeDeadlineSeconds'], issues)
    if (timeout !== undefined) model.timeoutSeconds = timeout
    flowFields(step, model)
    const approval = approvalFrom(doc, [...path, 'approval'], step['approval'], issues)
    if (approval) model.approval = approval
    ruleFields(step, model)
    return model
  }
  const dag = rawDag.map(stepOf('dag'))
  const resource: WorkflowResource = { meta, workflow: { dag } }
  if (typeof body['title'] === 'string') resource.workflow.title = body['title']
  if (Array.isArray(body['triggers'])) resource.workflow.triggers = (body['triggers'] as Obj[]).map((t, i) => triggerFrom(t, [bodyKey, 'triggers', i]))
  const schedule = scheduleFrom(body['schedule'], v1)
  if (schedule) resource.workflow.schedule = schedule
  if (typeof body['parallelism'] === 'number') resource.workflow.parallelism = body['parallelism']
  if (Array.isArray(body['dependencies'])) resource.workflow.dependencies = strings(body['dependencies'])
  if (Array.isArray(body['params'])) resource.workflow.params = (body['params'] as Obj[]).map(paramFrom)
  if (Array.isArray(body['finally'])) resource.workflow.finally = (body['finally'] as Obj[]).map(stepOf('finally'))
  if (typeof body['timeout'] === 'string') {
    const ms = durationField(doc, [bodyKey, 'timeout'], body['timeout'], { what: 'timeout', maxMs: MANIFEST_LIMITS.workflowTimeoutMs }, issues)
    if (ms !== undefined) resource.workflow.timeoutSeconds = Math.ceil(ms / 1000)
  }
  if (typeof body['finallyTimeout'] === 'string') {
    const ms = durationField(doc, [bodyKey, 'finallyTimeout'], body['finallyTimeout'], { what: 'finallyTimeout', maxMs: MANIFEST_LIMITS.finallyTimeoutMs }, issues)
    if (ms !== undefined) resource.workflow.finallyTimeoutSeconds = Math.ceil(ms / 1000)
  }
  return { resource, issues }
}

type Trigger = NonNullable<WorkflowResource['workflow']['triggers']>[number]

// Webhook triggers: the same shape in v1 (under workflow:) and v2alpha (under spec:); lint checks them (triggers.ts).
function triggerFrom(raw: Obj, path: JsonPath): Trigger {
  const hook = obj(raw['webhook'])
  return { name: String(raw['name']), webhook: { secret: String(hook['secret']), params: stringMap(hook['params']) }, path }
}

// Data flow. Only what the manifest says is set: a workflow without it keeps its content hash.
function paramFrom(raw: Obj): ParamSpec {
  const param: ParamSpec = { name: String(raw['name']), type: raw['type'] as ParamType, required: raw['required'] === true }
  if (Object.hasOwn(raw, 'default')) param.default = raw['default']
  if (Array.isArray(raw['enum'])) param.enum = raw['enum']
  if (typeof raw['description'] === 'string') param.description = raw['description']
  if (typeof raw['secret'] === 'boolean') param.secret = raw['secret']
  return param
}

function flowFields(step: Obj, model: StepModel): void {
  if (typeof step['when'] === 'string') model.when = step['when']
  if (step['forEach'] !== undefined) {
    const f = obj(step['forEach'])
    const items = f['items']
    model.forEach = { items: Array.isArray(items) ? items : String(items) }
    if (typeof f['parallelism'] === 'number') model.forEach.parallelism = f['parallelism']
  }
  if (step['matrix'] !== undefined) {
    const m = obj(step['matrix'])
    const entries = (raw: unknown): Record<string, MatrixValue>[] => (Array.isArray(raw) ? raw.map((e) => obj(e) as Record<string, MatrixValue>) : [])
    const axes: Record<string, MatrixValue[]> = {}
    for (const [axis, values] of Object.entries(obj(m['axes']))) axes[axis] = Array.isArray(values) ? (values as MatrixValue[]) : []
    model.matrix = { axes, include: entries(m['include']), exclude: entries(m['exclude']), failFast: m['failFast'] === true }
    if (typeof m['parallelism'] === 'number') model.matrix.parallelism = m['parallelism']
  }
}

function approvalFrom(doc: LoadedDocument, path: JsonPath, raw: unknown, issues: ManifestIssue[]): ApprovalSpec | undefined {
  if (raw === undefined || raw === null || typeof raw !== 'object') return undefined
  const a = obj(raw)
  const required = a['required']
  const spec: ApprovalSpec = { required: typeof required === 'boolean' || typeof required === 'string' ? required : true, approvers: strings(a['approvers']) }
  if (typeof a['timeout'] === 'string') {
    const ms = durationField(doc, [...path, 'timeout'], a['timeout'], { what: 'approval.timeout', maxMs: MANIFEST_LIMITS.approvalTimeoutMs }, issues)
    if (ms !== undefined) spec.timeoutMs = ms
  }
  if (typeof a['message'] === 'string') spec.message = a['message']
  return spec
}

// Failure handling. Only what the manifest says is set (the content hash of older manifests stays).
function ruleFields(step: Obj, model: StepModel): void {
  const rule = step['runIf']
  if (typeof rule === 'string') model.runIf = rule === 'always' ? 'allDone' : (rule as TriggerRule)
  if (step['allowFailure'] === true) model.allowFailure = true
  if (Array.isArray(step['handles'])) model.handles = strings(step['handles'])
}

function networkOf(raw: unknown): NetworkMode | undefined {
  return raw === 'none' || raw === 'default' ? raw : undefined
}

/** `name` or `name:version`. */
export function parseStackRef(ref: string): StackRef {
  const colon = ref.indexOf(':')
  if (colon < 0) return { name: ref }
  return { name: ref.slice(0, colon), version: ref.slice(colon + 1) }
}

function scheduleFrom(raw: unknown, v1: boolean): ScheduleSpec | undefined {
  if (raw === undefined) return undefined
  const s = obj(raw)
  const schedule: ScheduleSpec = {
    crons: v1 ? [String(s['cron'])] : strings(s['crons']),
    timezone: typeof s['timezone'] === 'string' ? s['timezone'] : 'UTC',
    concurrencyPolicy: (s['concurrencyPolicy'] as ConcurrencyPolicy | undefined) ?? 'Allow',
  }
  if (typeof s['endOn'] === 'string') schedule.endOn = s['endOn']
  if (typeof s['catchUp'] === 'string') schedule.catchUp = s['catchUp'] as CatchUpPolicy
  if (typeof s['maxCatchUp'] === 'number') schedule.maxCatchUp = s['maxCatchUp']
  return schedule
}

function retryFrom(doc: LoadedDocument, path: JsonPath, raw: unknown, issues: ManifestIssue[]): RetrySpec | undefined {
  if (raw === undefined) return undefined
  const r = obj(raw)
  const retry: RetrySpec = { count: Number(r['count']), strategy: (r['strategy'] as RetryStrategy | undefined) ?? 'OnFailure' }
  // Checked here, with the one duration grammar; the engine reads the same text back with the same bounds.
  if (typeof r['duration'] === 'string') {
    if (durationField(doc, [...path, 'duration'], r['duration'], { what: 'retry.duration', maxMs: MANIFEST_LIMITS.retryDelayMs, allowZero: true }, issues) !== undefined) retry.duration = r['duration']
  }
  if (typeof r['maxDuration'] === 'string') {
    if (durationField(doc, [...path, 'maxDuration'], r['maxDuration'], { what: 'retry.maxDuration', maxMs: MANIFEST_LIMITS.retryMaxDurationMs }, issues) !== undefined) retry.maxDuration = r['maxDuration']
  }
  if (typeof r['factor'] === 'number') retry.factor = r['factor']
  return retry
}

/** The stricter of `timeout` and `activeDeadlineSeconds`, in whole seconds (fractions round up). */
function timeoutSeconds(doc: LoadedDocument, path: JsonPath, timeout: unknown, deadline: unknown, issues: ManifestIssue[]): number | undefined {
  const values: number[] = []
  if (typeof timeout === 'string') {
    const ms = durationField(doc, [...path, 'timeout'], timeout, { what: 'timeout', maxMs: MANIFEST_LIMITS.stepTimeoutMs }, issues)
    if (ms !== undefined) values.push(Math.ceil(ms / 1000))
  }
  if (typeof deadline === 'number') values.push(deadline)
  return values.length > 0 ? Math.min(...values) : undefined
}

function resourcesFrom(raw: unknown): ResourceRequirementsSpec | undefined {
  if (raw === undefined) return undefined
  const r = obj(raw)
  const out: ResourceRequirementsSpec = {}
  if (r['requests'] !== undefined) out.requests = stringMap(r['requests'])
  if (r['limits'] !== undefined) out.limits = stringMap(r['limits'])
  return out
}

function volumesFrom(raw: unknown): VolumeMountSpec[] {
  if (!Array.isArray(raw)) return []
  return raw.map((v: Obj) => {
    const mount: VolumeMountSpec = { id: String(v['id']), directory: String(v['directory']), readOnly: v['readOnly'] === true }
    if (typeof v['subPath'] === 'string') mount.subPath = v['subPath']
    return mount
  })
}

export function emptyProjection(): ProjectionSpec {
  return { secrets: [], envVars: [], files: [], arguments: [], allKeysAsEnv: [] }
}

/** A raw (schema-valid) v2alpha `projection` block. */
function projectionFrom(raw: Obj): ProjectionSpec {
  const p = emptyProjection()
  for (const s of (raw['secrets'] as Obj[] | undefined) ?? []) {
    const ref: ProjectionSpec['secrets'][number] = { id: String(s['id']), contextAlias: String(s['contextAlias']) }
    if (typeof s['workspace'] === 'string') ref.workspace = s['workspace']
    p.secrets.push(ref)
  }
  const projections = obj(raw['projections'])
  for (const e of (projections['envVars'] as Obj[] | undefined) ?? []) p.envVars.push({ key: String(e['key']), value: String(e['value']) })
  for (const f of (projections['files'] as Obj[] | undefined) ?? []) {
    const file: ProjectionSpec['files'][number] = { name: String(f['name']), value: String(f['value']) }
    if (typeof f['directory'] === 'string') file.directory = f['directory']
    p.files.push(file)
  }
  p.arguments.push(...strings(projections['arguments']))
  return p
}

/**
 * v1 `secrets` and `dataosSecrets` expressed as a projection: every key of a
 * listed secret as environment, or the chosen keys as env vars / a properties file.
 */
function v1Projection(doc: LoadedDocument, stepPath: JsonPath, spec: Obj, issues: ManifestIssue[]): ProjectionSpec {
  const p = emptyProjection()
  for (const name of strings(spec['secrets'])) {
    p.secrets.push({ id: name, contextAlias: name })
    p.allKeysAsEnv.push(name)
  }
  const dataosSecrets = (spec['dataosSecrets'] as Obj[] | undefined) ?? []
  dataosSecrets.forEach((s, i) => {
    const name = String(s['name'])
    const ref: ProjectionSpec['secrets'][number] = { id: name, contextAlias: name }
    if (typeof s['workspace'] === 'string') ref.workspace = s['workspace']
    p.secrets.push(ref)
    const keys = [...(typeof s['key'] === 'string' ? [s['key']] : []), ...strings(s['keys'])]
    const allKeys = s['allKeys'] === true || keys.length === 0
    const template = (key: string): string => `{{.secrets.${name}.${key}}}`
    if (s['consumptionType'] === 'propFile') {
      if (allKeys) {
        issues.push(
          issueAt(
            doc,
            'E_SECRET',
            [...stepPath, 'spec', 'dataosSecrets', i],
            `secret "${name}": consumptionType propFile needs the keys listed with key or keys (allKeys cannot be written to a file)`,
          ),
        )
        return
      }
      p.files.push({ name: `${name}.properties`, value: keys.map((k) => `${k}=${template(k)}\n`).join('') })
    } else if (allKeys) p.allKeysAsEnv.push(name)
    else for (const k of keys) p.envVars.push({ key: k, value: template(k) })
  })
  return p
}

/** Workflow-level first, then the step's; a later entry with the same alias / key / file replaces the earlier one in place. */
export function mergeProjections(first: ProjectionSpec, second: ProjectionSpec): ProjectionSpec {
  const byKey = <T>(items: T[], key: (item: T) => string): T[] => {
    const map = new Map<string, T>()
    for (const item of items) map.set(key(item), item)
    return [...map.values()]
  }
  return {
    secrets: byKey([...first.secrets, ...second.secrets], (s) => s.contextAlias),
    envVars: byKey([...first.envVars, ...second.envVars], (e) => e.key),
    files: byKey([...first.files, ...second.files], (f) => `${f.directory ?? ''}/${f.name}`),
    arguments: [...first.arguments, ...second.arguments],
    allKeysAsEnv: [...new Set([...first.allKeysAsEnv, ...second.allKeysAsEnv])],
  }
}

function obj(value: unknown): Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Obj) : {}
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : []
}

/** Scalars as strings: `PORT: 8080` in YAML is a number, but the environment only has strings. */
function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(obj(value))) out[k] = String(v)
  return out
}
