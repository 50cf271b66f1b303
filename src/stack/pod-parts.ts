// Small pieces of pod building: Kubernetes names and label values, ordered
// environment lists, deep merge of a rendered container template.

import { createHash } from 'node:crypto'
import type { V1EnvVar } from '@kubernetes/client-node'

function hash8(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8)
}

/**
 * A DNS-1123 label (≤ 63 by default): lowercase alphanumerics and `-`. Too long
 * a name is cut and ends with a hash of the whole, so distinct names stay distinct.
 */
export function dnsLabel(name: string, max = 63): string {
  const clean = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'x'
  if (clean.length <= max) return clean
  return `${clean.slice(0, max - 9).replace(/-+$/, '')}-${hash8(name)}`
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/

/** A valid label value (≤ 63, alphanumeric ends); invalid or long values are cleaned and hashed. */
export function labelValue(value: string): string {
  if (value.length <= 63 && LABEL_VALUE.test(value)) return value
  const clean = value.replace(/[^-A-Za-z0-9_.]+/g, '-').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '')
  if (clean.length <= 63) return clean
  return `${clean.slice(0, 54).replace(/[^A-Za-z0-9]+$/, '')}-${hash8(value)}`
}

/**
 * A run id's part that tells runs apart in object names, lowercase: its first letter and its last 11
 * alphanumerics (store ids end with 8 random ones). The first 8 alone were the prefix letter and the
 * creation time to 1.3 s: two runs of one workflow started within that time got the same Pod, Secret
 * and ConfigMap names (one replaced the other's projected values; the second Pod was refused).
 */
export function shortRunId(runId: string): string {
  const s = runId.toLowerCase().replace(/[^a-z0-9]/g, '')
  return (s.length <= 12 ? s : s[0]! + s.slice(-11)) || 'run'
}

/** A Secret / ConfigMap data key: [-._a-zA-Z0-9]+. */
export function dataKey(text: string): string {
  return text.replace(/[^-._a-zA-Z0-9]/g, '_')
}

/** Kubernetes expands `$(VAR)` in env values and args; `$$(` keeps data verbatim. */
export function escapeExpansion(value: string): string {
  return value.includes('$(') ? value.replace(/\$\(/g, () => '$$(') : value
}

/** Environment in definition order; a later entry with the same name replaces the earlier one in place. */
export class EnvList {
  private readonly entries = new Map<string, V1EnvVar>()
  set(entry: V1EnvVar): void {
    this.entries.set(entry.name, entry)
  }
  value(name: string, value: string): void {
    this.set({ name, value })
  }
  toArray(): V1EnvVar[] {
    return [...this.entries.values()]
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Objects merge key by key; anything else (arrays included) replaces. */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base }
  for (const [k, v] of Object.entries(over)) {
    const cur = out[k]
    out[k] = isRecord(cur) && isRecord(v) ? deepMerge(cur, v) : v
  }
  return out
}

/**
 * A copy of a tree of plain objects and arrays (a parsed YAML or JSON value) as structuredClone makes it, at a
 * fraction of its cost on small trees; any other object is left to structuredClone.
 */
export function copyPlain<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value
  if (Array.isArray(value)) return value.map(copyPlain) as T
  if (Object.getPrototypeOf(value) !== Object.prototype) return structuredClone(value)
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    // An own `__proto__` key stays a key (an assignment would set the prototype).
    if (k === '__proto__') Object.defineProperty(out, k, { value: copyPlain(v), enumerable: true, writable: true, configurable: true })
    else out[k] = copyPlain(v)
  }
  return out as T
}
