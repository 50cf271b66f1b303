// The settings of `ctl server start`, from three layers: a flag on the command line or its CTL_* variable,
// then the server config file (--config / CTL_SERVER_CONFIG, else <data-dir>/server.yaml when it exists),
// then the built-in default. The file is checked like a manifest: every problem is reported with its file,
// line and field, together, before anything starts.
import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { CtlError } from '../errors.js'
import { maxLogBytesProblem } from '../runtime/local/log-cap.js'
import { DEFAULT_LOG_RETENTION, parseRetention } from '../logs/retention.js'
import { MANIFEST_LIMITS } from '../manifest/limits.js'
import { kubernetesEnvOf, kubernetesOptionsOf, type KubeStartFlags } from './kube-flags.js'
import { RUNTIMES, checkedCgroupParent, checkedStoreUrl, checkedWorkDir, checkedForEachBound, checkedStepBound, checkedStepId, checkedUrl, loadServerConfig, type ServerConfigFile } from './config-load.js'
import type { KubernetesServerOptions, RuntimeKind } from './control-plane.js'

/** Read from the data dir when no --config is given (the data dir itself is never set in the file: it may live there). */
export const SERVER_CONFIG_FILE = 'server.yaml'

/** Built-in defaults. The port is the one the CLI looks for the embedded control plane on (DEFAULT_LOCAL_PORT). */
export const SERVER_DEFAULTS = {
  port: 7419,
  host: '127.0.0.1',
  maxParallelSteps: 32,
  maxStepsPerWorkflow: MANIFEST_LIMITS.stepsPerWorkflow,
  maxForEachItems: MANIFEST_LIMITS.forEachItems,
  logRetention: DEFAULT_LOG_RETENTION,
  runtime: 'local' as RuntimeKind,
  namespacePrefix: 'ctl-',
  manageNamespaces: false,
  imagePullGrace: '2m',
  gcWhenComplete: true,
  podTtl: '0',
} as const

/** `ctl server start` flags as oclif parsed them: undefined = not given (no flag carries a `default:`). */
export interface ServerStartFlags {
  config?: string
  port?: number
  host?: string
  'max-parallel-steps'?: number
  'max-steps-per-workflow'?: number
  'max-foreach-items'?: number
  'log-retention'?: string
  runtime?: string
  kubeconfig?: string
  'kube-context'?: string
  'namespace-prefix'?: string
  'manage-namespaces'?: boolean
  'image-pull-grace'?: string
  'gc-when-complete'?: boolean
  'pod-ttl'?: string
  'storage-class'?: string
  'advertise-url'?: string
  'master-key-file'?: string
  'admin-key-file'?: string
  'metrics-token-file'?: string
  'step-uid'?: number
  'step-gid'?: number
  'cgroup-parent'?: string
  'allow-unsandboxed'?: boolean
  'max-log-bytes'?: number
  store?: string
  'work-dir'?: string
}

/** A setting by its path in the file. */
export type SettingName =
  | 'port'
  | 'host'
  | 'maxParallelSteps'
  | 'maxStepsPerWorkflow'
  | 'maxForEachItems'
  | 'logRetention'
  | 'runtime'
  | 'advertiseUrl'
  | 'masterKeyFile'
  | 'adminKeyFile'
  | 'metricsTokenFile'
  | 'stepUid'
  | 'stepGid'
  | 'cgroupParent'
  | 'allowUnsandboxed'
  | 'maxLogBytes'
  | 'store'
  | 'workDir'
  | 'kubernetes.kubeconfig'
  | 'kubernetes.context'
  | 'kubernetes.namespacePrefix'
  | 'kubernetes.manageNamespaces'
  | 'kubernetes.imagePullGrace'
  | 'kubernetes.gcWhenComplete'
  | 'kubernetes.podTtl'
  | 'kubernetes.storageClass'

/** `flag` covers its CTL_* variable too: oclif folds the variable into the flag before we see it. */
export type SettingSource = 'flag' | 'env' | 'file' | 'default'

