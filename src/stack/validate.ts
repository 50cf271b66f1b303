// stackSpec validation against the stack's stackSpecValueSchema, with messages
// a manifest author can act on, and schema defaults for rendering.

import type { Ajv, ErrorObject, ValidateFunction } from 'ajv'
import { lazyModule } from '../lazy-module.js'
import { CtlError } from '../errors.js'
import type { JsonPath, StackDefinition } from '../manifest/model.js'
import { precompiledValidator } from '../manifest/precompiled.js'
import { didYouMean } from '../manifest/suggest.js'

export interface StackSpecIssue {
  /** Relative to the step's stackSpec. */
  path: JsonPath
  message: string
}

// verbose: errors carry parentSchema, whose properties feed "did you mean".
export const STACKSPEC_AJV_OPTIONS = { allErrors: true, strict: false, verbose: true } as const
// Ajv itself (86 modules) is loaded only to compile a schema the build did not precompile
// (src/manifest/precompiled.ts), or to fill defaults: a lint of built-in stacks never needs it.
const ajvModule = lazyModule<typeof import('ajv')>('ajv')
type AjvKind = 'strict' | 'defaults'
const instances: Partial<Record<AjvKind, Ajv>> = {}
function ajvFor(kind: AjvKind): Ajv {
  const { Ajv: AjvClass } = ajvModule()
  return (instances[kind] ??= kind === 'strict' ? new AjvClass({ ...STACKSPEC_AJV_OPTIONS }) : new AjvClass({ allErrors: true, strict: false, useDefaults: true }))
}

// Keyed by the schema text: an applied stack that replaces a built-in with the
// same name:version but another schema must not reuse the old validator.
const validators = new Map<string, ValidateFunction>()
const defaulters = new Map<string, ValidateFunction>()

function validatorFor(kind: AjvKind, cache: Map<string, ValidateFunction>, stack: StackDefinition): ValidateFunction {
  const key = `${stack.name}:${stack.version}:${JSON.stringify(stack.stackSpecJsonSchema)}`
  let v = cache.get(key)
  if (!v) {
    try {
      v = (kind === 'strict' ? precompiledValidator('stackspec', JSON.stringify(stack.stackSpecJsonSchema)) : undefined) ?? ajvFor(kind).compile(stack.stackSpecJsonSchema)
    } catch (err) {
      throw new CtlError('E_STACK_SPEC', `stack "${stack.name}:${stack.version}" has an invalid stackSpecValueSchema: ${(err as Error).message}`)
    }
    if (cache.size > 500) cache.clear()
    cache.set(key, v)
  }
  return v
}

function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === '') return []
  return pointer
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p))
}

const ARTICLE: Record<string, string> = {
  string: 'a string', number: 'a number', integer: 'an integer', boolean: 'a boolean',
  object: 'an object', array: 'an array', null: 'null',
}

function message(err: ErrorObject): string {
  const p = err.params as Record<string, unknown>
  switch (err.keyword) {
    case 'required':
      return `missing required field "${String(p.missingProperty)}"`
    case 'additionalProperties': {
      const field = String(p.additionalProperty)
      const props = (err.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties
      const hint = props ? didYouMean(field, Object.keys(props), { declared: true }) : undefined
      return hint ? `unknown field "${field}"; did you mean "${hint}"?` : `unknown field "${field}"`
    }
    case 'type': {
      const types = String(p.type).split(',')
      return `must be ${types.map((t) => ARTICLE[t] ?? t).join(' or ')}`
    }
    case 'enum':
      return `must be one of: ${(p.allowedValues as unknown[]).map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ')}`
    case 'const':
      return `must be ${JSON.stringify(p.allowedValue)}`
    default:
      return err.message ?? 'is invalid'
  }
}

/** Compiles (and caches) the stack's stackSpec schema; a CtlError E_STACK_SPEC when it is not a valid JSON Schema. */
export function checkStackSpecSchema(stack: StackDefinition): void {
  validatorFor('strict', validators, stack)
}

/** Problems of one stackSpec, empty when valid. Paths are relative to the stackSpec. */
export function validateStackSpec(stack: StackDefinition, stackSpec: unknown): StackSpecIssue[] {
  const validate = validatorFor('strict', validators, stack)
  if (validate(stackSpec)) return []
  const errors = validate.errors ?? []
  const issues: StackSpecIssue[] = []
  const seen = new Set<string>()
  // anyOf/oneOf summaries repeat what the branch errors already said.
  const specific = errors.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf' && e.keyword !== 'if')
  for (const err of specific.length ? specific : errors) {
    const path = pointerToPath(err.instancePath)
    if (err.keyword === 'additionalProperties') path.push(String((err.params as { additionalProperty: string }).additionalProperty))
    const issue = { path, message: message(err) }
    const key = JSON.stringify(issue)
    if (seen.has(key)) continue
    seen.add(key)
    issues.push(issue)
  }
  return issues
}

/** A copy of stackSpec with the schema's `default`s filled in, as templates see it. */
export function applyStackSpecDefaults(stack: StackDefinition, stackSpec: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(stackSpec)
  validatorFor('defaults', defaulters, stack)(copy)
  return copy
}
