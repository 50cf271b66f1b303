// The server config file (YAML, camelCase keys): its schema, reading it with every problem located like a
// manifest's, and the bounds a setting is checked against wherever it comes from (file, flag or variable).
import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { isAbsolute, resolve } from 'node:path'
import type { ErrorObject, ValidateFunction } from 'ajv'
import { CtlError, ManifestError, type ManifestIssue } from '../errors.js'
import { readDuration, MAX_CALENDAR_DURATION_MS } from '../duration.js'
import { DEFAULT_STEP_ID } from '../runtime/local/sandbox.js'
import { maxLogBytesProblem } from '../runtime/local/log-cap.js'
import { KUBE_DURATION } from './kube-flags.js'
import type { RuntimeKind } from './control-plane.js'
import { sqliteFileOf, storeKindOf } from '../store/url.js'

export const RUNTIMES: readonly RuntimeKind[] = ['local', 'kubernetes']

/** The server config file, as written (camelCase keys, all optional). */
export interface ServerConfigFile {
  port?: number
  host?: string
  maxParallelSteps?: number
  maxStepsPerWorkflow?: number
  maxForEachItems?: number
  logRetention?: string | number
  runtime?: RuntimeKind
  advertiseUrl?: string
  masterKeyFile?: string
  adminKeyFile?: string
  metricsTokenFile?: string
  stepUid?: number
  stepGid?: number
  cgroupParent?: string
  allowUnsandboxed?: boolean
  /** Local runtime: bytes of each step attempt's log stored at most (see maxLogBytesProblem). */
  maxLogBytes?: number
  /** Store URL: a SQLite file (relative to this file) or postgresql://… (see storeProblem). */
  store?: string
  /** The folder of runs and volumes (relative to this file); default the data folder. */
  workDir?: string
  kubernetes?: {
    kubeconfig?: string
    context?: string
    namespacePrefix?: string
    manageNamespaces?: boolean
    imagePullGrace?: string | number
    gcWhenComplete?: boolean
    podTtl?: string | number
    storageClass?: string
  }
}

/** The largest `maxStepsPerWorkflow` a server may set: a DAG is checked and scheduled in memory. */
export const MAX_STEPS_PER_WORKFLOW_SETTING = 100_000

/** The largest `maxForEachItems` a server may set: each instance is a step run. */
export const MAX_FOREACH_ITEMS_SETTING = 100_000

export function checkedForEachBound(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_FOREACH_ITEMS_SETTING) {
    throw new CtlError('E_USAGE', `max forEach items ${n} must be a whole number from 1 to ${MAX_FOREACH_ITEMS_SETTING}`)
  }
  return n
}

export function checkedStepBound(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_STEPS_PER_WORKFLOW_SETTING) {
    throw new CtlError('E_USAGE', `max steps per workflow ${n} must be a whole number from 1 to ${MAX_STEPS_PER_WORKFLOW_SETTING}`)
  }
  return n
}

/** The largest uid or gid a step may run as: Linux ids are 32-bit, and -1 (4294967295) means "unchanged" to the kernel. */
export const MAX_STEP_ID = 2_147_483_647

/** Why `n` cannot be the host uid / gid of steps (`name` as the operator wrote it), or undefined when it can. */
export function stepIdProblem(name: string, n: number, kind: 'uid' | 'gid'): string | undefined {
  if (n === 0) return `${name} 0 is root: a root control plane never runs a step as root; give an unprivileged ${kind} from 1 to ${MAX_STEP_ID} (default ${DEFAULT_STEP_ID})`
  if (!Number.isInteger(n) || n < 1 || n > MAX_STEP_ID) return `${name} ${n} must be a whole number from 1 to ${MAX_STEP_ID} (default ${DEFAULT_STEP_ID})`
  return undefined
}

export function checkedStepId(n: number, name: string, kind: 'uid' | 'gid'): number {
  const problem = stepIdProblem(name, n, kind)
  if (problem) throw new CtlError('E_USAGE', problem)
  return n
}

/** Why `path` cannot be the cgroup parent, or undefined when it can (whether it is delegated is seen at start, in the runtime's detail). */
function cgroupParentProblem(name: string, path: string): string | undefined {
  return isAbsolute(path) ? undefined : `${name} "${path}" must be an absolute path, such as /sys/fs/cgroup/ctl.slice`
}