export interface ServerSettings {
  port: number
  host: string
  maxParallelSteps: number
  /** Steps one workflow may have (lint refuses more, 422 from the API). */
  maxStepsPerWorkflow: number
  /** Items one `forEach` may fan out into (lint of a literal list, 422 from the API, a failed step at run time). */
  maxForEachItems: number
  /** 0 keeps logs forever. */
  logRetentionMs: number
  runtime: RuntimeKind
  /** The control plane's URL as steps reach it (CTL_SERVER in each step); default: its own URL with the local runtime. */
  advertiseUrl?: string
  /** Set for runtime 'kubernetes' only. */
  kubernetes?: KubernetesServerOptions
  /** Absolute; undefined: the default outside the data folder (defaultMasterKeyFile). */
  masterKeyFile?: string
  /** Absolute: the file holding the tenant admin's first API key (a mounted Secret), used instead of making one. */
  adminKeyFile?: string
  /** Absolute; the file holding the token that opens GET /metrics besides a tenant-admin's key. */
  metricsTokenFile?: string
  /**
   * Local runtime under a root control plane: the host user and group every step runs as (never root).
   * Undefined: DEFAULT_STEP_ID (65534, nobody / nogroup).
   */
  stepUid?: number
  stepGid?: number
  /** Local runtime: a delegated cgroup v2 folder (absolute) for the steps' cgroups; undefined: the control plane's own. */
  cgroupParent?: string
  /** Local runtime without bubblewrap: run every workflow's steps as plain processes, not only the tenant admin's. */
  allowUnsandboxed?: boolean
  /** Local runtime: bytes of each step attempt's log stored at most; undefined: DEFAULT_MAX_LOG_BYTES (64 MiB). */
  maxLogBytes?: number
  /**
   * The store: a SQLite file (absolute) or a postgresql:// URL, which may hold a password (never print it:
   * redactUrl). Undefined: the embedded SQLite file in the data folder.
   */
  storeUrl?: string
  /**
   * Absolute: the folder of runs (the local runtime's state folder, hence its step host) and volumes. Undefined:
   * the data folder. Replicas on one machine give each its own data folder and share this one.
   */
  workDir?: string
}

export interface ResolvedServerSettings {
  /** What runForeground takes (with dataDir added). */
  options: ServerSettings
  source: {
    /** The config file read, as named (flag, variable or the data dir's); undefined when none was. */
    file?: string
    /** Where each setting that has a value came from. */
    settings: Partial<Record<SettingName, SettingSource>>
  }
  /**
   * CTL_* variables that give a detached child (started with --data-dir, --port and --host only) these same
   * effective settings: they outrank its config file, so the child cannot end up with other values.
   */
  childEnv: Record<string, string>
}

export interface ResolveInput {
  flags: ServerStartFlags
  env: Record<string, string | undefined>
  dataDir: string
}

