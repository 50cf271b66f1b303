// The JSON fast path must give exactly the values of the YAML path, or step aside.
import { deepStrictEqual } from 'node:assert'
import { describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { jsonDocumentValue } from '../../src/manifest/json-fast.js'
import { parseSource, YAML_LIMITS } from '../../src/manifest/load.js'

const noInterp = { interpolate: false, env: {} }

/** The YAML path's value (as load.ts reads it), or undefined when YAML reports an error. */
function yamlValue(text: string): unknown {
  const docs = parseAllDocuments(text, { prettyErrors: false, uniqueKeys: true, merge: true })
  if (!Array.isArray(docs) || docs.length !== 1 || docs[0]!.errors.length > 0) return undefined
  return docs[0]!.toJS({ maxAliasCount: YAML_LIMITS.maxAliasCount })
}

/** Fast path taken → YAML reads the same value (Object.is on every leaf: -0 stays -0). */
function agrees(text: string): boolean {
  const fast = jsonDocumentValue(text, YAML_LIMITS.maxDepth)
  if (fast === undefined) return false
  deepStrictEqual(fast, yamlValue(text))
  return true
}

describe('jsonDocumentValue', () => {
  it('reads JSON objects as YAML does, whatever the layout', () => {
    const value = {
      name: 'a', n: 0, neg: -0, f: 1.5, e: 2.5e-300, small: 5e-324, big: 9007199254740991, t: true, nil: null,
      s: 'quote " backslash \\ slash / tab \t nl \n uni é ✓ 😀 \u0001 \u00a0', empty: '', '': 'empty key',
      'k e:y#': ['x', [], {}, [1, [2, [3]]]], nested: { deeper: { yes: 'true', no: 'null', num: '12' } },
    }
    for (const text of [JSON.stringify(value), JSON.stringify(value, null, 1), JSON.stringify(value, null, 4), `\n\n ${JSON.stringify(value)}\n`]) {
      expect(agrees(text)).toBe(true)
    }
    expect(agrees('{"zero": -0, "z": [-0.0]}')).toBe(true)
    expect(agrees('{"a":1e5,"b":-1.25E-3,"c":10.0,"d":0.1,"e":[1,2,3]}')).toBe(true)
    expect(agrees('{"surrogates": "\\ud83d\\ude00 \\ud800 x", "esc": "\\b\\f\\n\\r\\t\\/\\u00e9"}')).toBe(true)
    expect(agrees('{\n"at column 0": {\n"x": 1\n}\n}')).toBe(true)
  })

  it('random documents agree with the YAML path', () => {
    let seed = 7
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) % n)
    const chars = ['a', 'Z', '0', ' ', ':', '#', '-', '"', '\\', '\n', '\t', 'é', '✓', '😀', '{', '[', ',', '&', '*', '!', '|', '>', "'", '%', '@', '`', '?']
    const str = (): string => Array.from({ length: rnd(6) }, () => chars[rnd(chars.length)]).join('')
    const gen = (depth: number): unknown => {
      switch (depth > 4 ? rnd(4) : rnd(7)) {
        case 0: return str()
        case 1: return rnd(2) ? rnd(100000) - 50000 : (rnd(2000) - 1000) / 7
        case 2: return [true, false, null][rnd(3)]
        case 3: return ['1', 'true', 'null', '~', '0x1F', '.inf', 'yes', '- a', 'a: b', '#c'][rnd(10)]
        case 4: return Array.from({ length: rnd(4) }, () => gen(depth + 1))
        default: return Object.fromEntries(Array.from({ length: rnd(4) }, () => [str(), gen(depth + 1)]))
      }
    }
    let taken = 0
    for (let i = 0; i < 400; i++) {
      const value = Object.fromEntries(Array.from({ length: 1 + rnd(4) }, () => [str(), gen(1)]))
      if (agrees(JSON.stringify(value, null, rnd(3)))) taken++
    }
    expect(taken).toBeGreaterThan(300)
  })

  it('steps aside for what only the YAML path may judge', () => {
    const aside = [
      '{"a": 1, "a": 2}', // duplicate key: an error in YAML
      '{"a": {"b": 1, "b": 1}}',
      '{"a"\n: 1}', // a key split over lines
      '{\t"a": 1}', // tabs
      '{"a": 1}\r\n', // CR
      '\ufeff{"a": 1}', // BOM
      '{"<<": {"a": 1}}', // merge key
      '{"__proto__": {"a": 1}}',
      '{"a": 12345678901234567890}', // beyond 2^53
      `{"${'k'.repeat(1100)}": 1}`, // longer than YAML's implicit key
      '["a"]', // not a mapping
      '{"a": 1} # comment',
      '{"a": 1}\n---\n{"b": 2}',
      '{"a": "\u0085"}',
      '{"a": "\ud800"}', // a lone surrogate, raw
      'name: a',
      `${'{"a":'.repeat(70)}1${'}'.repeat(70)}`, // deeper than the limit
    ]
    for (const text of aside) expect(jsonDocumentValue(text, YAML_LIMITS.maxDepth), text.slice(0, 40)).toBeUndefined()
  })
})

describe('parseSource of a JSON manifest', () => {
  const text = JSON.stringify({ version: 'v2alpha', name: 'j', type: 'workflow', spec: { dag: [{ name: 'a', when: 'params.x == 1', spec: { stack: 'script', stackSpec: { script: 'echo $HOME' } } }] } }, null, 1)
  // A trailing comment makes the text YAML only: the YAML path reads the same positions.
  const yamlOnly = `${text}\n# yaml\n`

  it('gives the values and positions of the YAML path', () => {
    const fast = parseSource({ file: 'f.json', text }, { interpolate: true, env: {} })
    const slow = parseSource({ file: 'f.json', text: yamlOnly }, noInterp)
    expect(fast.issues).toEqual([])
    deepStrictEqual(fast.documents[0]!.value, slow.documents[0]!.value)
    for (const path of [[], ['name'], ['spec', 'dag', 0, 'name'], ['spec', 'dag', 0, 'when'], ['spec', 'dag', 0, 'nope', 'x'], ['spec', 'dag', 3]]) {
      expect(fast.documents[0]!.locate(path)).toEqual(slow.documents[0]!.locate(path))
      expect(fast.documents[0]!.locateText!(path)).toEqual(slow.documents[0]!.locateText!(path))
    }
  })

  it('interpolates (and reports unset variables) through the YAML path', () => {
    const withVar = text.replace('"j"', '"${NAME}"')
    expect(parseSource({ file: 'f.json', text: withVar }, { interpolate: true, env: { NAME: 'from-env' } }).documents[0]!.value).toMatchObject({ name: 'from-env' })
    expect(parseSource({ file: 'f.json', text: withVar }, { interpolate: true, env: {} }).issues.map((i) => [i.code, i.line, i.column])).toEqual([['E_INTERPOLATION', 3, 10]])
    expect(parseSource({ file: 'f.json', text: withVar }, noInterp).documents[0]!.value).toMatchObject({ name: '${NAME}' })
  })

  it('reports a duplicate key where the YAML path does', () => {
    const dup = '{\n "name": "a",\n "name": "b"\n}'
    expect(parseSource({ file: 'f.json', text: dup }, noInterp).issues.map((i) => [i.code, i.line, i.column, i.message])).toEqual([['E_YAML_SYNTAX', 3, 2, 'duplicate key "name"']])
  })
})
