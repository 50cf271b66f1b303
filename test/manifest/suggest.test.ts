import { describe, expect, it } from 'vitest'
import { didYouMean, editDistance } from '../../src/manifest/suggest.js'

describe('didYouMean', () => {
  it('finds typos, transpositions and prefixes, case-insensitively', () => {
    expect(editDistance('depends', 'dpeends')).toBe(1)
    expect(didYouMean('dependson', ['name', 'depends', 'spec'])).toBe('depends')
    expect(didYouMean('Stack', ['stack', 'stackSpec'])).toBe('stack')
    expect(didYouMean('compu', ['compute', 'resources'])).toBe('compute')
    expect(didYouMean('concurencyPolicy', ['crons', 'timezone', 'concurrencyPolicy'])).toBe('concurrencyPolicy')
  })

  it('knows renames between manifest versions', () => {
    expect(didYouMean('dependencies', ['name', 'depends'])).toBe('depends')
    expect(didYouMean('cron', ['crons', 'timezone'])).toBe('crons')
  })

  it('does not guess for short or distant words', () => {
    expect(didYouMean('x', ['a', 'b'])).toBeUndefined()
    expect(didYouMean('image', ['command', 'arguments'])).toBeUndefined()
  })

  it('an unknown field named like an Object.prototype member is just unknown (found by the lint fuzz test)', () => {
    for (const word of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(() => didYouMean(word, ['name', 'spec'])).not.toThrow()
    }
    expect(didYouMean('constructor', ['name', 'spec'])).toBeUndefined()
  })
})
