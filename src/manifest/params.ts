// TEMPORARY (engineer params): the signatures engineer lang is writing in this very file, so the run
// plumbing can be built and tested before it lands. Replaced wholesale by lang's version on merge.
import { CtlError } from '../errors.js'
import type { ParamSpec, ParamType } from './model.js'

function typeOf(value: unknown): ParamType | 'null' {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number'
  if (typeof value === 'object') return 'object'
  return typeof value as ParamType
}

function fits(decl: ParamSpec, value: unknown): boolean {
  const t = typeOf(value)
  return t === decl.type || (decl.type === 'number' && t === 'integer')
}

export function resolveParams(decls: readonly ParamSpec[] | undefined, given: Record<string, unknown>): Record<string, unknown> {
  const byName = new Map((decls ?? []).map((d) => [d.name, d]))
  for (const name of Object.keys(given)) {
    if (!byName.has(name)) throw new CtlError('E_PARAMS', `unknown param "${name}"${byName.size ? `; declared: ${[...byName.keys()].join(', ')}` : '; the workflow declares none'}`, { param: name })
  }
  const out: Record<string, unknown> = {}
  for (const d of decls ?? []) {
    const has = Object.prototype.hasOwnProperty.call(given, d.name)
    if (!has && d.default === undefined) {
      if (d.required) throw new CtlError('E_PARAMS', `param "${d.name}" is required`, { param: d.name })
      continue
    }
    const value = has ? given[d.name] : d.default
    if (!fits(d, value)) throw new CtlError('E_PARAMS', `param "${d.name}" must be ${d.type}, got ${typeOf(value)}`, { param: d.name })
    if (d.enum && !d.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
      throw new CtlError('E_PARAMS', `param "${d.name}" must be one of ${d.enum.map((e) => JSON.stringify(e)).join(', ')}`, { param: d.name })
    }
    out[d.name] = value
  }
  return out
}

export function coerceParamText(decl: ParamSpec | undefined, text: string): unknown {
  if (!decl || decl.type === 'string') return text
  switch (decl.type) {
    case 'integer':
    case 'number': {
      const n = Number(text)
      if (text.trim() === '' || !Number.isFinite(n) || (decl.type === 'integer' && !Number.isInteger(n))) {
        throw new CtlError('E_PARAMS', `param "${decl.name}" must be ${decl.type}, got "${text}"`, { param: decl.name })
      }
      return n
    }
    case 'boolean':
      if (text === 'true') return true
      if (text === 'false') return false
      throw new CtlError('E_PARAMS', `param "${decl.name}" must be boolean (true or false), got "${text}"`, { param: decl.name })
    default:
      try {
        return JSON.parse(text) as unknown
      } catch {
        throw new CtlError('E_PARAMS', `param "${decl.name}" must be JSON (${decl.type}), got "${text}"`, { param: decl.name })
      }
  }
}

export function secretParamValues(decls: readonly ParamSpec[] | undefined, values: Record<string, unknown>): string[] {
  const out: string[] = []
  for (const d of decls ?? []) {
    if (!d.secret || values[d.name] === undefined) continue
    const v = values[d.name]
    out.push(typeof v === 'string' ? v : JSON.stringify(v))
  }
  return out
}
