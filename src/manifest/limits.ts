// Upper bounds on what a manifest may ask for. The server runs the core on every apply, so each count, size
// and duration a user controls has a ceiling here, checked at lint with a located issue (422 from the API):
// nothing a manifest says can overflow a timer, a Date or an integer column, or make the control plane
// loop over millions of entries. The JSON Schemas carry the same numbers as `maximum` / `maxItems` (a test
// keeps them equal); steps per workflow is the one bound a server can change (`--max-steps-per-workflow`).
import { MS, readDuration, type DurationOptions } from '../duration.js'
import { CtlError, type ManifestIssue } from '../errors.js'
import { issueAt } from './issues.js'
import type { JsonPath, LoadedDocument } from './model.js'

export const MANIFEST_LIMITS = {
  /** A step's `timeout` / `activeDeadlineSeconds`: 7 days (Node's timers end at ~24.8 days). */
  stepTimeoutMs: 7 * MS.d,
  /** An approval step's `approval.timeout`: 30 days. */
  approvalTimeoutMs: 30 * MS.d,
  /** A workflow's `spec.timeout`, counted from the run's start: 30 days (checked on every pass, no long timer). */
  workflowTimeoutMs: 30 * MS.d,
  /** `spec.finallyTimeout`: how long finally steps may take, 1 day; 5 minutes when not given. */
  finallyTimeoutMs: MS.d,
  /** Steps in `spec.finally`. */
  finallySteps: 100,
  /** Extra attempts of a step (`retry.count`). */
  retryCount: 100,
  /** `retry.duration`, the first backoff; later ones are capped at this too. */
  retryDelayMs: MS.d,
  /** `retry.maxDuration`, the time spent retrying. */
  retryMaxDurationMs: 7 * MS.d,
  /** `retry.factor`, the backoff multiplier. */
  retryFactor: 10,
  /** `parallelism` of a workflow. */
  parallelism: 1000,
  /** `runAsUser`: a non-negative 32-bit id. */
  runAsUser: 2_147_483_647,
  /** Steps in one workflow's DAG, unless the server sets another bound. */
  stepsPerWorkflow: 5000,
  /** `schedule.crons` entries of one workflow. */
  cronsPerWorkflow: 100,
  /** `schedule.maxCatchUp`: missed fire times one restart may run (catchUp: all). */
  maxCatchUp: 1000,
  /** Any one string (or mapping key) of a manifest, in UTF-16 code units: 1 MiB. */
  stringLength: 1024 * 1024,
  /** An environment variable name. */
  envNameLength: 256,
  /** Declared run parameters of one workflow (`params`). */
  params: 100,
  /** Items of one `forEach` (literal or evaluated at run time). */
  forEachItems: 1000,
  /** Combinations of one `matrix`, after exclude and include. */
  matrixCombinations: 256,
  /** Axes of one `matrix`, values of one axis, and entries of `include` / `exclude`. */
  matrixAxes: 16,
  matrixAxisValues: 256,
  matrixEntries: 256,
} as const

/** Items of one `forEach` at most (the engine may be configured lower or higher; lint uses this). */
export const MAX_FOREACH_ITEMS = MANIFEST_LIMITS.forEachItems
/** Combinations of one `matrix` at most. */
export const MAX_MATRIX_COMBINATIONS = MANIFEST_LIMITS.matrixCombinations
/** Declared params of one workflow at most. */
export const MAX_PARAMS = MANIFEST_LIMITS.params

export type FanoutKind = 'forEach' | 'matrix'

/** Why a fan-out of `n` instances is refused, or undefined when it is allowed. Lint and engine share it. */
export function fanoutSizeProblem(n: number, kind: FanoutKind, max?: number): string | undefined {
  const bound = max ?? (kind === 'forEach' ? MAX_FOREACH_ITEMS : MAX_MATRIX_COMBINATIONS)
  if (n <= bound) return undefined
  return kind === 'forEach'
    ? `forEach yields ${n} items; at most ${bound} are allowed`
    : `matrix yields ${n} combinations; at most ${bound} are allowed`
}

/** Throws CtlError E_LIMIT when a fan-out of `n` instances is over its bound (the engine's form of the check). */
export function checkFanoutSize(n: number, kind: FanoutKind, max?: number): void {
  const problem = fanoutSizeProblem(n, kind, max)
  if (problem !== undefined) throw new CtlError('E_LIMIT', problem, { kind, count: n, max: max ?? (kind === 'forEach' ? MAX_FOREACH_ITEMS : MAX_MATRIX_COMBINATIONS) })
}

/**
 * Step outputs ($CTL_OUTPUTS, read by src/runtime/local/outputs.mjs): the bytes of one attempt's file, its keys
 * and the length of a key. On Kubernetes the kubelet keeps at most 4 KiB of it (the termination message).
 */
export const OUTPUT_LIMITS = { maxBytes: 1024 * 1024, maxKeys: 1000, maxKeyLength: 128 } as const
export const MAX_OUTPUT_BYTES = OUTPUT_LIMITS.maxBytes

/** Bounds a server may change; lint offline uses the defaults. */
export interface ManifestLimitSettings {
  maxStepsPerWorkflow?: number
  /** Items of one forEach (a literal list at lint; the engine checks what an expression yields). */
  maxForEachItems?: number
}

