// The block YAML fast path must give exactly the values of the YAML path, or step aside: every
// text it reads, the `yaml` package reads without an error and to the same values.
import { deepStrictEqual } from 'node:assert'
import { describe, expect, it } from 'vitest'
import { parseAllDocuments, stringify } from 'yaml'
import { blockYamlDocuments } from '../../src/manifest/yaml-fast.js'
import { parseSource, YAML_LIMITS } from '../../src/manifest/load.js'

/** The YAML path's values (as load.ts reads them), or 'error' when YAML reports one. */
function yamlValues(text: string): unknown {
  const docs = parseAllDocuments(text, { prettyErrors: false, uniqueKeys: true, merge: true })
  if (!Array.isArray(docs) || docs.some((d) => d.errors.length > 0)) return 'error'
  return docs.map((d) => d.toJS({ maxAliasCount: YAML_LIMITS.maxAliasCount }))
}

/** Fast path taken → YAML reads the same values without an error. */
function agrees(text: string): boolean {
  const fast = blockYamlDocuments(text, YAML_LIMITS.maxDepth)
  if (fast === undefined) return false
  deepStrictEqual(fast, yamlValues(text), text)
  return true
}

let seed = 11
const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % n

const USER_YAML = `# a workflow as people write it
version: v2alpha
name: nightly-etl   # trailing comment
type: workflow
tags: [etl, "night shift", 'it''s']
labels: {}
spec:
  parallelism: 4
  ratio: 0.25
  negative: -3
  enabled: true
  nothing: null
  empty:
  url: http://example.com/a#frag
  quoted: "tab\\tnew\\nline \\u00e9 \\"q\\" \\\\ \\/"
  single: 'a # not a comment'
  dag:
    - name: extract
      spec:
        stack: script
        stackSpec:
          script: |
            echo start
              indented more

            # not a comment
            echo done
    - name: load
      depends:
      - extract
      spec:
        stack: container
        resources: {cpu: 100m, "memory": '64Mi', n: 2}
        stackSpec:
          image: docker.io/library/alpine:3.20
          command: ["sh", "-c"]
          arguments:
            - |-
              echo strip
    -   name: spaced
        "quoted key": x
        kubernetes.io/name: y
        time: 12:30
        version: 1.20.3
        colon: a:b
---
# second document
- plain
- 42
-
- name: in-seq
`

