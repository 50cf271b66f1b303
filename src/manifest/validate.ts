// Schema validation of one document, with ajv's errors turned into located
// issues in plain words: the user sees `unknown field "dependson"; did you
// mean "depends"?`, not `must NOT have additional properties`.

import type { ErrorObject } from 'ajv'
import type { ManifestIssue } from '../errors.js'
import { issueAt, shownValue } from './issues.js'
import { RESOURCE_TYPES, type JsonPath, type LoadedDocument, type ManifestVersion, type ResourceType } from './model.js'
import { bodyKeyFor, isManifestVersion, isResourceType, supportedVersions, validatorFor } from './schemas.js'
import { suggestionSuffix, unknownMessage } from './suggest.js'

export interface DocumentHeader {
  type: ResourceType
  version: ManifestVersion
  bodyKey: string
}

/** Type and version first: they choose the schema, so nothing else can be checked without them. */
export function checkHeader(doc: LoadedDocument): { header?: DocumentHeader; issues: ManifestIssue[] } {
  const value = doc.value
  if (!isPlainObject(value)) {
    return { issues: [issueAt(doc, 'E_SCHEMA', [], 'a manifest must be a mapping with name, version, type and a body')] }
  }
  const issues: ManifestIssue[] = []
  const { type, version } = value
  if (type === undefined) issues.push(issueAt(doc, 'E_SCHEMA', ['type'], 'missing required field "type"'))
  else if (!isResourceType(type)) {
    issues.push(issueAt(doc, 'E_UNKNOWN_TYPE', ['type'], unknownMessage('type', shownValue(type), RESOURCE_TYPES, 'known types')))
  }
  if (version === undefined) issues.push(issueAt(doc, 'E_SCHEMA', ['version'], 'missing required field "version"'))
  if (issues.length > 0 || !isResourceType(type)) return { issues }
  const supported = supportedVersions(type)
  if (!isManifestVersion(version) || !supported.includes(version)) {
    const message = `version "${shownValue(version)}" is not supported for type ${type}; supported: ${supported.join(', ')}`
    issues.push(issueAt(doc, 'E_UNKNOWN_VERSION', ['version'], message))
    return { issues }
  }
  return { header: { type, version, bodyKey: bodyKeyFor(type, version)! }, issues }
}

/** Header, then the full schema of that type and version. */
export function validateDocument(doc: LoadedDocument): { header?: DocumentHeader; issues: ManifestIssue[] } {
  const checked = checkHeader(doc)
  if (!checked.header) return checked
  const validate = validatorFor(checked.header.type, checked.header.version)
  if (validate(doc.value)) return checked
  return { header: checked.header, issues: schemaIssues(doc, validate.errors ?? []) }
}

interface Pending {
  path: JsonPath
  /** instancePath of the value the error is about (for collapsing). */
  at: string
  code: ManifestIssue['code']
  message: string
  types?: string[]
}

/** ajv errors → one plain issue per problem and place. */
export function schemaIssues(doc: LoadedDocument, errors: readonly ErrorObject[]): ManifestIssue[] {
  const pending: Pending[] = []
  // Every location (and its ancestors) where something other than a type
  // mismatch was reported: a type error there comes from a oneOf branch the
  // value did not take, and the other error is the useful one.
  const explained = new Set<string>()
  for (const err of errors) {
    if (err.keyword === 'oneOf' || err.keyword === 'anyOf' || err.keyword === 'if') continue
    const path = toJsonPath(doc.value, err.instancePath)
    const p = describe(err, path)
    if (!p) continue
    pending.push(p)
    if (err.keyword !== 'type') {
      let prefix = err.instancePath
      for (;;) {
        explained.add(prefix)
        if (prefix === '') break
        prefix = prefix.slice(0, prefix.lastIndexOf('/'))
      }
    }
  }
  const byType = new Map<string, Pending>()
  const out: Pending[] = []
  for (const p of pending) {
    if (!p.types) {
      out.push(p)
      continue
    }
    if (explained.has(p.at)) continue
    const same = byType.get(p.at)
    if (same) {
      for (const t of p.types) if (!same.types!.includes(t)) same.types!.push(t)
      same.message = `must be ${joinOr(same.types!.map(typeWords))}`
      continue
    }
    byType.set(p.at, p)
    out.push(p)
  }
  return out.map((p) => issueAt(doc, p.code, p.path, p.message))
}

