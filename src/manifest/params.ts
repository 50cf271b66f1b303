// Run parameters, pure: their declarations (lint), the values a run is given (run start), the CLI's text form
// and what must be redacted. The server, the CLI and the scheduler all resolve params through resolveParams.
import { CtlError } from '../errors.js'
import { didYouMean } from './suggest.js'
import { shownValue } from './issues.js'
import { MAX_PARAMS } from './limits.js'
import type { ParamSpec, ParamType } from './model.js'

/**
 * A param name: usable as `{{.params.NAME}}` and as CEL `params.NAME`, so an identifier that is no CEL
 * reserved word.
 */
export const PARAM_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/
const CEL_RESERVED = new Set([
  'true', 'false', 'null', 'in', 'as', 'break', 'const', 'continue', 'else', 'for', 'function', 'if', 'import',
  'let', 'loop', 'package', 'namespace', 'return', 'var', 'void', 'while',
])

const ARTICLE: Record<ParamType, string> = {
  string: 'a string', integer: 'an integer', number: 'a number', boolean: 'a boolean', array: 'an array', object: 'an object',
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Whether `value` has the declared type (an integer is a whole number; a number is finite). */
export function hasParamType(type: ParamType, value: unknown): boolean {
  switch (type) {
    case 'string': return typeof value === 'string'
    case 'integer': return typeof value === 'number' && Number.isSafeInteger(value)
    case 'number': return typeof value === 'number' && Number.isFinite(value)
    case 'boolean': return typeof value === 'boolean'
    case 'array': return Array.isArray(value)
    case 'object': return isPlainObject(value)
  }
}

// Deep equality of JSON values, for enum membership: key order does not matter.
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]))
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a)
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]))
  }
  return false
}

/** A value in a message: strings quoted, so that `"3"` and `3` read apart. */
const shown = (value: unknown): string => (typeof value === 'string' ? JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value) : shownValue(value))
const inEnum = (decl: ParamSpec, value: unknown): boolean => decl.enum === undefined || decl.enum.some((e) => jsonEqual(e, value))
const enumText = (decl: ParamSpec): string => (decl.enum ?? []).map(shown).join(', ')

/** One problem of the declarations; `index` is the param's position, `field` the key at fault (absent: the entry). */
export interface ParamDeclarationProblem {
  index: number
  field?: 'name' | 'default' | 'enum' | 'required'
  message: string
}

/** Lint of `params`: names unique and name-shaped, at most MAX_PARAMS, defaults and enum values of the declared type. */
export function checkParamDeclarations(decls: readonly ParamSpec[]): ParamDeclarationProblem[] {
  const problems: ParamDeclarationProblem[] = []
  if (decls.length > MAX_PARAMS) problems.push({ index: MAX_PARAMS, message: `the workflow declares ${decls.length} params; at most ${MAX_PARAMS} are allowed` })
  const seen = new Set<string>()
  decls.forEach((decl, index) => {
    if (!PARAM_NAME_PATTERN.test(decl.name)) {
      problems.push({ index, field: 'name', message: `param name "${decl.name}" must be an identifier (letters, digits and _, not starting with a digit, at most 63 characters)` })
    } else if (decl.name.startsWith('__')) {
      problems.push({ index, field: 'name', message: `param name "${decl.name}" starts with "__", which is reserved` })
    } else if (CEL_RESERVED.has(decl.name)) {
      problems.push({ index, field: 'name', message: `param name "${decl.name}" is a reserved word of CEL (conditions could not name it)` })
    }
    if (seen.has(decl.name)) problems.push({ index, field: 'name', message: `param "${decl.name}" is declared twice` })
    seen.add(decl.name)
    const enumBad = (decl.enum ?? []).filter((e) => !hasParamType(decl.type, e))
    if (enumBad.length > 0) {
      problems.push({ index, field: 'enum', message: `param "${decl.name}" is ${ARTICLE[decl.type]}; its enum holds ${enumBad.map(shown).join(', ')}` })
    }
    if (decl.required && decl.default !== undefined) {
      problems.push({ index, field: 'required', message: `param "${decl.name}" is required and has a default; a default makes it optional: drop one of the two` })
    }
    if (decl.default !== undefined) {
      if (!hasParamType(decl.type, decl.default)) {
        problems.push({ index, field: 'default', message: `the default of param "${decl.name}" must be ${ARTICLE[decl.type]}; it is ${shown(decl.default)}` })
      } else if (!inEnum(decl, decl.default)) {
        problems.push({ index, field: 'default', message: `the default of param "${decl.name}" is ${shown(decl.default)}, not one of its enum: ${enumText(decl)}` })
      }
    }
  })
  return problems
}

