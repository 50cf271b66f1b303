// The internal model every manifest shape normalizes into. The CLI, the server,
// the engine and the runtimes all read this, never the raw YAML, so v1 and
// v2alpha workflows cannot drift apart once loaded.

export type ManifestVersion = 'v1' | 'v1beta' | 'v1alpha' | 'v2alpha'
export const MANIFEST_VERSIONS: readonly ManifestVersion[] = ['v1', 'v1beta', 'v1alpha', 'v2alpha']

export type ResourceType = 'workflow' | 'secret' | 'instance-secret' | 'volume' | 'compute' | 'stack'
export const RESOURCE_TYPES: readonly ResourceType[] = ['workflow', 'secret', 'instance-secret', 'volume', 'compute', 'stack']
/** Types that belong to no workspace. */
export const INSTANCE_LEVEL_TYPES: readonly ResourceType[] = ['stack', 'compute', 'instance-secret']

export const NAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
export const NAME_MAX_LENGTH = 48

/** A path into a document: `['spec', 'dag', 1, 'depends', 0]`. */
export type JsonPath = readonly (string | number)[]

/** `['spec','dag',1,'name']` → `spec.dag[1].name`; a key with a dot is quoted: `secret.data[".dockerconfigjson"]`. */
export function formatPath(path: JsonPath): string {
  let out = ''
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`
    else if (part.includes('.')) out += `[${JSON.stringify(part)}]`
    else out += out === '' ? part : `.${part}`
  }
  return out
}

/** One YAML document as loaded: its plain value and a way back to source positions. */
export interface LoadedDocument {
  /** The file as the user named it; `<stdin>` for `-f -`. */
  file: string
  /** 0-based position of the document in a multi-document file. */
  index: number
  /** The document after interpolation, as plain JSON-compatible data. */
  value: unknown
  /** 1-based line and column of the node at `path`, or of its nearest existing ancestor. */
  locate(path: JsonPath): { line: number; column: number }
  /**
   * 1-based position of the first character of the string value at `path`, when every character of the value
   * sits on one line at its own column (a plain or escape-free quoted scalar); otherwise undefined.
   */
  locateText?(path: JsonPath): { line: number; column: number } | undefined
}

export interface ResourceMeta {
  name: string
  version: ManifestVersion
  type: ResourceType
  description?: string
  tags: string[]
  /** Kubernetes-style labels (`get -l` selects on them); absent when the manifest has none, so content hashes stay. */
  labels?: Record<string, string>
  /** Defaults to the applying user on the server. */
  owner?: string
  layer: 'user' | 'system'
  /** Set for workspace-level types when known (from `-w` or the manifest); absent offline. */
  workspace?: string
}

export interface StackRef {
  name: string
  /** Absent: the newest version the registry knows. */
  version?: string
}

/** `{id, contextAlias}`: a secret made available to templates as `.secrets.<contextAlias>`. */
export interface SecretRef {
  id: string
  contextAlias: string
  /** Workspace of the secret; absent: the workflow's own. `instance: true` for instance-secrets. */
  workspace?: string
  instance?: boolean
}

export interface ProjectedEnvVar {
  key: string
  /** Template, e.g. `{{.secrets.app.API_TOKEN}}`. */
  value: string
}

export interface ProjectedFile {
  name: string
  /** Absolute folder inside the container; default `/etc/ctl/projection`. */
  directory?: string
  /** Template of the file's content. */
  value: string
}

/** Workflow-level and step-level projections, already merged for one step. */
export interface ProjectionSpec {
  secrets: SecretRef[]
  envVars: ProjectedEnvVar[]
  files: ProjectedFile[]
  /** Templates appended to the container's arguments. */
  arguments: string[]
  /** Aliases whose every key becomes an environment variable (v1 `secrets`, `dataosSecrets` allKeys). */
  allKeysAsEnv: string[]
}

export interface VolumeMountSpec {
  /** Name of a `type: volume` resource in the workspace. */
  id: string
  /** Absolute mount path in the step. */
  directory: string
  readOnly: boolean
  subPath?: string
}

export interface ResourceRequirementsSpec {
  requests?: Record<string, string>
  limits?: Record<string, string>
}

export type RetryStrategy = 'Always' | 'OnFailure' | 'OnError' | 'OnTransientError'

export interface RetrySpec {
  /** Extra attempts after the first. */
  count: number
  strategy: RetryStrategy
  /** First backoff, Go/Argo duration such as `10s`, `1m`. */
  duration?: string
  /** Cap on the total time spent retrying. */
  maxDuration?: string
  /** Backoff multiplier, default 2. */
  factor?: number
}

/** `none`: the step gets no network at all; `default`: the runtime's normal network. */
export type NetworkMode = 'default' | 'none'

export interface StepSpec {
  stack: StackRef
  stackSpec: Record<string, unknown>
  /** Compute name; `runnable-default` when not given. */
  compute: string
  resources?: ResourceRequirementsSpec
  runAsUser?: number
  /**
   * The step's `network`, else the workflow's; absent when neither says (the runtime's normal
   * network). Absent rather than `default` so that manifests without it keep their content hash.
   */
  network?: NetworkMode
  /** Plain environment of the step (v1 `envs`, v2 `envs`), before the stack's own. */
  envs: Record<string, string>
  logLevel?: string
  volumes: VolumeMountSpec[]
  /** Merged: workflow-level `use.projection` first, then the step's. */
  projection: ProjectionSpec
}

/** The types a run parameter may declare (JSON Schema's names). */
export type ParamType = 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object'
export const PARAM_TYPES: readonly ParamType[] = ['string', 'integer', 'number', 'boolean', 'array', 'object']

/** One declared run parameter (`spec.params[]`). */
export interface ParamSpec {
  name: string
  type: ParamType
  /** False when absent; a required param has no default. */
  required: boolean
  default?: unknown
  enum?: unknown[]
  description?: string
  /** The value is redacted wherever it could show (logs, `runtime get`), like a projected secret. */
  secret?: boolean
}

/** A matrix axis value: YAML scalars only, so that instance names and templates stay plain. */
export type MatrixValue = string | number | boolean

/** `forEach`: one step instance per item. */
export interface ForEachSpec {
  /** A literal list, or a CEL expression yielding a list (`steps.build.outputs.files`, `params.regions`). */
  items: unknown[] | string
  /** Most instances of this step at the same time; unlimited (within the workflow's) when absent. */
  parallelism?: number
}

/** `matrix`: one step instance per combination of the axes, minus `exclude`, plus `include`. */
export interface MatrixSpec {
  axes: Record<string, MatrixValue[]>
  include: Record<string, MatrixValue>[]
  exclude: Record<string, MatrixValue>[]
  /** A failed instance cancels the instances not yet started. */
  failFast: boolean
  parallelism?: number
}

export interface StepModel {
  name: string
  title?: string
  description?: string
  depends: string[]
  /** CEL condition over params, steps, workflow; a false one skips the step. */
  when?: string
  /** At most one of forEach / matrix. */
  forEach?: ForEachSpec
  matrix?: MatrixSpec
  retry?: RetrySpec
  /** From `timeout` (duration) or `activeDeadlineSeconds`. */
  timeoutSeconds?: number
  /** When the step may run, from its dependencies' ends (engine/rules.ts); `allSucceeded` when absent. */
  runIf?: TriggerRule
  /** A failure of this step is recorded but counts as done: dependents go on and the run may succeed. */
  allowFailure?: boolean
  /** Steps (dependencies) whose failure this `runIf: anyFailed` step handles: handled, they do not fail the run. */
  handles?: string[]
  spec: StepSpec
  /** Where the step sits in its manifest (`['spec','dag',2]`), to locate later errors. */
  path: JsonPath
  // ---- Approval (issue 12). Absent when the manifest has no `approval:`, so older manifests keep their hash.
  approval?: ApprovalSpec
}

/** `approval:` on a step: a person decides before it starts (src/engine/approvals.ts). */
export interface ApprovalSpec {
  /** true, false, or a CEL condition over the step's vars (like `when`); true when not given. */
  required: boolean | string
  /** `roles:id:ROLE` / `users:id:ID`; empty: whoever may run the workflow decides. */
  approvers: string[]
  /** Then the request counts as rejected (timed out); none: it waits until decided or the run ends. */
  timeoutMs?: number
  /** Template over `.params` and ancestors' `.steps.S.outputs`, rendered when the step starts waiting. */
  message?: string
}

/** `always` is read as `allDone` at normalization. */
export type TriggerRule = 'allSucceeded' | 'allDone' | 'anyFailed' | 'noneFailed'

export type ConcurrencyPolicy = 'Allow' | 'Forbid' | 'Replace'

export interface ScheduleSpec {
  crons: string[]
  /** IANA time zone; `UTC` when not given. */
  timezone: string
  concurrencyPolicy: ConcurrencyPolicy
  /** RFC 3339 time after which no run is scheduled. */
  endOn?: string
  // ---- catch-up after downtime (issue 12); absent when not written, so older manifests keep their hash.
  /** Missed fire times after downtime: `none` (only the next future time), `latest` (default: the latest missed one), `all`. */
  catchUp?: CatchUpPolicy
  /** `catchUp: all`: the most recent missed times run, at most this many (default DEFAULT_MAX_CATCH_UP, bound MANIFEST_LIMITS.maxCatchUp). */
  maxCatchUp?: number
}

export type CatchUpPolicy = 'none' | 'latest' | 'all'
/** `schedule.maxCatchUp` when not given. */
export const DEFAULT_MAX_CATCH_UP = 10

export interface WorkflowSpec {
  title?: string
  schedule?: ScheduleSpec
  /** Most steps of one run at the same time; unlimited when absent. */
  parallelism?: number
  /** v2alpha `spec.dependencies`: names of resources that must exist before the workflow runs. */
  dependencies?: string[]
  /** Webhook triggers (`spec.triggers`); absent when none, so older manifests keep their content hash. */
  triggers?: TriggerSpec[]
  /** Declared run parameters; absent (not empty) when none, so older manifests keep their content hash. */
  params?: ParamSpec[]
  dag: StepModel[]
  /** Steps run after the DAG ended, whatever its state; absent when none. */
  finally?: StepModel[]
  /** `spec.timeout`: the whole run's deadline, counted from its start. */
  timeoutSeconds?: number
  /** `spec.finallyTimeout`: how long the finally steps may take (default 5m, FINALLY_TIMEOUT_DEFAULT_SECONDS). */
  finallyTimeoutSeconds?: number
}

// Webhook triggers. `POST /api/v1/hooks/WORKSPACE/WORKFLOW/NAME`, signed with the HMAC_KEY of `secret`,
// starts a run (trigger `webhook:NAME`) whose params are the CEL expressions of `params` evaluated over
// the request's `body` (its JSON) and `headers` (names lowercased). Checked at lint (names, CEL, params)
// and at apply (the secret exists and has HMAC_KEY).
export interface WebhookSpec {
  /** Name of a `type: secret` of the workflow's workspace; its key HMAC_KEY signs requests. */
  secret: string
  /** Param name → CEL expression. */
  params: Record<string, string>
}

export interface TriggerSpec {
  name: string
  webhook: WebhookSpec
  /** Where it sits in the manifest (`['spec','triggers',0]`), to locate later errors. */
  path: JsonPath
}

/** The key of the hook's secret that holds the HMAC key. */
export const WEBHOOK_KEY = 'HMAC_KEY'

export interface WorkflowResource {
  meta: ResourceMeta & { type: 'workflow' }
  workflow: WorkflowSpec
}

export type SecretKind = 'key-value' | 'key-value-properties' | 'certificates' | 'cloud-kernel-image-pull'

export interface SecretSpec {
  type: SecretKind
  acl: 'r' | 'rw'
  data: Record<string, string>
  /** File name → content. */
  files: Record<string, string>
}

export interface SecretResource {
  meta: ResourceMeta & { type: 'secret' | 'instance-secret' }
  secret: SecretSpec
}

export interface VolumeSpec {
  size: string
  accessMode: 'ReadWriteMany' | 'ReadWriteOnce' | 'ReadOnlyMany'
  type: 'temp' | 'persistent'
  storageClass?: string
}

export interface VolumeResource {
  meta: ResourceMeta & { type: 'volume' }
  volume: VolumeSpec
}

export interface Toleration {
  key?: string
  operator?: 'Exists' | 'Equal'
  value?: string
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute'
  tolerationSeconds?: number
}

export interface ComputeSpec {
  purpose: 'runnable' | 'query' | 'gpu'
  nodeSelector: Record<string, string>
  tolerations: Toleration[]
}

export interface ComputeResource {
  meta: ResourceMeta & { type: 'compute' }
  compute: ComputeSpec
}

export interface StackDefinition {
  name: string
  version: string
  flavor?: string
  /** Full image reference; may be a template (`{{.ApplicationSpec.StackSpec.image}}`). */
  image: string
  command: string[]
  arguments: string[]
  environmentVars: Record<string, string>
  /** JSON Schema every `stackSpec` of this stack must satisfy. */
  stackSpecJsonSchema: Record<string, unknown>
  workflowJobConfig: {
    /** Handlebars (Go-template look) rendering YAML that shapes the main container. */
    containerResourceTemplate?: string
    /** File name → handlebars template of its content, mounted under `/etc/ctl/config`. */
    configFileTemplate?: Record<string, string>
  }
}

export interface StackResource {
  meta: ResourceMeta & { type: 'stack' }
  stack: StackDefinition
}

export type Resource = WorkflowResource | SecretResource | VolumeResource | ComputeResource | StackResource

/** A resource with the document it came from, for located errors. */
export interface NormalizedDocument {
  resource: Resource
  doc: LoadedDocument
}

/** `workflow:v2alpha:name:public`, the identity DataOS calls a resource id. */
export function resourceId(meta: ResourceMeta): string {
  return [meta.type, meta.version, meta.name, meta.workspace].filter((part) => part !== undefined).join(':')
}