/** A duration field of a manifest → milliseconds, or a located issue (E_DURATION bad text, E_LIMIT too long). */
export function durationField(
  doc: LoadedDocument,
  path: JsonPath,
  text: string,
  opts: Omit<DurationOptions, 'code'> & { what: string },
  issues: ManifestIssue[],
): number | undefined {
  const r = readDuration(text, opts)
  if (r.ok) return r.ms
  issues.push(issueAt(doc, r.reason === 'too-long' ? 'E_LIMIT' : 'E_DURATION', path, r.message))
  return undefined
}

// POSIX names: what a shell can read back ($NAME). Kubernetes also allows `-` and `.`, which no shell can use.
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Why a manifest may not set this environment variable; undefined when it may. */
export function envNameProblem(name: string): string | undefined {
  if (name.length > MANIFEST_LIMITS.envNameLength) return `environment variable name is longer than ${MANIFEST_LIMITS.envNameLength} characters`
  if (!ENV_NAME.test(name)) return `"${name}" is not an environment variable name (letters, digits and _, not starting with a digit)`
  // PATH decides which programs a step runs; CTL_* are the control plane's facts for the step. CTL_APIKEY is
  // the exception: the control plane never sets it, it is the step's own key, projected from a secret.
  if (name === 'PATH' || (name.startsWith('CTL_') && name !== 'CTL_APIKEY')) {
    return `environment variable "${name}" is set by the control plane and cannot be set by a manifest (PATH and CTL_* other than CTL_APIKEY are reserved)`
  }
  return undefined
}

/** Steps of a raw workflow body beyond the bound; checked before the schema so a huge DAG costs no more work. */
export function stepCountIssues(doc: LoadedDocument, settings: ManifestLimitSettings | undefined): ManifestIssue[] {
  const max = settings?.maxStepsPerWorkflow ?? MANIFEST_LIMITS.stepsPerWorkflow
  const value = doc.value
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return []
  const root = value as Record<string, unknown>
  if (root['type'] !== 'workflow') return []
  const issues: ManifestIssue[] = []
  for (const bodyKey of ['workflow', 'spec']) {
    const body = root[bodyKey]
    const dag = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['dag'] : undefined
    if (Array.isArray(dag) && dag.length > max) {
      issues.push(issueAt(doc, 'E_LIMIT', [bodyKey, 'dag'], `the workflow has ${dag.length} steps; at most ${max} are allowed in one workflow`))
    }
  }
  return issues
}

/**
 * Every string and key of a raw document: no NUL byte (C programs, paths and the environment would cut the
 * value there), none longer than the bound. Runs before the schema, so that nothing later sees them.
 */
export function rawValueIssues(doc: LoadedDocument): ManifestIssue[] {
  const issues: ManifestIssue[] = []
  const max = MANIFEST_LIMITS.stringLength
  const check = (text: string, path: JsonPath, what: string): void => {
    if (issues.length >= 20) return // enough to fix; a hostile document could hold millions
    if (text.length > max) issues.push(issueAt(doc, 'E_LIMIT', path, `${what} is ${text.length} characters long; at most ${max} are allowed`))
    else if (text.includes('\0')) issues.push(issueAt(doc, 'E_SCHEMA', path, `${what} contains a NUL byte`))
  }
  // Each node points at its parent: a path is built only for an issue, not copied for every node.
  interface Frame { node: unknown; parent?: Frame; key?: string | number }
  const pathOf = (frame: Frame): JsonPath => {
    const path: (string | number)[] = []
    for (let f: Frame | undefined = frame; f?.key !== undefined; f = f.parent) path.push(f.key)
    return path.reverse()
  }
  const stack: Frame[] = [{ node: doc.value }]
  while (stack.length > 0) {
    const frame = stack.pop()!
    const node = frame.node
    if (typeof node === 'string') {
      if (node.length > max || node.includes('\0')) check(node, pathOf(frame), 'the value')
    } else if (Array.isArray(node)) node.forEach((child, i) => stack.push({ node: child, parent: frame, key: i }))
    else if (typeof node === 'object' && node !== null) {
      for (const [key, child] of Object.entries(node)) {
        const childFrame: Frame = { node: child, parent: frame, key }
        if (key.length > max || key.includes('\0')) check(key, pathOf(childFrame), `the key ${JSON.stringify(key.slice(0, 40))}`)
        stack.push(childFrame)
      }
    }
  }
  return issues
}

/** The params given to one run (a POST runs body, an apply's `params`, `--param` / `--params-file`), as JSON: 64 KiB. */
export const MAX_RUN_PARAMS_BYTES = 64 * 1024

/** Throws CtlError E_TOO_LARGE (413) when the given params are over MAX_RUN_PARAMS_BYTES as JSON. */
export function checkRunParamsSize(params: Record<string, unknown>): void {
  const bytes = Buffer.byteLength(JSON.stringify(params), 'utf8')
  if (bytes > MAX_RUN_PARAMS_BYTES) {
    throw new CtlError('E_TOO_LARGE', `params are ${bytes} bytes as JSON; at most ${MAX_RUN_PARAMS_BYTES} are allowed`, { bytes, max: MAX_RUN_PARAMS_BYTES })
  }
}

/** Step names one `runtime run` may give to --skip, and to --only (each). */
export const MAX_STEP_SELECTION = 100
/** Fire times one backfill request may cover. */
export const MAX_BACKFILL_FIRES = 1000
/** `--parallel` of a backfill: its runs at once. */
export const MAX_BACKFILL_PARALLEL = 100
/** Backfills of one workflow going on at once (each up to MAX_BACKFILL_FIRES runs). */
export const MAX_ACTIVE_BACKFILLS = 10