/** Why `value` is not acceptable for `decl`, or undefined. */
function valueProblem(decl: ParamSpec, value: unknown): string | undefined {
  // A secret param's value is never quoted: the message reaches the caller and the audit log.
  const got = decl.secret ? `got ${kindOf(value)} (not shown: the param is secret)` : `got ${shown(value)}`
  if (!hasParamType(decl.type, value)) return `param "${decl.name}" must be ${ARTICLE[decl.type]}; ${got}`
  if (!inEnum(decl, value)) return `param "${decl.name}" must be one of ${decl.secret ? 'its enum' : enumText(decl)}; ${got}`
  return undefined
}

/** What kind of JSON value came, in the words of the param types (ARTICLE). */
const kindOf = (value: unknown): string => {
  if (value === null) return 'null'
  const kind = Array.isArray(value) ? 'array' : typeof value
  return kind in ARTICLE ? ARTICLE[kind as ParamType] : 'a value'
}

/**
 * The params of a run: the given values checked against the declarations, defaults applied (a param neither
 * given nor defaulted stays absent). Throws CtlError E_PARAMS naming every param at fault: unknown, missing
 * required, wrong type, not in its enum.
 */
export function resolveParams(decls: readonly ParamSpec[] | undefined, given: Record<string, unknown>): Record<string, unknown> {
  const declared = decls ?? []
  const names = declared.map((d) => d.name)
  const problems: string[] = []
  for (const name of Object.keys(given)) {
    if (names.includes(name)) continue
    if (names.length === 0) problems.push(`unknown param "${name}": the workflow declares no params`)
    else {
      const hint = didYouMean(name, names, { declared: true })
      problems.push(`unknown param "${name}"${hint ? `; did you mean "${hint}"?` : ''} (declared: ${names.join(', ')})`)
    }
  }
  // Entries, then fromEntries: a key such as "__proto__" stays a plain own key.
  const out: [string, unknown][] = []
  for (const decl of declared) {
    if (Object.hasOwn(given, decl.name) && given[decl.name] !== undefined) {
      const value = given[decl.name]
      const problem = valueProblem(decl, value)
      if (problem) problems.push(problem)
      else out.push([decl.name, value])
    } else if (decl.default !== undefined) {
      out.push([decl.name, structuredClone(decl.default)])
    } else if (decl.required) {
      problems.push(`param "${decl.name}" is required${decl.description ? ` (${decl.description})` : ''}; give it with --param ${decl.name}=…`)
    }
  }
  if (problems.length > 0) {
    // A request with thousands of unknown keys gets a message of a readable size.
    const shownProblems = problems.length > 20 ? [...problems.slice(0, 20), `and ${problems.length - 20} more`] : problems
    throw new CtlError('E_PARAMS', shownProblems.join('; '), { problems: shownProblems })
  }
  return Object.fromEntries(out)
}

const INTEGER_TEXT = /^[-+]?\d+$/
const NUMBER_TEXT = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/

/**
 * A `--param k=v` value, typed by the declaration: integer, number and boolean parsed strictly, array and
 * object as JSON, string as is. Undeclared: the text, so that resolveParams names it as unknown.
 * Throws CtlError E_PARAMS when the text is not of the declared type.
 */
export function coerceParamText(decl: ParamSpec | undefined, text: string): unknown {
  if (decl === undefined || decl.type === 'string') return text
  const bad = (what: string): CtlError => new CtlError('E_PARAMS', `param "${decl.name}" must be ${what}; got ${JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text)}`)
  switch (decl.type) {
    case 'integer': {
      const n = Number(text)
      if (!INTEGER_TEXT.test(text) || !Number.isSafeInteger(n)) throw bad('an integer')
      return n
    }
    case 'number': {
      const n = Number(text)
      if (!NUMBER_TEXT.test(text) || !Number.isFinite(n)) throw bad('a number')
      return n
    }
    case 'boolean':
      if (text === 'true') return true
      if (text === 'false') return false
      throw bad('true or false')
    case 'array':
    case 'object': {
      let parsed: unknown
      try {
        parsed = JSON.parse(text)
      } catch {
        throw bad(`${ARTICLE[decl.type]} in JSON`)
      }
      if (!hasParamType(decl.type, parsed)) throw bad(`${ARTICLE[decl.type]} in JSON`)
      return parsed
    }
  }
}

/** The string forms of the secret params' values (as given, as JSON, and every string inside), for redaction. */
export function secretParamValues(decls: readonly ParamSpec[] | undefined, values: Record<string, unknown>): string[] {
  const out = new Set<string>()
  const leaves = (v: unknown): void => {
    if (typeof v === 'string') out.add(v)
    else if (typeof v === 'number' || typeof v === 'boolean') out.add(String(v))
    else if (Array.isArray(v)) v.forEach(leaves)
    else if (isPlainObject(v)) Object.values(v).forEach(leaves)
  }
  for (const decl of decls ?? []) {
    if (decl.secret !== true || !Object.hasOwn(values, decl.name)) continue
    const value = values[decl.name]
    leaves(value)
    if (typeof value === 'object' && value !== null) out.add(JSON.stringify(value))
  }
  // The redactor applies its own minimum length; an empty string would match everywhere.
  return [...out].filter((s) => s.length > 0)
}