export function checkedCgroupParent(path: string, name: string): string {
  const problem = cgroupParentProblem(name, path)
  if (problem) throw new CtlError('E_USAGE', problem)
  return resolve(path)
}

/** Longest store URL (a connection string with its options fits easily). */
export const MAX_STORE_URL_LENGTH = 4096

/** Why `url` cannot name the store (`name` as the operator wrote it), or undefined when it can. Never shows a password. */
export function storeProblem(name: string, url: string): string | undefined {
  if (url.length > MAX_STORE_URL_LENGTH) return `${name} is longer than ${MAX_STORE_URL_LENGTH} characters`
  try {
    storeKindOf(url)
    return undefined
  } catch (err) {
    return `${name}: ${(err as Error).message}`
  }
}

/** The store URL, checked; a SQLite path made absolute against `base` (a relative path in a file is relative to the file). */
export function checkedStoreUrl(url: string, name: string, base = process.cwd()): string {
  const problem = storeProblem(name, url)
  if (problem) throw new CtlError('E_USAGE', problem)
  if (storeKindOf(url) !== 'sqlite') return url
  const file = sqliteFileOf(url)
  if (file === '~' || file.startsWith('~/')) return resolve(homedir(), `.${file.slice(1)}`)
  return resolve(base, file)
}

/** Longest work folder path (Linux's PATH_MAX). */
export const MAX_WORK_DIR_LENGTH = 4096

/** The work folder, checked and made absolute against `base` (a relative path in a file is relative to the file). */
export function checkedWorkDir(path: string, name: string, base = process.cwd()): string {
  if (path.length > MAX_WORK_DIR_LENGTH) throw new CtlError('E_USAGE', `${name} is longer than ${MAX_WORK_DIR_LENGTH} characters`)
  if (path === '~' || path.startsWith('~/')) return resolve(homedir(), `.${path.slice(1)}`)
  return resolve(base, path)
}

/** An http(s) URL without a trailing slash. */
export function checkedUrl(text: string): string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new CtlError('E_USAGE', `advertise URL "${text}" is not a URL such as http://ctl-control-plane.ctl-system.svc:7419`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CtlError('E_USAGE', `advertise URL "${text}" must be http or https`)
  return text.replace(/\/+$/, '')
}

// Their text is checked after the schema (a number is seconds; 0 keeps logs forever).
const durationSchema = { type: ['string', 'integer'] }
const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    host: { type: 'string', minLength: 1 },
    maxParallelSteps: { type: 'integer', minimum: 1 },
    maxStepsPerWorkflow: { type: 'integer', minimum: 1, maximum: MAX_STEPS_PER_WORKFLOW_SETTING },
    maxForEachItems: { type: 'integer', minimum: 1, maximum: MAX_FOREACH_ITEMS_SETTING },
    logRetention: durationSchema,
    runtime: { enum: [...RUNTIMES] },
    advertiseUrl: { type: 'string', pattern: '^https?://' },
    masterKeyFile: { type: 'string', minLength: 1 },
    adminKeyFile: { type: 'string', minLength: 1 },
    metricsTokenFile: { type: 'string', minLength: 1 },
    // Their bounds are checked after the schema, with the reason (stepIdProblem, cgroupParentProblem).
    stepUid: { type: 'integer' },
    stepGid: { type: 'integer' },
    cgroupParent: { type: 'string', minLength: 1 },
    allowUnsandboxed: { type: 'boolean' },
    // Its bounds are checked after the schema (maxLogBytesProblem).
    maxLogBytes: { type: 'integer' },
    // Its scheme is checked after the schema (storeProblem).
    store: { type: 'string', minLength: 1, maxLength: MAX_STORE_URL_LENGTH },
    workDir: { type: 'string', minLength: 1, maxLength: MAX_WORK_DIR_LENGTH },
    kubernetes: {
      type: 'object',
      additionalProperties: false,
      properties: {
        kubeconfig: { type: 'string', minLength: 1 },
        context: { type: 'string', minLength: 1 },
        namespacePrefix: { type: 'string' },
        manageNamespaces: { type: 'boolean' },
        imagePullGrace: durationSchema,
        gcWhenComplete: { type: 'boolean' },
        podTtl: durationSchema,
        storageClass: { type: 'string', minLength: 1 },
      },
    },
  },
} as const

