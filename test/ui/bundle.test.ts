// The console's bundle (scripts/build-ui.mjs) and its pure parts: hashed names that index.html
// names, nothing fetched from elsewhere, under the gzip budget; the revision diff and the DAG model.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { root } from './browser.js'

// Plain-JS modules: imported by a computed URL so the type checker does not look for declarations.
const load = async <T>(file: string): Promise<T> => (await import(pathToFileURL(join(root, file)).href)) as T

type Build = { js: string; css: string; gzipBytes: number; rawBytes: number }
type Diff = (a: string, b: string) => { op: ' ' | '-' | '+'; text: string }[]

const out = mkdtempSync(join(tmpdir(), 'ctl-ui-build-'))
afterAll(() => rmSync(out, { recursive: true, force: true }))

describe('the console bundle', () => {
  it('is built into hashed files that index.html names, everything local, under 300 KB gzipped', async () => {
    const { buildUi, UI_BUDGET_GZIP_BYTES } = await load<{ buildUi: (o: object) => Promise<Build>; UI_BUDGET_GZIP_BYTES: number }>('scripts/build-ui.mjs')
    const b = await buildUi({ outdir: out, quiet: true })
    expect(UI_BUDGET_GZIP_BYTES).toBe(300 * 1024)
    expect(b.gzipBytes).toBeLessThan(UI_BUDGET_GZIP_BYTES)
    expect(b.js).toMatch(/^app-[A-Za-z0-9]{8,}\.js$/)
    expect(b.css).toMatch(/^style-[A-Za-z0-9]{8,}\.css$/)
    expect(readdirSync(out).sort()).toEqual([b.js, b.css, 'index.html'].sort())
    const html = readFileSync(join(out, 'index.html'), 'utf8')
    expect(html).toContain(`src="/ui/${b.js}"`)
    expect(html).toContain(`href="/ui/${b.css}"`)
    // No inline script (the CSP forbids it) and nothing from another origin.
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/)
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//)
    const js = readFileSync(join(out, b.js), 'utf8')
    expect(js).not.toMatch(/https?:\/\/(cdn|unpkg|fonts)\./)
  })
})

describe('the revision diff', () => {
  it('marks removed and added lines and keeps the common ones', async () => {
    const { lineDiff } = await load<{ lineDiff: Diff }>('ui/src/diff.js')
    expect(lineDiff('a\nb\nc\nd', 'a\nc\nx\nd')).toEqual([
      { op: ' ', text: 'a' }, { op: '-', text: 'b' }, { op: ' ', text: 'c' }, { op: '+', text: 'x' }, { op: ' ', text: 'd' },
    ])
    expect(lineDiff('same', 'same')).toEqual([{ op: ' ', text: 'same' }])
    // Applying the diff to the left text gives the right one.
    const a = Array.from({ length: 300 }, (_, i) => `line ${i % 17}`).join('\n')
    const b = Array.from({ length: 280 }, (_, i) => `line ${(i * 7) % 19}`).join('\n')
    const d = lineDiff(a, b)
    expect(d.filter((x) => x.op !== '+').map((x) => x.text).join('\n')).toBe(a)
    expect(d.filter((x) => x.op !== '-').map((x) => x.text).join('\n')).toBe(b)
  })
})

describe('the DAG model', () => {
  it('reads v2alpha, v1 and normalized manifests alike and groups fan-out instances under their parent', async () => {
    type Steps = { dag: { name: string; depends: string[] }[]; finally: { name: string }[] }
    const m = await load<{ stepsOf: (m: unknown) => Steps; nodeStates: (s: unknown[]) => Map<string, { state: string; instances?: unknown[]; counts?: Record<string, number> }> }>('ui/src/model.js')
    const v2 = m.stepsOf({ spec: { dag: [{ name: 'a' }, { name: 'b', depends: ['a'] }], finally: [{ name: 'z' }] } })
    const v1 = m.stepsOf({ workflow: { dag: [{ name: 'a' }, { name: 'b', dependencies: ['a'] }], finally: [{ name: 'z' }] } })
    expect(v2).toEqual(v1)
    expect(v2.dag[1]!.depends).toEqual(['a'])
    const states = m.nodeStates([
      { step: 'a', attempt: 1, state: 'failed' }, { step: 'a', attempt: 2, state: 'succeeded' },
      { step: 'shard-0', parent: 'shard', attempt: 1, state: 'succeeded', instance: { index: 0, item: 'x' } },
      { step: 'shard-1', parent: 'shard', attempt: 1, state: 'running', instance: { index: 1, item: 'y' } },
    ])
    expect(states.get('a')!.state).toBe('succeeded')
    expect(states.get('shard')).toMatchObject({ state: 'running', counts: { succeeded: 1, running: 1 } })
    expect(states.get('shard')!.instances).toHaveLength(2)
  })
})

describe('the manifest view', () => {
  it('writes YAML that reads back as the manifest', async () => {
    const { toYaml } = await load<{ toYaml: (v: unknown) => string }>('ui/src/yaml.js')
    const { parse } = await import('yaml')
    const m = {
      meta: { name: 'a', tags: [], n: 1, t: 'true', x: null, odd: 'a: b', hash: 'x #y', num: '007', sp: ' lead' },
      workflow: { dag: [{ name: 'b', depends: [], spec: { script: 'echo a\necho b\n', last: 'no newline\nend', e: {} } }, { name: 'c', depends: ['b'], m: [[1, 2], { a: 1 }] }] },
    }
    expect(parse(toYaml(m))).toEqual(m)
  })
})
