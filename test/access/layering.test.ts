// The policy has one room: src/access depends on store types, errors and the API's wire types
// only, and nothing outside src/server imports the server (the engine and secrets ask src/access).
import { readFileSync, readdirSync } from 'node:fs'
import { join, relative, resolve, dirname } from 'node:path'
import { describe, expect, it } from 'vitest'

const SRC = resolve(__dirname, '../../src')

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : /\.(ts|mjs)$/.test(e.name) ? [join(dir, e.name)] : [])
}

/** Every relative module a file imports, as a path under src/ (`store/types.ts`). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const out: string[] = []
  for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g)) {
    const spec = m[1] ?? m[2]!
    out.push(relative(SRC, resolve(dirname(file), spec)).replace(/\.js$/, '.ts'))
  }
  return out
}

describe('folder layering', () => {
  it('src/access imports only itself, store types, errors and the wire types', () => {
    const allowed = (p: string) => p.startsWith('access/') || p === 'store/types.ts' || p === 'errors.ts' || p === 'client/types.ts'
    const bad = filesUnder(join(SRC, 'access')).flatMap((f) => importsOf(f).filter((p) => !allowed(p)).map((p) => `${relative(SRC, f)} → ${p}`))
    expect(bad).toEqual([])
  })

  // The CLI starts a control plane (`server start`, connect.ts), so it sits beside the server, not below it.
  it('nothing below src/server imports it', () => {
    const bad = filesUnder(SRC)
      .filter((f) => !relative(SRC, f).startsWith('server/') && !relative(SRC, f).startsWith('cli/'))
      .flatMap((f) => importsOf(f).filter((p) => p.startsWith('server/')).map((p) => `${relative(SRC, f)} → ${p}`))
    expect(bad).toEqual([])
  })
})