/** Flags, their CTL_* variables, the config file and the defaults merged and checked. Throws CtlError / ManifestError. */
export async function resolveServerSettings(input: ResolveInput): Promise<ResolvedServerSettings> {
  const { flags, env } = input
  const given = givenSettings(flags, env)
  const named = given.config?.value
  const file = named ?? join(input.dataDir, SERVER_CONFIG_FILE)
  const config = named !== undefined || existsSync(file) ? await loadServerConfig(file) : undefined
  const fromFile = config?.values ?? {}
  const k = fromFile.kubernetes ?? {}
  const sources: Partial<Record<SettingName, SettingSource>> = {}

  function pick<T>(name: SettingName, cli: Given<T> | undefined, inFile: T | undefined, fallback: T): T
  function pick<T>(name: SettingName, cli: Given<T> | undefined, inFile: T | undefined): T | undefined
  function pick<T>(name: SettingName, cli: Given<T> | undefined, inFile: T | undefined, fallback?: T): T | undefined {
    if (cli) {
      sources[name] = cli.source
      return cli.value
    }
    if (inFile !== undefined) {
      sources[name] = 'file'
      return inFile
    }
    if (fallback !== undefined) sources[name] = 'default'
    return fallback
  }

  const runtime = pick('runtime', given.runtime, fromFile.runtime, SERVER_DEFAULTS.runtime)
  const logRetention = pick('logRetention', given.logRetention, fromFile.logRetention === undefined ? undefined : String(fromFile.logRetention), SERVER_DEFAULTS.logRetention)
  const kube: KubeStartFlags = {
    kubeconfig: pick('kubernetes.kubeconfig', given.kubeconfig, k.kubeconfig === undefined ? undefined : relativeTo(config!.file, k.kubeconfig)),
    'kube-context': pick('kubernetes.context', given.kubeContext, k.context),
    'namespace-prefix': pick('kubernetes.namespacePrefix', given.namespacePrefix, k.namespacePrefix, SERVER_DEFAULTS.namespacePrefix),
    'manage-namespaces': pick('kubernetes.manageNamespaces', given.manageNamespaces, k.manageNamespaces, SERVER_DEFAULTS.manageNamespaces),
    'image-pull-grace': pick('kubernetes.imagePullGrace', given.imagePullGrace, k.imagePullGrace === undefined ? undefined : String(k.imagePullGrace), SERVER_DEFAULTS.imagePullGrace),
    'gc-when-complete': pick('kubernetes.gcWhenComplete', given.gcWhenComplete, k.gcWhenComplete, SERVER_DEFAULTS.gcWhenComplete),
    'pod-ttl': pick('kubernetes.podTtl', given.podTtl, k.podTtl === undefined ? undefined : String(k.podTtl), SERVER_DEFAULTS.podTtl),
    'storage-class': pick('kubernetes.storageClass', given.storageClass, k.storageClass),
  }
  // A relative --kubeconfig is relative to where the command runs; the child gets it absolute.
  if (kube.kubeconfig !== undefined && sources['kubernetes.kubeconfig'] !== 'file') kube.kubeconfig = resolve(kube.kubeconfig)
  // Values from the file were checked, with their line, in loadServerConfig; these messages are for flags and variables.
  const kubernetes = kubernetesOptionsOf(kube)
  const options: ServerSettings = {
    port: pick('port', given.port, fromFile.port, SERVER_DEFAULTS.port),
    host: pick('host', given.host, fromFile.host, SERVER_DEFAULTS.host),
    maxParallelSteps: pick('maxParallelSteps', given.maxParallelSteps, fromFile.maxParallelSteps, SERVER_DEFAULTS.maxParallelSteps),
    maxStepsPerWorkflow: checkedStepBound(pick('maxStepsPerWorkflow', given.maxStepsPerWorkflow, fromFile.maxStepsPerWorkflow, SERVER_DEFAULTS.maxStepsPerWorkflow)),
    maxForEachItems: checkedForEachBound(pick('maxForEachItems', given.maxForEachItems, fromFile.maxForEachItems, SERVER_DEFAULTS.maxForEachItems)),
    logRetentionMs: parseRetention(logRetention),
    runtime,
  }
  const advertiseUrl = pick('advertiseUrl', given.advertiseUrl, fromFile.advertiseUrl)
  if (advertiseUrl !== undefined) options.advertiseUrl = checkedUrl(advertiseUrl)
  if (runtime === 'kubernetes') options.kubernetes = kubernetes
  // In the file: relative to the file; on the command line: to where the command runs. The child gets it absolute.
  const masterKeyFile = pick('masterKeyFile', given.masterKeyFile, fromFile.masterKeyFile === undefined ? undefined : relativeTo(config!.file, fromFile.masterKeyFile))
  if (masterKeyFile !== undefined) options.masterKeyFile = resolve(masterKeyFile)
  const adminKeyFile = pick('adminKeyFile', given.adminKeyFile, fromFile.adminKeyFile === undefined ? undefined : relativeTo(config!.file, fromFile.adminKeyFile))
  if (adminKeyFile !== undefined) options.adminKeyFile = resolve(adminKeyFile)
  const metricsTokenFile = pick('metricsTokenFile', given.metricsTokenFile, fromFile.metricsTokenFile === undefined ? undefined : relativeTo(config!.file, fromFile.metricsTokenFile))
  if (metricsTokenFile !== undefined) options.metricsTokenFile = resolve(metricsTokenFile)
  // Values from the file were checked, with their line, in loadServerConfig; these checks are for flags and variables.
  const stepUid = pick('stepUid', given.stepUid, fromFile.stepUid)
  if (stepUid !== undefined) options.stepUid = checkedStepId(stepUid, sources.stepUid === 'env' ? 'CTL_STEP_UID' : '--step-uid', 'uid')
  const stepGid = pick('stepGid', given.stepGid, fromFile.stepGid)
  if (stepGid !== undefined) options.stepGid = checkedStepId(stepGid, sources.stepGid === 'env' ? 'CTL_STEP_GID' : '--step-gid', 'gid')
  const cgroupParent = pick('cgroupParent', given.cgroupParent, fromFile.cgroupParent)
  if (cgroupParent !== undefined) options.cgroupParent = checkedCgroupParent(cgroupParent, sources.cgroupParent === 'env' ? 'CTL_CGROUP_PARENT' : '--cgroup-parent')
  const allowUnsandboxed = pick('allowUnsandboxed', given.allowUnsandboxed, fromFile.allowUnsandboxed)
  if (allowUnsandboxed !== undefined) options.allowUnsandboxed = allowUnsandboxed
  const maxLogBytes = pick('maxLogBytes', given.maxLogBytes, fromFile.maxLogBytes)
  if (maxLogBytes !== undefined) {
    const problem = maxLogBytesProblem(maxLogBytes, sources.maxLogBytes === 'env' ? 'CTL_MAX_LOG_BYTES' : sources.maxLogBytes === 'file' ? 'maxLogBytes' : '--max-log-bytes')
    if (problem) throw new CtlError('E_USAGE', problem)
    options.maxLogBytes = maxLogBytes
  }
  // In the file a SQLite path is relative to the file; on the command line, to where the command runs.
  const store = pick('store', given.store, fromFile.store)
  if (store !== undefined) {
    const name = sources.store === 'env' ? 'CTL_STORE' : sources.store === 'file' ? `store in ${config!.file}` : '--store'
    options.storeUrl = checkedStoreUrl(store, name, sources.store === 'file' ? dirname(config!.file) : process.cwd())
  }
  // In the file relative to the file; on the command line, to where the command runs. The child gets it absolute.
  const workDir = pick('workDir', given.workDir, fromFile.workDir)
  if (workDir !== undefined) {
    const name = sources.workDir === 'env' ? 'CTL_WORK_DIR' : sources.workDir === 'file' ? `workDir in ${config!.file}` : '--work-dir'
    options.workDir = checkedWorkDir(workDir, name, sources.workDir === 'file' ? dirname(config!.file) : process.cwd())
  }
  const childEnv: Record<string, string> = {
    CTL_RUNTIME: runtime,
    CTL_MAX_PARALLEL_STEPS: String(options.maxParallelSteps),
    CTL_MAX_STEPS_PER_WORKFLOW: String(options.maxStepsPerWorkflow),
    CTL_MAX_FOREACH_ITEMS: String(options.maxForEachItems),
    CTL_LOG_RETENTION: logRetention,
    ...(options.advertiseUrl ? { CTL_ADVERTISE_URL: options.advertiseUrl } : {}),
    ...(options.masterKeyFile ? { CTL_MASTER_KEY_FILE: options.masterKeyFile } : {}),
    ...(options.adminKeyFile ? { CTL_ADMIN_KEY_FILE: options.adminKeyFile } : {}),
    ...(options.metricsTokenFile ? { CTL_METRICS_TOKEN_FILE: options.metricsTokenFile } : {}),
    ...(options.stepUid !== undefined ? { CTL_STEP_UID: String(options.stepUid) } : {}),
    ...(options.stepGid !== undefined ? { CTL_STEP_GID: String(options.stepGid) } : {}),
    ...(options.cgroupParent ? { CTL_CGROUP_PARENT: options.cgroupParent } : {}),
    ...(options.allowUnsandboxed !== undefined ? { CTL_ALLOW_UNSANDBOXED: String(options.allowUnsandboxed) } : {}),
    ...(options.maxLogBytes !== undefined ? { CTL_MAX_LOG_BYTES: String(options.maxLogBytes) } : {}),
    // In the environment, not on the command line: a password in the URL is not shown to `ps`.
    ...(options.storeUrl !== undefined ? { CTL_STORE: options.storeUrl } : {}),
    ...(options.workDir !== undefined ? { CTL_WORK_DIR: options.workDir } : {}),
    ...kubernetesEnvOf(kube),
  }
  if (config) childEnv['CTL_SERVER_CONFIG'] = resolve(config.file)
  return { options, source: { file: config?.file, settings: sources }, childEnv }
}

