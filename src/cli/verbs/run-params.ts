// `--param k=v` (repeatable) and `--params-file f.yaml`: the params a run starts with, read on the
// client. Values from `--param` are typed by the workflow's declaration (coerceParamText: JSON for
// arrays and objects); a file's values are typed by YAML itself. `--param` wins over a file key.
// The server checks the result against the declarations again (422 naming the param).
import { readFile } from 'node:fs/promises'
import { CtlError, ManifestError } from '../../errors.js'
import { fileIssue, issueAt } from '../../manifest/issues.js'
import { checkRunParamsSize } from '../../manifest/limits.js'
import { parseSource } from '../../manifest/load.js'
import type { ParamSpec } from '../../manifest/model.js'
import { coerceParamText, PARAM_NAME_PATTERN } from '../../manifest/params.js'

export interface ParamFlags {
  param?: string[]
  'params-file'?: string
}

/** A param name as the manifest declares it: what `{{.params.NAME}}` and CEL `params.NAME` can read. */
const PARAM_KEY = PARAM_NAME_PATTERN

/** `k=v` → [k, v]; a missing `=` or a bad key is a usage error (exit 2) naming the argument. */
export function splitParamFlag(arg: string): [string, string] {
  const eq = arg.indexOf('=')
  if (eq < 0) throw new CtlError('E_USAGE', `--param "${arg}": expected NAME=VALUE`, { param: arg })
  const key = arg.slice(0, eq)
  if (!PARAM_KEY.test(key)) {
    throw new CtlError('E_USAGE', `--param "${arg}": "${key}" is not a param name (letters, digits and _, not starting with a digit, at most 63)`, { param: key })
  }
  return [key, arg.slice(eq + 1)]
}

/** The `--params-file`: one YAML or JSON mapping. Problems are located in the file. */
export async function readParamsFile(file: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new CtlError('E_FILE', `no such file: ${file}`, { file })
    throw new ManifestError([fileIssue(file, 'E_FILE', `cannot read the params file (${(err as Error).message})`)])
  }
  const { documents, issues } = parseSource({ file, text }, { interpolate: false, env: {} })
  if (issues.length > 0) throw new ManifestError(issues)
  const [doc, second] = documents
  if (second) throw new ManifestError([issueAt(second, 'E_PARAMS', [], 'a params file holds one mapping of param names to values, not several documents')])
  if (!doc) return {}
  const value = doc.value
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new ManifestError([issueAt(doc, 'E_PARAMS', [], `a params file holds a mapping of param names to values, not ${Array.isArray(value) ? 'a list' : `a ${value === null ? 'null' : typeof value}`}`)])
  }
  for (const key of Object.keys(value)) {
    if (!PARAM_KEY.test(key)) throw new ManifestError([issueAt(doc, 'E_PARAMS', [key], `"${key}" is not a param name (letters, digits and _, not starting with a digit, at most 63)`)])
  }
  return value as Record<string, unknown>
}

/** Whether any params flag was given (then the workflow's declarations are needed to type them). */
export function hasParamFlags(flags: ParamFlags): boolean {
  return (flags.param?.length ?? 0) > 0 || flags['params-file'] !== undefined
}

/** Checks `--param` syntax before anything is read or sent, so a typo is a usage error (exit 2) first. */
export function validateParamFlags(flags: ParamFlags): void {
  for (const arg of flags.param ?? []) splitParamFlag(arg)
}

/**
 * The params to send: the file's, then each `--param` typed by its declaration. Undefined when
 * neither flag was given (the run uses the defaults). Names not declared go as strings: the server
 * refuses them, naming them.
 */
export async function paramsFromFlags(flags: ParamFlags, decls: readonly ParamSpec[] | undefined): Promise<Record<string, unknown> | undefined> {
  if (!hasParamFlags(flags)) return undefined
  const params: Record<string, unknown> = flags['params-file'] !== undefined ? { ...(await readParamsFile(flags['params-file'])) } : {}
  const byName = new Map((decls ?? []).map((d) => [d.name, d]))
  for (const arg of flags.param ?? []) {
    const [key, text] = splitParamFlag(arg)
    params[key] = coerceParamText(byName.get(key), text)
  }
  checkRunParamsSize(params)
  return params
}

/** `version=1.2.3 regions=["eu","us"]`: strings as they are, other values as JSON. */
export function formatParams(params: Record<string, unknown>): string {
  return Object.entries(params).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')
}
