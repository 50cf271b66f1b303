// The outputs parser ($CTL_OUTPUTS, GitHub Actions' $GITHUB_OUTPUT format), both runtimes' one implementation.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_OUTPUT_BYTES, OUTPUT_LIMITS } from '../../src/manifest/limits.js'
import { formatOutputs, outputsProblem, parseOutputs } from '../../src/runtime/outputs.js'
import { fuzzSettings } from '../support/fuzz.js'

const read = (text: string) => parseOutputs(text, OUTPUT_LIMITS)

describe('parseOutputs', () => {
  it('reads KEY=VALUE and KEY<<DELIM lines; later lines win', () => {
    const text = ['artifact=app-1.2.3.tar', 'files=["a.csv","b.csv"]', '', 'notes<<END', 'line one', '', 'x=y', 'END', 'artifact=app-2.tar', 'eq=a=b<<c', 'empty='].join('\n') + '\n'
    expect(read(text)).toEqual({
      outputs: { artifact: 'app-2.tar', files: '["a.csv","b.csv"]', notes: 'line one\n\nx=y', eq: 'a=b<<c', empty: '' },
      problems: [],
    })
  })

  it('names the line of a malformed entry and yields nothing', () => {
    expect(read('a=1\nb=2\nx y\n')).toEqual({ outputs: {}, problems: ['line 3: "x y" is not KEY=VALUE or KEY<<DELIMITER'] })
    expect(read('1a=x\n').problems[0]).toMatch(/^line 1: key "1a" is not a name/)
    expect(read('a b=x\n').problems[0]).toMatch(/^line 1: key "a b" is not a name/)
    expect(read('k<<\nx\n').problems[0]).toBe('line 1: "k<<": the delimiter after << is empty')
    expect(read('ok=1\nk<<EOF\nnever closed\n').problems).toEqual(['line 2: "k": no line "EOF" closes the value started here'])
    expect(read(`${'k'.repeat(OUTPUT_LIMITS.maxKeyLength + 1)}=1`).problems[0]).toMatch(/longer than 128 characters/)
    expect(outputsProblem(read('x y').problems)).toBe('outputs: line 1: "x y" is not KEY=VALUE or KEY<<DELIMITER')
  })

  it('quotes only the start of a long bad line', () => {
    const p = read('nothing here ' + 'z'.repeat(5000)).problems[0]!
    expect(p.length).toBeLessThan(120)
  })

  it('bounds the size and the number of keys', () => {
    expect(MAX_OUTPUT_BYTES).toBe(1024 * 1024)
    const big = 'k=' + 'x'.repeat(MAX_OUTPUT_BYTES)
    expect(read(big)).toEqual({ outputs: {}, problems: ['the file is over the limit of 1 MiB'] })
    const many = Array.from({ length: OUTPUT_LIMITS.maxKeys + 1 }, (_, i) => `k${i}=v`).join('\n')
    expect(read(many).problems[0]).toBe(`line ${OUTPUT_LIMITS.maxKeys + 1}: more than ${OUTPUT_LIMITS.maxKeys} keys`)
    // Overriding a key does not count twice.
    const same = Array.from({ length: OUTPUT_LIMITS.maxKeys + 5 }, (_, i) => `k${i % 3}=v${i}`).join('\n')
    expect(read(same).problems).toEqual([])
  })

  it('keeps \\r and odd names as written', () => {
    expect(read('a=x\r\nb-c_D=\u00e9\n').outputs).toEqual({ a: 'x\r', 'b-c_D': '\u00e9' })
    expect(read('__proto__=1\n').outputs).toEqual(Object.fromEntries([['__proto__', '1']]))
  })
})

describe('formatOutputs then parseOutputs', () => {
  const key = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,20}$/)
  const value = fc.oneof(fc.string({ maxLength: 40 }), fc.array(fc.constantFrom('EOF', 'EOF_0', '', 'x=y', 'k<<EOF', '\r', ' '), { maxLength: 6 }).map((l) => l.join('\n')))
  it('reads back what was written', () => {
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 20 }), (outputs) => {
        expect(read(formatOutputs(outputs))).toEqual({ outputs: { ...outputs }, problems: [] })
      }),
      fuzzSettings('outputs round trip', 500),
    )
  })
  it('reads back the last of repeated writes of a key', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(key, value), { maxLength: 20 }), (pairs) => {
        const text = pairs.map(([k, v]) => formatOutputs({ [k]: v })).join('')
        const expected: Record<string, string> = {}
        for (const [k, v] of pairs) expected[k] = v
        expect(read(text)).toEqual({ outputs: expected, problems: [] })
      }),
      fuzzSettings('outputs overrides', 300),
    )
  })
  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const r = read(text)
        expect(r.problems.length === 0 || Object.keys(r.outputs).length === 0).toBe(true)
      }),
      fuzzSettings('outputs arbitrary', 500),
    )
  })
})
