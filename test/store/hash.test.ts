import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalHash, canonicalJson } from '../../src/store/hash.js'

describe('canonicalHash', () => {
  it('ignores key order and undefined members, not values', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, undefined], c: undefined } })).toBe('{"a":{"d":[1,null]},"b":1}')
    expect(canonicalHash({ a: 1, b: [1, 2] })).toBe(canonicalHash({ b: [1, 2], a: 1, c: undefined }))
    expect(canonicalHash({ a: 1, b: [1, 2] })).not.toBe(canonicalHash({ a: 1, b: [2, 1] }))
    expect(canonicalHash({ a: '1' })).not.toBe(canonicalHash({ a: 1 }))
    expect(canonicalHash({})).toMatch(/^[0-9a-f]{64}$/)
  })
})

// The encoding as it was first written: hashes stored by earlier versions must stay equal (an unchanged manifest
// re-applied must read `unchanged`), so the faster one must write the very same text.
function reference(value: unknown): string | undefined {
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
  if (typeof obj.toJSON === 'function') return reference(obj.toJSON())
  if (Array.isArray(value)) return `[${value.map((v) => reference(v) ?? 'null').join(',')}]`
  const record = value as Record<string, unknown>
  const parts: string[] = []
  for (const key of Object.keys(record).sort()) {
    const encoded = reference(record[key])
    if (encoded !== undefined) parts.push(`${JSON.stringify(key)}:${encoded}`)
  }
  return `{${parts.join(',')}}`
}

describe('canonicalJson writes what it always wrote', () => {
  it('for any value', () => {
    const odd = fc.oneof(
      fc.constant(undefined), fc.constant(NaN), fc.constant(-Infinity), fc.constant(-0), fc.bigInt(), fc.constant(() => 1), fc.constant(Symbol('s')),
      fc.date({ noInvalidDate: true }), fc.string({ unit: 'binary' }), fc.integer().map((n) => ({ toJSON: () => ({ n }) })),
    )
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, fc.jsonValue(), odd, tie('array'), tie('object'), tie('sparse')),
      array: fc.array(tie('tree'), { maxLength: 5 }),
      object: fc.dictionary(fc.oneof(fc.string(), fc.constantFrom('0', '10', '9', '__proto__', 'a', 'é')), tie('tree'), { maxKeys: 5 }),
      sparse: fc.sparseArray(tie('tree'), { maxLength: 6 }),
    }))
    fc.assert(fc.property(tree, (value) => {
      expect(canonicalJson(value)).toBe(reference(value) ?? 'null')
    }), { numRuns: 2000 })
  })

  it('for a workflow of 200 steps', () => {
    const dag = Array.from({ length: 200 }, (_, i) => ({
      name: `l${Math.floor(i / 20)}-s${i % 20}`,
      depends: i < 20 ? [] : Array.from({ length: 20 }, (_, j) => `l${Math.floor(i / 20) - 1}-s${j}`),
      spec: { stack: { name: 'container' }, stackSpec: { image: 'alpine:3.20', command: ['true'] }, envs: {}, timeout: undefined },
    }))
    const wf = { meta: { name: 'dag', tags: [], description: undefined }, workflow: { dag, parallelism: 20 } }
    expect(canonicalJson(wf)).toBe(reference(wf))
  })
})