let validator: ValidateFunction | undefined

/**
 * Reads and checks one server config file. The YAML loader and ajv are loaded here, on first use: most starts
 * have no file, and the CLI keeps its start-up small.
 */
export async function loadServerConfig(file: string): Promise<{ file: string; values: ServerConfigFile }> {
  const [{ parseSource }, { schemaIssues, isPlainObject }, { issueAt, fileIssue, sortIssues }] = await Promise.all([
    import('../manifest/load.js'),
    import('../manifest/validate.js'),
    import('../manifest/issues.js'),
  ])
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'no such file or directory' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : String(err)
    throw new ManifestError([fileIssue(file, 'E_FILE', `cannot read the server config file (${why})`)])
  }
  const parsed = parseSource({ file, text }, { interpolate: false, env: {} })
  if (parsed.issues.length > 0) throw new ManifestError(parsed.issues)
  const [doc, extra] = parsed.documents
  if (extra) throw new ManifestError([issueAt(extra, 'E_SCHEMA', [], 'a server config file holds one YAML document; remove the "---" and what follows')])
  if (!doc) return { file, values: {} }
  validator ??= await compileValidator()
  const issues: ManifestIssue[] = validator(doc.value) ? [] : schemaIssues(doc, (validator.errors ?? []) as ErrorObject[])
  // Durations are checked next to the schema, so that one run reports every problem of the file.
  const root = isPlainObject(doc.value) ? doc.value : {}
  const kube = isPlainObject(root['kubernetes']) ? root['kubernetes'] : {}
  const duration = (path: string[], value: unknown, opts: { maxMs: number; allowZero: boolean; bareSeconds: boolean }): void => {
    if (typeof value !== 'string' && typeof value !== 'number') return
    if (path[0] === 'logRetention' && value === 'forever') return
    const r = readDuration(value, { ...opts, what: path[path.length - 1] })
    if (!r.ok) issues.push(issueAt(doc, r.reason === 'too-long' ? 'E_LIMIT' : 'E_DURATION', path, r.message))
  }
  // The same grammar and bounds as the flags (parseRetention, kube-flags.ts), with the file's line.
  duration(['logRetention'], root['logRetention'], { maxMs: MAX_CALENDAR_DURATION_MS, allowZero: true, bareSeconds: false })
  for (const key of ['imagePullGrace', 'podTtl']) duration(['kubernetes', key], kube[key], KUBE_DURATION)
  for (const [key, kind] of [['stepUid', 'uid'], ['stepGid', 'gid']] as const) {
    const value = root[key]
    const problem = Number.isInteger(value) ? stepIdProblem(key, value as number, kind) : undefined
    if (problem) issues.push(issueAt(doc, 'E_SCHEMA', [key], problem))
  }
  if (Number.isInteger(root['maxLogBytes'])) {
    const problem = maxLogBytesProblem(root['maxLogBytes'] as number)
    if (problem) issues.push(issueAt(doc, 'E_SCHEMA', ['maxLogBytes'], problem))
  }
  if (typeof root['store'] === 'string' && root['store'] !== '') {
    const problem = storeProblem('store', root['store'])
    if (problem) issues.push(issueAt(doc, 'E_SCHEMA', ['store'], problem))
  }
  if (typeof root['cgroupParent'] === 'string' && root['cgroupParent'] !== '') {
    const problem = cgroupParentProblem('cgroupParent', root['cgroupParent'])
    if (problem) issues.push(issueAt(doc, 'E_SCHEMA', ['cgroupParent'], problem))
  }
  if (issues.length > 0) throw new ManifestError(sortIssues(issues))
  return { file, values: doc.value as ServerConfigFile }
}

async function compileValidator(): Promise<ValidateFunction> {
  const { Ajv2020 } = await import('ajv/dist/2020.js')
  // As for manifests: all errors at once; verbose for the allowed keys behind "did you mean".
  const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true })
  return ajv.compile(CONFIG_SCHEMA)
}
