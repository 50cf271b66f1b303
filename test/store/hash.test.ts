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
