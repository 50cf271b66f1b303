// Content hash of a normalized manifest: "did anything change?" must not depend
// on key order or on optional fields that are present-but-undefined.
import { createHash } from 'node:crypto'

/** JSON with object keys sorted and undefined members dropped (JSON.stringify semantics otherwise). */
export function canonicalJson(value: unknown): string {
  const out = encode(value)
  // Like JSON.stringify, a bare undefined/function has no JSON form.
  return out === undefined ? 'null' : out
}

function encode(value: unknown): string | undefined {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null'
    case 'boolean':
      return value ? 'true' : 'false'
    case 'bigint':
      return value.toString()
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined
  }
  const obj = value as { toJSON?: () => unknown }
  if (typeof obj.toJSON === 'function') return encode(obj.toJSON())
  if (Array.isArray(value)) return `[${value.map((v) => encode(v) ?? 'null').join(',')}]`
  const record = value as Record<string, unknown>
  const parts: string[] = []
  for (const key of Object.keys(record).sort()) {
    const encoded = encode(record[key])
    if (encoded !== undefined) parts.push(`${JSON.stringify(key)}:${encoded}`)
  }
  return `{${parts.join(',')}}`
}

/** sha256 (hex) of the canonical JSON. */
export function canonicalHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex')
}
