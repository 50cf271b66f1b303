// The rooms of src/ (DESIGN.md, Layout): folders depend downwards only. No import cycle between folders
// (folder = first path segment under src/; a file at the top of src/ is its own room), src/api imports
// nothing of ctl, the policy has one room (src/access depends on store types, errors and the API's
// wire types only), and nothing below src/http and src/controlplane imports them.
import { readFileSync, readdirSync } from 'node:fs'
import { join, relative, resolve, dirname } from 'node:path'
import { describe, expect, it } from 'vitest'

const SRC = resolve(__dirname, '../../src')

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : /\.(ts|mts|mjs)$/.test(e.name) ? [join(dir, e.name)] : [])
}

/** Every relative module a file imports (types too), as a path under src/ (`store/types.ts`). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const out: string[] = []
  for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)|^import\s+'(\.[^']+)'/gm)) {
    const spec = m[1] ?? m[2] ?? m[3]!
    out.push(relative(SRC, resolve(dirname(file), spec)).replace(/\.js$/, '.ts'))
  }
  return out
}

/** The room of a path under src/: its first folder, or the file itself at the top. */
const roomOf = (p: string): string => (p.includes('/') ? p.slice(0, p.indexOf('/')) : p.replace(/\.(d\.mts|ts|mts|mjs|js)$/, ''))

function roomGraph(): Map<string, Map<string, string[]>> {
  const graph = new Map<string, Map<string, string[]>>()
  for (const f of filesUnder(SRC)) {
    const from = relative(SRC, f)
    for (const p of importsOf(f)) {
      if (p.startsWith('..')) continue
      const a = roomOf(from)
      const b = roomOf(p)
      if (a === b) continue
      const edges = graph.get(a) ?? new Map<string, string[]>()
      graph.set(a, edges)
      edges.set(b, [...(edges.get(b) ?? []), `${from} → ${p}`])
    }
  }
  return graph
}

/** Strongly connected groups of rooms (Tarjan): any group of two or more is a cycle. */
function cycles(graph: Map<string, Map<string, string[]>>): string[][] {
  let index = 0
  const idx = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const on = new Set<string>()
  const out: string[][] = []
  const visit = (v: string): void => {
    idx.set(v, index)
    low.set(v, index++)
    stack.push(v)
    on.add(v)
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!idx.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!))
    }
    if (low.get(v) === idx.get(v)) {
      const group: string[] = []
      let w: string
      do {
        w = stack.pop()!
        on.delete(w)
        group.push(w)
      } while (w !== v)
      if (group.length > 1) out.push(group.sort())
    }
  }
  for (const v of graph.keys()) if (!idx.has(v)) visit(v)
  return out
}

describe('folder layering', () => {
  it('no import cycle between the folders of src/', () => {
    const graph = roomGraph()
    const found = cycles(graph).map((group) => {
      const inside = group.flatMap((a) => [...(graph.get(a) ?? new Map<string, string[]>())].filter(([b]) => group.includes(b)).map(([b, files]) => `${a} → ${b} (${files[0]}${files.length > 1 ? `, +${files.length - 1}` : ''})`))
      return `${group.join(' ↔ ')}: ${inside.join('; ')}`
    })
    expect(found).toEqual([])
  })

  it('src/api imports nothing of ctl', () => {
    const bad = filesUnder(join(SRC, 'api')).flatMap((f) => importsOf(f).filter((p) => !p.startsWith('api/')).map((p) => `${relative(SRC, f)} → ${p}`))
    expect(bad).toEqual([])
  })

  it('src/access imports only itself, store types, errors and the wire types', () => {
    const allowed = (p: string) => p.startsWith('access/') || p.startsWith('api/') || p === 'store/types.ts' || p === 'errors.ts'
    const bad = filesUnder(join(SRC, 'access')).flatMap((f) => importsOf(f).filter((p) => !allowed(p)).map((p) => `${relative(SRC, f)} → ${p}`))
    expect(bad).toEqual([])
  })

  // The CLI starts a control plane (`server start`, connect.ts), so it sits beside it, not below it.
  it('nothing below src/http and src/controlplane imports them', () => {
    const top = (p: string) => p.startsWith('http/') || p.startsWith('controlplane/')
    const bad = filesUnder(SRC)
      .filter((f) => !top(relative(SRC, f)) && !relative(SRC, f).startsWith('cli/'))
      .flatMap((f) => importsOf(f).filter(top).map((p) => `${relative(SRC, f)} → ${p}`))
    expect(bad).toEqual([])
  })

  it('http does not import the control plane (the control plane wires http in)', () => {
    const bad = filesUnder(join(SRC, 'http')).flatMap((f) => importsOf(f).filter((p) => p.startsWith('controlplane/')).map((p) => `${relative(SRC, f)} → ${p}`))
    expect(bad).toEqual([])
  })
})