interface Given<T> {
  value: T
  source: 'flag' | 'env'
}

/** What the command line says: a flag, else its variable (read here too, so that a caller without oclif gets the same). */
function givenSettings(flags: ServerStartFlags, env: Record<string, string | undefined>) {
  const text = (flag: string | undefined, name: string): Given<string> | undefined => {
    if (flag !== undefined) return { value: flag, source: 'flag' }
    const value = env[name]
    // As oclif: an empty variable is no variable.
    return value ? { value, source: 'env' } : undefined
  }
  const bool = (flag: boolean | undefined, name: string): Given<boolean> | undefined => {
    if (flag !== undefined) return { value: flag, source: 'flag' }
    const value = env[name]
    return value ? { value: ['1', 'true', 'y', 'yes'].includes(value.toLowerCase()), source: 'env' } : undefined
  }
  const int = (flag: number | undefined, name: string): Given<number> | undefined => {
    if (flag !== undefined) return { value: flag, source: 'flag' }
    const value = env[name]
    if (!value) return undefined
    if (!/^\d+$/.test(value.trim())) throw new CtlError('E_USAGE', `${name} "${value}" is not a whole number`)
    return { value: Number(value), source: 'env' }
  }
  const flagOnly = <T>(flag: T | undefined): Given<T> | undefined => (flag === undefined ? undefined : { value: flag, source: 'flag' })
  const runtime = text(flags.runtime, 'CTL_RUNTIME')
  if (runtime && !(RUNTIMES as readonly string[]).includes(runtime.value)) {
    throw new CtlError('E_USAGE', `runtime "${runtime.value}" is not one of ${RUNTIMES.join(', ')}`)
  }
  return {
    config: text(flags.config, 'CTL_SERVER_CONFIG'),
    // No variables of their own: CTL_PORT is where the CLI looks for the embedded control plane.
    port: flagOnly(flags.port),
    host: flagOnly(flags.host),
    maxParallelSteps: int(flags['max-parallel-steps'], 'CTL_MAX_PARALLEL_STEPS'),
    maxStepsPerWorkflow: int(flags['max-steps-per-workflow'], 'CTL_MAX_STEPS_PER_WORKFLOW'),
    maxForEachItems: int(flags['max-foreach-items'], 'CTL_MAX_FOREACH_ITEMS'),
    logRetention: text(flags['log-retention'], 'CTL_LOG_RETENTION'),
    runtime: runtime as Given<RuntimeKind> | undefined,
    kubeconfig: text(flags.kubeconfig, 'CTL_KUBECONFIG'),
    kubeContext: text(flags['kube-context'], 'CTL_KUBE_CONTEXT'),
    namespacePrefix: text(flags['namespace-prefix'], 'CTL_NAMESPACE_PREFIX'),
    manageNamespaces: bool(flags['manage-namespaces'], 'CTL_MANAGE_NAMESPACES'),
    imagePullGrace: text(flags['image-pull-grace'], 'CTL_IMAGE_PULL_GRACE'),
    gcWhenComplete: bool(flags['gc-when-complete'], 'CTL_GC_WHEN_COMPLETE'),
    podTtl: text(flags['pod-ttl'], 'CTL_POD_TTL'),
    storageClass: text(flags['storage-class'], 'CTL_STORAGE_CLASS'),
    advertiseUrl: text(flags['advertise-url'], 'CTL_ADVERTISE_URL'),
    masterKeyFile: text(flags['master-key-file'], 'CTL_MASTER_KEY_FILE'),
    adminKeyFile: text(flags['admin-key-file'], 'CTL_ADMIN_KEY_FILE'),
    metricsTokenFile: text(flags['metrics-token-file'], 'CTL_METRICS_TOKEN_FILE'),
    stepUid: int(flags['step-uid'], 'CTL_STEP_UID'),
    stepGid: int(flags['step-gid'], 'CTL_STEP_GID'),
    cgroupParent: text(flags['cgroup-parent'], 'CTL_CGROUP_PARENT'),
    allowUnsandboxed: bool(flags['allow-unsandboxed'], 'CTL_ALLOW_UNSANDBOXED'),
    maxLogBytes: int(flags['max-log-bytes'], 'CTL_MAX_LOG_BYTES'),
    store: text(flags.store, 'CTL_STORE'),
    workDir: text(flags['work-dir'], 'CTL_WORK_DIR'),
  }
}

/** A path in the file is relative to the file (and `~/` to the home folder), as kubeconfig paths are. */
function relativeTo(configFile: string, path: string): string {
  if (path === '~' || path.startsWith('~/')) return join(homedir(), path.slice(1))
  return isAbsolute(path) ? path : resolve(dirname(configFile), path)
}
