// `${VAR}` / `$VAR` interpolation of string values, the way dataos-ctl fills
// manifests from the environment. It runs on parsed scalars, not on the file
// text, so a variable's content can never add keys or change the YAML shape.

/**
 * Keys whose values are command lines (stackSpec `script`, `command`, `arguments`; a stack's own
 * `command` and `arguments`): left to the step's shell, whose `${#x}` and `${x:0:3}` are not ours,
 * unless the document opts in with a top-level `interpolate: scripts`.
 */
export const SCRIPT_KEYS: ReadonlySet<string> = new Set(['script', 'command', 'arguments'])

/** The top-level `interpolate` value that extends interpolation to command lines. */
export const INTERPOLATE_SCRIPTS = 'scripts'

/** Maps whose keys are variable names: `envs: {command: …}` is configuration, not a command line. */
const VARIABLE_MAPS: ReadonlySet<string> = new Set(['envs', 'env', 'environmentVars'])

/** Whether a value at `path` (keys and indexes from the document's root) lies in a command line. */
export function inScript(path: readonly (string | number)[]): boolean {
  return path.some((part, i) => typeof part === 'string' && SCRIPT_KEYS.has(part) && !VARIABLE_MAPS.has(String(path[i - 1])))
}

const NAME_START = /[A-Za-z_]/
const NAME_AT = /[A-Za-z_][A-Za-z0-9_]*/y
const BRACED_AT = /([A-Za-z_][A-Za-z0-9_]*)\}/y

export interface InterpolationResult {
  value: string
  /** Variables referenced but not set, in order of appearance, without repeats. */
  missing: string[]
}

/**
 * Replaces `${VAR}` and `$VAR` from `env`; `$$` is a literal `$`; an unset `$VAR` is kept. Text inside
 * `{{ ... }}` (projection / stack templates) and DataOS `${{ ... }}`
 * placeholders is copied untouched. A `$` that starts nothing is kept as is.
 */
export function interpolateString(input: string, env: Record<string, string | undefined>): InterpolationResult {
  if (!input.includes('$')) return { value: input, missing: [] }
  const missing: string[] = []
  let out = ''
  let i = 0
  const copyTemplate = (from: number, bodyStart: number): void => {
    const end = input.indexOf('}}', bodyStart)
    const stop = end < 0 ? input.length : end + 2
    out += input.slice(from, stop)
    i = stop
  }
  // An unset bare `$VAR` stays as written: shell scripts inside stackSpec keep
  // their own variables. An unset `${VAR}` is an error, since braces say "fill me".
  const substitute = (name: string, raw: string, braced: boolean): void => {
    const value = env[name]
    if (value === undefined) {
      if (braced && !missing.includes(name)) missing.push(name)
      out += raw
    } else out += value
  }
  while (i < input.length) {
    const ch = input[i]
    if (ch === '{' && input[i + 1] === '{') {
      copyTemplate(i, i + 2)
      continue
    }
    if (ch !== '$') {
      out += ch
      i++
      continue
    }
    const next = input[i + 1]
    if (next === '$') {
      out += '$'
      i += 2
      continue
    }
    if (next === '{') {
      if (input[i + 2] === '{') {
        copyTemplate(i, i + 3)
        continue
      }
      BRACED_AT.lastIndex = i + 2
      const m = BRACED_AT.exec(input)
      if (m) {
        substitute(m[1]!, '${' + m[0], true)
        i = BRACED_AT.lastIndex
        continue
      }
    } else if (next !== undefined && NAME_START.test(next)) {
      NAME_AT.lastIndex = i + 1
      const m = NAME_AT.exec(input)!
      substitute(m[0], '$' + m[0], false)
      i = NAME_AT.lastIndex
      continue
    }
    out += '$'
    i++
  }
  return { value: out, missing }
}

/**
 * An unquoted scalar whose whole text came from a variable (`runAsUser: ${UID}`)
 * should keep the type YAML would have given the text: numbers and booleans
 * only, never collections.
 */
export function retypePlainScalar(text: string): string | number | boolean | null {
  if (/^[-+]?[0-9]+$/.test(text)) {
    const n = Number(text)
    return Number.isSafeInteger(n) ? n : text
  }
  if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(text)) return Number(text)
  if (/^(true|True|TRUE)$/.test(text)) return true
  if (/^(false|False|FALSE)$/.test(text)) return false
  if (/^(null|Null|NULL|~)?$/.test(text)) return text === '' ? '' : null
  return text
}
