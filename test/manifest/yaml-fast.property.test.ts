// Property: the manifest fast paths (yaml-fast.ts, json-fast.ts) either step aside (undefined) or
// give exactly the values of the YAML path (load.ts: parseAllDocuments with uniqueKeys and merge,
// no error, nesting within the limit). Texts come from random values written by yaml.stringify
// with random options, from a grammar of hand-written block YAML lines with the tricky tokens, and
// from JSON written with random layout and escapes. FAST_RUNS raises the count for a long local run.
import { deepStrictEqual } from 'node:assert'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseAllDocuments, stringify, type ToStringOptions } from 'yaml'
import { jsonDocumentValue } from '../../src/manifest/json-fast.js'
import { YAML_LIMITS } from '../../src/manifest/load.js'
import { blockYamlDocuments } from '../../src/manifest/yaml-fast.js'

const RUNS = Number(process.env.FAST_RUNS ?? 150)

function depthOf(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0
  const children = Array.isArray(value) ? value : Object.values(value)
  return 1 + children.reduce<number>((max, v) => Math.max(max, depthOf(v)), 0)
}

/** The YAML path's values of every document, or 'error' when it reports one (load.ts's rules). */
function yamlValues(text: string): unknown[] | 'error' {
  const docs = parseAllDocuments(text, { prettyErrors: false, uniqueKeys: true, merge: true })
  if (!Array.isArray(docs) || docs.some((d) => d.errors.length > 0)) return 'error'
  const values = docs.map((d) => d.toJS({ maxAliasCount: YAML_LIMITS.maxAliasCount }) as unknown)
  return values.some((v) => depthOf(v) > YAML_LIMITS.maxDepth) ? 'error' : values
}

/** Fast path taken → the same values, and no YAML error. True when the fast path answered. */
function checkYaml(text: string): boolean {
  const fast = blockYamlDocuments(text, YAML_LIMITS.maxDepth)
  if (fast === undefined) return false
  deepStrictEqual(fast, yamlValues(text), JSON.stringify(text))
  return true
}

/** checkYaml over `runs` texts of `texts`; how many the fast path answered. */
function takenOfChecked(texts: fc.Arbitrary<string>, runs: number): number {
  let taken = 0
  fc.assert(
    fc.property(texts, (text) => {
      if (checkYaml(text)) taken++
    }),
    { numRuns: runs },
  )
  return taken
}

function checkJson(text: string): void {
  const fast = jsonDocumentValue(text, YAML_LIMITS.maxDepth)
  if (fast === undefined) return
  const slow = yamlValues(text)
  deepStrictEqual([fast], slow, JSON.stringify(text))
}

const TOKENS = [
  'a', 'name', 'x y', 'x-y', 'a.b', 'a/b', '_', 'true', 'True', 'TRUE', 'false', 'null', 'Null', 'NULL', 'yes', 'no', 'on', 'off', 'y', '~', '',
  '0', '-0', '007', '+1', '-1', '1e3', '1E3', '0x1F', '0o17', '.5', '5.', '1_000', '1.5', '-0.0', '123456789012345', '1234567890123456', '12:30', '1.20.3',
  '.inf', '-.inf', '.nan', 'NaN', 'a #b', 'a#b', '#c', 'a: b', 'a:b', 'a:', ': a', '- a', '-a', '-', '--', '---', '...', '? a', '|', '>', '&x', '*x', '!t', '%',
  '@', '`', '{', '}', '[', ']', ',', "it's", 'say "hi"', '\\', '\\n', 'é', '😀', '\u00a0', '\u2028', 'tab\there', 'cr\rhere', 'nl\nhere', 'trail ', ' lead',
  '<<', '__proto__', 'constructor', 'k'.repeat(1030), 'v'.repeat(3000),
]
const token = fc.constantFrom(...TOKENS)
const text = fc.oneof(token, fc.tuple(token, token).map(([a, b]) => a + b), fc.string({ unit: 'binary', maxLength: 8 }))
const leaf = fc.oneof(
  text,
  fc.integer({ min: -1e6, max: 1e6 }),
  fc.double(),
  fc.constantFrom(true, false, null, 2 ** 53, 2 ** 60, -0, 0.1, 1e21, 5e-324),
)
const { tree } = fc.letrec<{ tree: unknown }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('tree'), { maxLength: 4 }),
    fc.dictionary(text, tie('tree'), { maxKeys: 4 }),
  ),
}))
const root = fc.dictionary(fc.oneof(token, text), tree, { minKeys: 1, maxKeys: 5 })

