// Labels (`labels:` beside `tags` on every resource) with Kubernetes' syntax: a key is `[prefix/]name`,
// the name at most 63 characters of [A-Za-z0-9._-] starting and ending alphanumeric, the prefix a DNS
// subdomain of at most 253 characters; a value is empty or at most 63 such characters.
import type { ManifestIssue } from '../errors.js'
import { issueAt } from './issues.js'
import type { LoadedDocument, ResourceMeta } from './model.js'

const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
export const LABEL_NAME_MAX = 63
export const LABEL_PREFIX_MAX = 253
export const LABEL_VALUE_MAX = 63

/** Why `key` is no label key, or undefined. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/')
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined
  const name = slash >= 0 ? key.slice(slash + 1) : key
  if (prefix !== undefined) {
    if (prefix.length === 0) return 'has an empty prefix before "/"'
    if (prefix.length > LABEL_PREFIX_MAX) return `has a prefix of ${prefix.length} characters; at most ${LABEL_PREFIX_MAX} are allowed`
    if (!DNS_SUBDOMAIN.test(prefix)) return `has prefix "${prefix}", which is no DNS subdomain (lowercase letters, digits, "-" and ".")`
  }
  if (name.length === 0) return 'has an empty name'
  if (name.length > LABEL_NAME_MAX) return `has a name of ${name.length} characters; at most ${LABEL_NAME_MAX} are allowed`
  if (!LABEL_NAME.test(name)) return 'must use letters, digits, "-", "_" and ".", start and end with a letter or digit, optionally after a "prefix/"'
  return undefined
}

/** Why `value` is no label value, or undefined. */
export function labelValueProblem(value: string): string | undefined {
  if (value.length > LABEL_VALUE_MAX) return `is ${value.length} characters long; at most ${LABEL_VALUE_MAX} are allowed`
  if (value !== '' && !LABEL_NAME.test(value)) return 'must be empty or use letters, digits, "-", "_" and ".", starting and ending with a letter or digit'
  return undefined
}

export function checkLabels(meta: ResourceMeta, doc: LoadedDocument, issues: ManifestIssue[]): void {
  for (const [key, value] of Object.entries(meta.labels ?? {})) {
    const keyProblem = labelKeyProblem(key)
    if (keyProblem) issues.push(issueAt(doc, 'E_LABEL', ['labels', key], `invalid label key "${key}": it ${keyProblem}`))
    const valueProblem = labelValueProblem(value)
    if (valueProblem) issues.push(issueAt(doc, 'E_LABEL', ['labels', key], `invalid value of label "${key}": "${value}" ${valueProblem}`))
  }
}
