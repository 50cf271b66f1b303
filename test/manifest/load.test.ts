import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseSource, readSources } from '../../src/manifest/load.js'
import { writeTree, yaml } from './helpers.js'

const noInterp = { interpolate: false, env: {} }

describe('readSources', () => {
  it('reads a single file as named', async () => {
    const root = writeTree({ 'wf.yaml': 'name: a\n' })
    const { sources, issues } = await readSources([join(root, 'wf.yaml')], { recursive: false })
    expect(issues).toEqual([])
    expect(sources).toEqual([{ file: join(root, 'wf.yaml'), text: 'name: a\n' }])
  })

  it('reads only manifest files of a directory, sorted, without sub-directories', async () => {
    const root = writeTree({ 'b.yml': 'b', 'a.yaml': 'a', 'c.json': '{}', 'notes.txt': 'x', 'sub/d.yaml': 'd' })
    const { sources } = await readSources([root], { recursive: false })
    expect(sources.map((s) => s.file)).toEqual([join(root, 'a.yaml'), join(root, 'b.yml'), join(root, 'c.json')])
  })

  it('descends into sub-directories with recursive', async () => {
    const root = writeTree({ 'a.yaml': 'a', 'sub/d.yaml': 'd', 'sub/deeper/e.yml': 'e', 'sub/x.txt': 'x' })
    const { sources } = await readSources([root], { recursive: true })
    expect(sources.map((s) => s.file)).toEqual([join(root, 'a.yaml'), join(root, 'sub/d.yaml'), join(root, 'sub/deeper/e.yml')])
  })

  it('reports a directory without manifest files', async () => {
    const root = writeTree({ 'notes.txt': 'x', 'sub/a.yaml': 'a: 1' })
    const flat = await readSources([root], { recursive: false })
    expect(flat.issues).toEqual([
      { file: root, line: 0, column: 0, path: '', code: 'E_FILE', message: 'no manifest files (*.yaml, *.yml, *.json) in folder (-R reads subfolders)' },
    ])
    expect((await readSources([root], { recursive: true })).issues).toEqual([])
  })

  it('reads - from the given stdin reader once, as <stdin>', async () => {
    let calls = 0
    const stdin = async (): Promise<string> => {
      calls++
      return 'name: from-stdin\n'
    }
    const { sources } = await readSources(['-', '-'], { recursive: false, stdin })
    expect(sources).toEqual([{ file: '<stdin>', text: 'name: from-stdin\n' }])
    expect(calls).toBe(1)
  })

  it('collects every missing file and still reads the others', async () => {
    const root = writeTree({ 'ok.yaml': 'a: 1\n' })
    const missing1 = join(root, 'nope.yaml')
    const missing2 = join(root, 'gone', 'x.yaml')
    const { sources, issues } = await readSources([missing1, join(root, 'ok.yaml'), missing2], { recursive: false })
    expect(sources.map((s) => s.file)).toEqual([join(root, 'ok.yaml')])
    expect(issues).toEqual([
      { file: missing1, line: 0, column: 0, path: '', code: 'E_FILE', message: 'no such file' },
      { file: missing2, line: 0, column: 0, path: '', code: 'E_FILE', message: 'no such file' },
    ])
  })
})

describe('parseSource', () => {
  it('returns every non-empty document of a multi-document file with its index', () => {
    const text = yaml`
      name: one
      ---
      # only a comment
      ---
      name: two
      ---
      `
    const { documents, issues } = parseSource({ file: 'm.yaml', text }, noInterp)
    expect(issues).toEqual([])
    expect(documents.map((d) => [d.index, d.value])).toEqual([
      [0, { name: 'one' }],
      [2, { name: 'two' }],
    ])
    expect(documents.every((d) => d.file === 'm.yaml')).toBe(true)
  })

  it('locates keys, list items, and the nearest ancestor of a missing path', () => {
    const text = yaml`
      version: v2alpha
      spec:
        dag:
          - name: a
            depends: [x, y]
          - name: b
      `
    const [doc] = parseSource({ file: 'l.yaml', text }, noInterp).documents
    expect(doc!.locate([])).toEqual({ line: 1, column: 1 })
    expect(doc!.locate(['spec'])).toEqual({ line: 2, column: 1 })
    expect(doc!.locate(['spec', 'dag', 1])).toEqual({ line: 6, column: 7 })
    expect(doc!.locate(['spec', 'dag', 1, 'name'])).toEqual({ line: 6, column: 7 })
    expect(doc!.locate(['spec', 'dag', 0, 'depends', 1])).toEqual({ line: 5, column: 20 })
    // Missing key: the entry that holds it; missing index: the list's key.
    expect(doc!.locate(['spec', 'schedule', 'crons'])).toEqual({ line: 2, column: 1 })
    expect(doc!.locate(['spec', 'dag', 7, 'name'])).toEqual({ line: 3, column: 3 })
  })

  it('reports a syntax error with its line and column and skips only that document', () => {
    const text = 'name: ok\n---\nspec:\n  dag: [a, b\nnext: 1\n'
    const { documents, issues } = parseSource({ file: 's.yaml', text }, noInterp)
    expect(documents.map((d) => d.value)).toEqual([{ name: 'ok' }])
    expect(issues.length).toBeGreaterThan(0)
    expect(issues[0]).toMatchObject({ file: 's.yaml', code: 'E_YAML_SYNTAX', line: 5, column: 1 })
    expect(issues[0]!.message).toMatch(/^YAML syntax error: /)
  })

  it('refuses duplicate keys', () => {
    const text = 'name: a\ntype: workflow\nname: b\n'
    const { documents, issues } = parseSource({ file: 'd.yaml', text }, noInterp)
    expect(documents).toEqual([])
    expect(issues).toEqual([{ file: 'd.yaml', line: 3, column: 1, path: '', code: 'E_YAML_SYNTAX', message: 'duplicate key "name"' }])
  })

  it('parses JSON files too', () => {
    const { documents } = parseSource({ file: 'j.json', text: '{"name": "a", "tags": ["x"]}' }, noInterp)
    expect(documents[0]!.value).toEqual({ name: 'a', tags: ['x'] })
  })
})