const stringifyOptions = fc.record({
  indent: fc.integer({ min: 1, max: 5 }),
  indentSeq: fc.boolean(),
  lineWidth: fc.constantFrom(0, 20, 80),
  minContentWidth: fc.constantFrom(0, 20),
  blockQuote: fc.constantFrom(true, false, 'literal', 'folded'),
  defaultStringType: fc.constantFrom('PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE', 'BLOCK_LITERAL', 'BLOCK_FOLDED'),
  defaultKeyType: fc.constantFrom(null, 'PLAIN', 'QUOTE_DOUBLE'),
  collectionStyle: fc.constantFrom('any', 'block', 'flow'),
  flowCollectionPadding: fc.boolean(),
  doubleQuotedAsJSON: fc.boolean(),
  singleQuote: fc.constantFrom(null, true, false),
  directives: fc.constantFrom(null, true),
} as const)

// Hand-written block YAML: lines with an indentation and tricky tokens, mostly plain ones so that
// many texts are read by the fast path.
const space = fc.oneof(
  { arbitrary: fc.constantFrom('', '  ', '    '), weight: 8 },
  { arbitrary: fc.constantFrom(' ', '   ', '      ', '\t', ' \t'), weight: 1 },
)
const key = fc.oneof(
  { arbitrary: fc.constantFrom('a', 'b', 'c', 'name', 'x-y', 'a.b', 'k/v', '_', 'yes', 'on', '"a"', '"a b"'), weight: 6 },
  { arbitrary: fc.constantFrom('True', 'null', '1', '-a', '"\\u0041"', '"\\x41"', "'a'", '<<', '__proto__', 'a b', '? a', 'a#', 'k'.repeat(1030), '"' + 'q'.repeat(1030) + '"'), weight: 1 },
)
const scalar = fc.oneof(
  { arbitrary: fc.constantFrom('a', 'x y', 'true', 'null', '1', '-2', '0.5', '"q"', "'s'", '[a, b]', '{a: 1}', 'http://x#y', 'a #c', 'v:w'), weight: 12 },
  token.filter((t) => !/[\n\r]/.test(t)),
  fc.constantFrom('"a\\tb"', '"\\x41"', '"\\u00e9"', '"\\/"', '"a # b"', '"a": b', "'it''s'", "'a\\nb'", '"unterminated', "'a' #c", 'a #c', '[a, b]', '[a,]', '[]', '{}', '{a: 1}', '{a: 1, a: 2}', '{a:1}', '[1, "x", \'y\']', '[a, [b]]', '|', '|-', '|+', '|2', '|-2', '>', '>-', 'a  ', 'a\t'),
  fc.integer().map(String),
  fc.double().map(String),
)
const blockLine = fc.oneof(
  { arbitrary: fc.tuple(space, key, scalar).map(([s, k, v]) => `${s}${k}: ${v}`), weight: 6 },
  { arbitrary: fc.tuple(space, key).map(([s, k]) => `${s}${k}:`), weight: 4 },
  { arbitrary: fc.tuple(space, scalar).map(([s, v]) => `${s}- ${v}`), weight: 3 },
  { arbitrary: fc.tuple(space, key, scalar).map(([s, k, v]) => `${s}- ${k}: ${v}`), weight: 3 },
  { arbitrary: fc.tuple(space, key).map(([s, k]) => `${s}- ${k}:`), weight: 2 },
  { arbitrary: fc.tuple(space, scalar).map(([s, v]) => `${s}- - ${v}`), weight: 1 },
  { arbitrary: space.map((s) => `${s}-`), weight: 1 },
  { arbitrary: fc.tuple(space, key, fc.constantFrom('|', '|-', '|+', '|2', '>', '|1-', '| #c')).map(([s, k, b]) => `${s}${k}: ${b}`), weight: 2 },
  { arbitrary: fc.tuple(space, fc.constantFrom('|', '|-', '|+', '|2')).map(([s, b]) => `${s}- ${b}`), weight: 1 },
  { arbitrary: fc.tuple(space, scalar).map(([s, v]) => `${s}${v}`), weight: 2 },
  { arbitrary: fc.constantFrom('', '', ' ', '  ', '# comment', '  # indented comment', '---', '--- a: 1', '...', '%YAML 1.2', '\ufeffa: 1', 'a: 1 ', 'a: 1\t'), weight: 2 },
)
const blockText = fc
  .tuple(
    fc.array(blockLine, { minLength: 1, maxLength: 12 }),
    fc.oneof({ arbitrary: fc.constant('\n'), weight: 9 }, { arbitrary: fc.constant('\r\n'), weight: 1 }),
    fc.constantFrom('', '\n', '\n', '\n\n', '\n  \n'),
    fc.constantFrom('', '', '', '\ufeff', '---\n'),
  )
  .map(([lines, eol, end, start]) => start + lines.join(eol) + end)

