import { describe, expect, it } from 'vitest'
import { storeParams } from '../../src/store/text.js'

describe('storeParams', () => {
  it('passes parameters with no NUL and no named object on as they are', () => {
    const params = ['r-1', 3, null, undefined, 1.5, Buffer.from('a\u0000b'), 'plain text']
    expect(storeParams(params)).toBe(params)
  })

  it('replaces each NUL of a string parameter, positional or named (one level deep), and leaves bytes alone', () => {
    const bytes = Buffer.from('x\u0000y')
    expect(storeParams(['a\u0000b', 2, bytes, { name: 'n\u0000m', n: 1, nested: { v: 'x\u0000' } }])).toEqual([
      'a\uFFFDb', 2, bytes, { name: 'n\uFFFDm', n: 1, nested: { v: 'x\u0000' } },
    ])
    // A named object is copied even without a NUL: the caller's object is never changed.
    const named = { a: 'b' }
    const out = storeParams([named])
    expect(out[0]).toEqual(named)
    expect(out[0]).not.toBe(named)
  })
})
