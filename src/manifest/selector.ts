// Label selectors in kubectl's grammar (`get -l`): requirements joined by commas, each one of
// `key=value`, `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`, `key` (exists) and
// `!key` (does not exist). One parser for the CLI (which sends the text) and the server (which filters).
import { CtlError } from '../errors.js'
import { labelKeyProblem, labelValueProblem } from './labels.js'

export type Requirement =
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | 'notexists' }

/** Longest selector text accepted, and most requirements / values in one: the server reads it from a query string. */
export const SELECTOR_MAX_LENGTH = 4096
export const SELECTOR_MAX_REQUIREMENTS = 32
export const SELECTOR_MAX_VALUES = 64

function fail(text: string, message: string): never {
  throw new CtlError('E_USAGE', `invalid label selector ${JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text)}: ${message}`)
}

/** Splits at commas outside parentheses. */
function splitTop(text: string): string[] {
  const parts: string[] = []
  let depth = 0
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '(') depth++
    else if (c === ')') depth--
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i))
      start = i + 1
    }
  }
  parts.push(text.slice(start))
  return parts
}

function checkKey(text: string, key: string): string {
  const problem = labelKeyProblem(key)
  if (problem) fail(text, `key "${key}" ${problem}`)
  return key
}

function checkValue(text: string, value: string): string {
  const problem = labelValueProblem(value)
  if (problem) fail(text, `value "${value}" ${problem}`)
  return value
}

/** The requirements of a selector; an empty text selects everything. E_USAGE naming what is wrong. */
export function parseSelector(text: string): Requirement[] {
  if (text.length > SELECTOR_MAX_LENGTH) fail(text, `it is ${text.length} characters long; at most ${SELECTOR_MAX_LENGTH} are allowed`)
  if (text.trim() === '') return []
  const parts = splitTop(text)
  if (parts.length > SELECTOR_MAX_REQUIREMENTS) fail(text, `it has ${parts.length} requirements; at most ${SELECTOR_MAX_REQUIREMENTS} are allowed`)
  return parts.map((raw): Requirement => {
    const part = raw.trim()
    if (part === '') fail(text, 'an empty requirement (two commas in a row, or one at an end)')
    if (part.startsWith('!')) return { key: checkKey(text, part.slice(1).trim()), op: 'notexists' }
    const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(part)
    if (set) {
      const values = set[3]!.split(',').map((v) => checkValue(text, v.trim()))
      if (values.length > SELECTOR_MAX_VALUES) fail(text, `"${set[1]}" lists ${values.length} values; at most ${SELECTOR_MAX_VALUES} are allowed`)
      return { key: checkKey(text, set[1]!), op: set[2] as 'in' | 'notin', values }
    }
    const eq = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(part)
    if (eq) {
      const value = checkValue(text, eq[3]!.trim())
      return { key: checkKey(text, eq[1]!), op: eq[2] === '!=' ? 'notin' : 'in', values: [value] }
    }
    if (/[\s=!()]/.test(part)) fail(text, `cannot read "${part}": use key=value, key!=value, key in (a,b), key notin (a,b), key or !key`)
    return { key: checkKey(text, part), op: 'exists' }
  })
}

/** Whether labels satisfy every requirement (kubectl: `!=` and `notin` also match when the key is absent). */
export function matchesSelector(requirements: readonly Requirement[], labels: Readonly<Record<string, string>> | undefined): boolean {
  for (const r of requirements) {
    const has = labels !== undefined && Object.hasOwn(labels, r.key)
    const value = has ? labels[r.key]! : undefined
    switch (r.op) {
      case 'exists': if (!has) return false; break
      case 'notexists': if (has) return false; break
      case 'in': if (value === undefined || !r.values.includes(value)) return false; break
      case 'notin': if (value !== undefined && r.values.includes(value)) return false; break
    }
  }
  return true
}

/** The selector as text again (normalized): `parseSelector(formatSelector(r))` gives `r` back. */
export function formatSelector(requirements: readonly Requirement[]): string {
  return requirements.map((r) => {
    switch (r.op) {
      case 'exists': return r.key
      case 'notexists': return `!${r.key}`
      case 'in': return r.values.length === 1 ? `${r.key}=${r.values[0]}` : `${r.key} in (${r.values.join(',')})`
      case 'notin': return r.values.length === 1 ? `${r.key}!=${r.values[0]}` : `${r.key} notin (${r.values.join(',')})`
    }
  }).join(',')
}