// Hand-written block YAML with a structure: mappings and sequences rendered with a random
// indentation step, compact `- key:` items, sequences at their key's indentation, block scalars with
// chomping and trailing blank lines, and a tricky token at each leaf.
type Block = { map: [string, Block][] } | { seq: Block[] } | { leaf: string } | { lit: [string, string[]] }
const { block } = fc.letrec<{ block: Block }>((tie) => ({
  block: fc.oneof(
    { depthSize: 'small' },
    scalar.map((leaf) => ({ leaf })),
    fc.tuple(fc.constantFrom('|', '|-', '|+', '|2', '|1-'), fc.array(fc.constantFrom('x', 'y z', '  more', '', '# not a comment', '---', 'a: b', ' '), { minLength: 1, maxLength: 4 })).map((lit) => ({ lit })),
    fc.array(fc.tuple(key, tie('block')), { minLength: 1, maxLength: 4 }).map((map) => ({ map })),
    fc.array(tie('block'), { minLength: 1, maxLength: 4 }).map((seq) => ({ seq })),
  ),
}))
function renderBlock(node: Block, indent: number, step: number, compact: boolean): string[] {
  const pad = ' '.repeat(indent)
  if ('map' in node) {
    return node.map.flatMap(([k, v]) => {
      if ('leaf' in v) return [`${pad}${k}: ${v.leaf}`]
      if ('lit' in v) return [`${pad}${k}: ${v.lit[0]}`, ...v.lit[1].map((l) => (l === '' ? '' : ' '.repeat(indent + step) + l))]
      return [`${pad}${k}:`, ...renderBlock(v, 'seq' in v && compact ? indent : indent + step, step, compact)]
    })
  }
  if ('seq' in node) {
    return node.seq.flatMap((v) => {
      if ('leaf' in v) return [`${pad}- ${v.leaf}`]
      if ('lit' in v) return [`${pad}- ${v.lit[0]}`, ...v.lit[1].map((l) => (l === '' ? '' : ' '.repeat(indent + step) + l))]
      if ('map' in v && compact) {
        const lines = renderBlock(v, indent + 2, step, compact)
        return [`${pad}- ${lines[0]!.slice(indent + 2)}`, ...lines.slice(1)]
      }
      return [`${pad}-`, ...renderBlock(v, indent + step, step, compact)]
    })
  }
  return 'leaf' in node ? [`${pad}${node.leaf}`] : [`${pad}${node.lit[0]}`]
}
const structuredText = fc
  .tuple(fc.array(block, { minLength: 1, maxLength: 2 }), fc.integer({ min: 1, max: 4 }), fc.boolean(), fc.constantFrom('', '\n', '\n\n', '\n \n'))
  .map(([docs, step, compact, end]) => docs.map((d) => renderBlock(d, 0, step, compact).join('\n')).join('\n---\n') + end)