describe('blockYamlDocuments', () => {
  it('reads YAML as people write it, as the yaml package does', () => {
    expect(agrees(USER_YAML)).toBe(true)
    expect(agrees('---\na: 1\n')).toBe(true)
    expect(agrees('# only a comment before\n---\na: 1\n---\nb: [1, 2.5, -0, x y]\n')).toBe(true)
    expect(agrees('a:\n  b:\n    c: |\n      deep\n  d: e')).toBe(true)
  })

  it('reads what yaml.stringify writes, as the yaml package does', () => {
    const words = ['a', 'Z', 'x y', 'true', 'null', 'yes', '~', '1', '-1', '0.5', '1e3', '0x1F', '.inf', 'a: b', '#c', 'a #c', '- a', "it's", 'say "hi"', 'é', 'line\nbreak', 'trail\n', ' lead', '', '&a', '*a', '!t', '|', '>', '@', '`', '%', '{', '[', 'http://x', 'a:b', '__proto__', '<<']
    const gen = (depth: number): unknown => {
      switch (depth > 4 ? rnd(3) : rnd(6)) {
        case 0: return words[rnd(words.length)]
        case 1: return [rnd(1000) - 500, rnd(100) / 8, true, false, null, 2 ** 60][rnd(6)]
        case 2: return words[rnd(words.length)]! + words[rnd(words.length)]!
        case 3: return Array.from({ length: rnd(4) }, () => gen(depth + 1))
        default: return Object.fromEntries(Array.from({ length: rnd(4) }, () => [words[rnd(words.length)]!, gen(depth + 1)]))
      }
    }
    let taken = 0
    for (let i = 0; i < 600; i++) {
      const value = Object.fromEntries(Array.from({ length: 1 + rnd(5) }, () => [['name', 'spec', 'dag', 'x-y', 'a.b'][rnd(5)]!, gen(1)]))
      const text = stringify(value, { indentSeq: rnd(2) === 0, indent: 2 + rnd(3), lineWidth: 0 })
      if (agrees(text)) taken++
    }
    expect(taken).toBeGreaterThan(100)
  })

  it('mangled texts are either read as YAML reads them or left to the YAML path', () => {
    const pieces = [' ', '  ', '\n', '- ', ': ', ':', '#', ' #', '"', "'", '|', '|-', '---', '[', ']', ',', '{}', 'a', '1', '\n  ', '\n- ', '&x ', '*x', '\\']
    let taken = 0
    for (let i = 0; i < 3000; i++) {
      let text = USER_YAML
      for (let k = 1 + rnd(3); k > 0; k--) {
        const at = rnd(text.length)
        const cut = rnd(3)
        text = text.slice(0, at) + (rnd(3) === 0 ? '' : pieces[rnd(pieces.length)]) + text.slice(at + cut)
      }
      if (agrees(text)) taken++
    }
    expect(taken).toBeGreaterThan(300)
  })

  it('steps aside for what only the YAML path may judge', () => {
    const aside = [
      'a: &x 1\nb: *x\n', // anchors, aliases
      'a: !!str 1\n', // tags
      '<<: {a: 1}\n', // merge key
      'a: 1\na: 2\n', // duplicate key
      'a: 1\n b: 2\n', // odd indentation
      'a: one\n  two\n', // a plain scalar over two lines
      'a: >\n  folded\n', // folding
      'a: |+\n  keep\n', // keep chomping
      'a: |2\n    explicit\n', // indentation indicator
      'a:\n\tb: 1\n', // a tab
      'a: 1\r\n', // CR
      'a: "\\x41"\n', // an escape JSON lacks
      'a: 12345678901234567890\n', // beyond 15 digits
      'a: 0x1F\n', // hex
      'a: .inf\n',
      'True: 1\n', // a key the core schema reads as a boolean
      'a: [1,\n  2]\n', // a flow sequence over lines
      'a: {b: 1, b: 2}\n', // a duplicate key in a flow mapping
      'a: {b: c: d}\n',
      'a: |\n  no line break at the end', // YAML decides how the last line ends
      'a: 1\n---\n', // an empty document
      '--- a: 1\n',
      '%YAML 1.2\n---\na: 1\n',
      'plain scalar\n',
      `${'a:\n'.repeat(70)}`,
      `${Array.from({ length: 63 }, (_, i) => `${' '.repeat(i)}a:\n`).join('')}${' '.repeat(63)}b: []\n`, // a flow collection too deep
      'a:\n  - b\n  c: 1\n',
    ]
    for (const text of aside) expect(blockYamlDocuments(text, YAML_LIMITS.maxDepth), JSON.stringify(text)).toBeUndefined()
  })
})

describe('parseSource of block YAML', () => {
  it('gives the values, indexes and positions of the YAML path', () => {
    // A trailing anchor-free alias-free comment line keeps the fast path; an alias forces the YAML path.
    const fast = parseSource({ file: 'f.yaml', text: USER_YAML }, { interpolate: true, env: {} })
    const slow = parseSource({ file: 'f.yaml', text: `${USER_YAML}- &anchor forced\n` }, { interpolate: false, env: {} })
    expect(fast.issues).toEqual([])
    expect(fast.documents.map((d) => d.index)).toEqual([0, 1])
    deepStrictEqual(fast.documents[0]!.value, slow.documents[0]!.value)
    for (const path of [[], ['name'], ['spec', 'dag', 0, 'spec', 'stackSpec', 'script'], ['spec', 'dag', 1, 'depends', 0], ['spec', 'dag', 2, 'quoted key'], ['spec', 'nope']]) {
      expect(fast.documents[0]!.locate(path)).toEqual(slow.documents[0]!.locate(path))
      expect(fast.documents[0]!.locateText!(path)).toEqual(slow.documents[0]!.locateText!(path))
    }
    expect(fast.documents[1]!.locate([3, 'name'])).toEqual(slow.documents[1]!.locate([3, 'name']))
  })
})