describe('YAML safety limits', () => {
  it('refuses an alias expansion bomb', () => {
    const text = yaml`
      a: &a ["x","x","x","x","x","x","x","x","x"]
      b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
      c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
      d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
      e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
      f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
      `
    const { documents, issues } = parseSource({ file: 'bomb.yaml', text }, noInterp)
    expect(documents).toEqual([])
    expect(issues).toEqual([
      {
        file: 'bomb.yaml',
        line: 1,
        column: 1,
        path: '',
        code: 'E_YAML_LIMIT',
        message: 'too many alias expansions (more than 100); aliases that multiply are refused',
      },
    ])
  })

  it('still allows a few ordinary aliases', () => {
    const text = 'base: &b {image: alpine}\nstep: *b\n'
    const { documents, issues } = parseSource({ file: 'a.yaml', text }, noInterp)
    expect(issues).toEqual([])
    expect(documents[0]!.value).toEqual({ base: { image: 'alpine' }, step: { image: 'alpine' } })
  })

  it('refuses nesting deeper than 64 levels, moderate and extreme', () => {
    const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n)
    const ok = parseSource({ file: 'ok.yaml', text: `a: ${deep(63)}\n` }, noInterp)
    expect(ok.issues).toEqual([])
    for (const n of [65, 200, 20_000]) {
      const { documents, issues } = parseSource({ file: 'deep.yaml', text: `a: ${deep(n)}\n` }, noInterp)
      expect(documents).toEqual([])
      expect(issues).toHaveLength(1)
      expect(issues[0]).toMatchObject({ code: 'E_YAML_LIMIT', message: 'YAML nesting is too deep (more than 64 levels)' })
    }
    const blockSeq = parseSource({ file: 'seq.yaml', text: '- '.repeat(5000) + 'x\n' }, noInterp)
    expect(blockSeq.issues.map((i) => i.code)).toEqual(['E_YAML_LIMIT'])
  })

  it('refuses a file larger than 4 MiB', () => {
    const text = `a: "${'x'.repeat(4 * 1024 * 1024)}"\n`
    const { documents, issues } = parseSource({ file: 'big.yaml', text }, noInterp)
    expect(documents).toEqual([])
    expect(issues).toEqual([
      { file: 'big.yaml', line: 1, column: 1, path: '', code: 'E_YAML_LIMIT', message: `file is too large (${text.length} bytes); the limit is 4 MiB per file` },
    ])
  })

  it('refuses more than 1,000 documents in one file', () => {
    const text = Array.from({ length: 1001 }, (_, i) => `n: ${i}\n`).join('---\n')
    const { documents, issues } = parseSource({ file: 'many.yaml', text }, noInterp)
    expect(documents).toEqual([])
    expect(issues).toEqual([
      { file: 'many.yaml', line: 1, column: 1, path: '', code: 'E_YAML_LIMIT', message: 'too many documents (1001); the limit is 1000 per file' },
    ])
    const thousand = Array.from({ length: 1000 }, (_, i) => `n: ${i}\n`).join('---\n')
    expect(parseSource({ file: 'ok.yaml', text: thousand }, noInterp).documents).toHaveLength(1000)
  })

  it('reads a large but legitimate file from disk', async () => {
    const root = writeTree({})
    const file = join(root, 'big-ok.yaml')
    writeFileSync(file, Array.from({ length: 2000 }, (_, i) => `k${i}: v${i}`).join('\n'))
    const { sources } = await readSources([file], { recursive: false })
    const { documents, issues } = parseSource(sources[0]!, noInterp)
    expect(issues).toEqual([])
    expect(Object.keys(documents[0]!.value as object)).toHaveLength(2000)
  })
})