// JSON with a random layout: whitespace between tokens, \u escapes, repeated keys.
function jsonText(value: unknown, tape: number[]): string {
  let t = 0
  const pick = (n: number): number => (tape.length === 0 ? 0 : tape[t++ % tape.length]! % n)
  const ws = (): string => ['', '', ' ', '\n', '\n  ', '  ', '\t', '\r\n'][pick(8)]!
  const str = (s: string): string => {
    if (pick(4) !== 0) return JSON.stringify(s)
    return '"' + [...s].map((c) => (pick(2) ? '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0') : JSON.stringify(c).slice(1, -1))).join('') + '"'
  }
  const write = (v: unknown): string => {
    if (Array.isArray(v)) return '[' + ws() + v.map((x) => write(x)).join(ws() + ',' + ws()) + ws() + ']'
    if (typeof v === 'object' && v !== null) {
      const entries = Object.entries(v).map(([k, x]) => str(k) + ws() + ':' + ws() + write(x))
      if (entries.length > 0 && pick(4) === 0) entries.push(entries[pick(entries.length)]!)
      return '{' + ws() + entries.join(ws() + ',' + ws()) + ws() + '}'
    }
    if (typeof v === 'string') return str(v)
    if (typeof v === 'number' && pick(6) === 0) return [String(v), v.toExponential(), v.toFixed(3)][pick(3)]!
    return JSON.stringify(v) ?? 'null'
  }
  return ' \n'.slice(0, pick(3)) + write(value) + ['', '\n', ' '][pick(3)]
}

function deep(levels: number, seq: boolean): string {
  let out = ''
  for (let i = 0; i < levels; i++) out += seq ? `${' '.repeat(i * 2)}-\n` : `${' '.repeat(i * 2)}k:\n`
  return out + `${' '.repeat(levels * 2)}v: [x]\n`
}

describe('yaml-fast: steps aside or gives the values of the YAML path', () => {
  it('yaml.stringify of random values, with random options', () => {
    fc.assert(
      fc.property(fc.array(root, { minLength: 1, maxLength: 3 }), stringifyOptions, (docs, opts) => {
        const written = docs.map((d) => stringify(d, opts as ToStringOptions)).join('---\n')
        checkYaml(written)
        checkYaml(written.replace(/\n/g, '\r\n'))
      }),
      { numRuns: RUNS },
    )
  })

  // The grammars must reach the fast path, or the property proves little.
  it('hand-written block YAML lines with tricky tokens', () => {
    expect(takenOfChecked(blockText, RUNS * 8)).toBeGreaterThan(RUNS / 100)
  })

  it('structured block YAML with tricky tokens', () => {
    expect(takenOfChecked(structuredText, RUNS * 4)).toBeGreaterThan(RUNS / 20)
  })

  it('deep nesting and long lines', () => {
    for (const levels of [62, 63, 64, 65]) for (const seq of [false, true]) checkYaml(deep(levels, seq))
    checkYaml(`a: ${'x'.repeat(200_000)}\n`)
    checkYaml(`${'k'.repeat(1024)}: 1\n`)
  })

  it('counterexamples found by the properties', () => {
    // Implicit keys are at most 1024 characters to YAML (KEY_OVER_1024_CHARS).
    checkYaml(`${'k'.repeat(1025)}: 1\n`)
    checkYaml(`"${'k'.repeat(1030)}": 1\n`)
    checkYaml(`- ${'k'.repeat(1030)}: 1\n`)
    expect(blockYamlDocuments(`${'k'.repeat(1025)}: 1\n`, YAML_LIMITS.maxDepth)).toBeUndefined()
  })
})

describe('json-fast: steps aside or gives the value of the YAML path', () => {
  it('random JSON objects with a random layout', () => {
    fc.assert(
      fc.property(root, fc.array(fc.nat(), { maxLength: 40 }), (value, tape) => {
        checkJson(jsonText(value, tape))
      }),
      { numRuns: RUNS * 4 },
    )
  })

  it('counterexamples found by the properties', () => {
    checkJson(`{"${'\\u0041'.repeat(300)}": 1}`)
    // A repeated key hidden by a key whose `:` is on the next line: YAML reports the duplicate.
    expect(jsonDocumentValue('{\n  "a":true,"aa"\n  :"aa","a":true\n  }', YAML_LIMITS.maxDepth)).toBeUndefined()
    checkJson('{\n  "a":true,"aa"\n  :"aa","a":true\n  }')
  })
})