function describe(err: ErrorObject, path: JsonPath): Pending | undefined {
  const params = err.params as Record<string, unknown>
  const at = err.instancePath
  const pending = (message: string, extra: Partial<Pending> = {}): Pending => ({ path, at, code: 'E_SCHEMA', message, ...extra })
  switch (err.keyword) {
    case 'additionalProperties': {
      const field = String(params['additionalProperty'])
      const allowed = Object.keys(((err.parentSchema as Record<string, unknown> | undefined)?.['properties'] as object | undefined) ?? {})
      return { path: [...path, field], at, code: 'E_UNKNOWN_FIELD', message: `unknown field "${field}"${suggestionSuffix(field, allowed)}` }
    }
    case 'required': {
      const field = String(params['missingProperty'])
      return { path: [...path, field], at, code: 'E_SCHEMA', message: `missing required field "${field}"` }
    }
    case 'type': {
      const types = String(params['type']).split(',')
      return pending(`must be ${joinOr(types.map(typeWords))}`, { types })
    }
    case 'enum':
      return pending(`must be one of ${(params['allowedValues'] as unknown[]).map(String).join(', ')}`)
    case 'const':
      return pending(`must be ${JSON.stringify(params['allowedValue'])}`)
    case 'minItems':
      return pending(`must have at least ${plural(Number(params['limit']), 'item')}`)
    case 'maxItems':
      return pending(`must have at most ${plural(Number(params['limit']), 'item')}`)
    case 'minLength':
      return pending(Number(params['limit']) === 1 ? 'must not be empty' : `must be at least ${plural(Number(params['limit']), 'character')} long`)
    case 'maxLength':
      return pending(`must be at most ${plural(Number(params['limit']), 'character')} long`)
    case 'minimum':
      return pending(`must be at least ${String(params['limit'])}`)
    case 'maximum':
      return pending(`must be at most ${String(params['limit'])}`)
    case 'exclusiveMinimum':
      return pending(`must be greater than ${String(params['limit'])}`)
    case 'exclusiveMaximum':
      return pending(`must be less than ${String(params['limit'])}`)
    case 'pattern': {
      const hint = (err.parentSchema as Record<string, unknown> | undefined)?.['x-hint']
      return pending(typeof hint === 'string' ? `must be ${hint}` : `must match ${String(params['pattern'])}`)
    }
    default:
      return pending(err.message ?? `is invalid (${err.keyword})`)
  }
}

function typeWords(type: string): string {
  switch (type) {
    case 'string':
      return 'a string'
    case 'integer':
      return 'an integer'
    case 'number':
      return 'a number'
    case 'boolean':
      return 'true or false'
    case 'array':
      return 'a list'
    case 'object':
      return 'a mapping'
    case 'null':
      return 'null'
    default:
      return type
  }
}

function joinOr(words: string[]): string {
  if (words.length <= 1) return words[0] ?? ''
  return `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** `/spec/dag/0/depends` → `['spec','dag',0,'depends']`, numbers only where the value is a list. */
export function toJsonPath(root: unknown, pointer: string): JsonPath {
  if (pointer === '') return []
  const out: (string | number)[] = []
  let node: unknown = root
  for (const raw of pointer.slice(1).split('/')) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    if (Array.isArray(node)) {
      const i = Number(part)
      out.push(i)
      node = node[i]
    } else {
      out.push(part)
      node = isPlainObject(node) ? node[part] : undefined
    }
  }
  return out
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
