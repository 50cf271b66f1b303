// The built commands are bundles (scripts/bundle-commands.mjs): a command run loads one module of
// ctl's own besides bin/run.js and oclif, and still finds the files the build put next to the modules
// of dist/src (the precompiled validators). Counted by modules loaded, never by time.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { cliEntry, repoRoot } from './helpers.js'

const BANNER = '// Bundled by scripts/bundle-commands.mjs'
const tmp = mkdtempSync(join(tmpdir(), 'ctl-bundled-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

// A module loader hook that only writes down every module Node loads (ES modules and what they
// import), and at exit the CommonJS modules required (node_modules/, the precompiled validators).
const hooks = join(tmp, 'hooks.mjs')
writeFileSync(hooks, `import { appendFileSync } from 'node:fs'
let file
export function initialize(data) { file = data.file }
export async function load(url, context, next) {
  appendFileSync(file, url + '\\n')
  return next(url, context)
}
`)

interface Loaded {
  code: number | null
  stdout: string
  /** ES modules of this ctl (bin/, dist/), as paths relative to the package root. */
  ctl: string[]
  /** Every CommonJS module required, as absolute paths. */
  cjs: string[]
}

/** Runs the built CLI and lists the modules it loaded. */
function loadedBy(args: string[]): Loaded {
  const list = join(mkdtempSync(join(tmp, 'run-')), 'loaded')
  writeFileSync(list, '')
  const preload = `import { createRequire, register } from 'node:module'
import { appendFileSync } from 'node:fs'
register(${JSON.stringify(pathToFileURL(hooks).href)}, { data: { file: ${JSON.stringify(list)} } })
process.on('exit', () => appendFileSync(${JSON.stringify(list)}, Object.keys(createRequire(${JSON.stringify(cliEntry)}).cache).map((f) => 'cjs:' + f + '\\n').join('')))
`
  const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(preload)}`, cliEntry, ...args], {
    cwd: repoRoot,
    env: { ...process.env, NO_COLOR: '1', CTL_HOME: join(tmp, 'home') },
    encoding: 'utf8',
  })
  const lines = readFileSync(list, 'utf8').split('\n').filter(Boolean)
  const rootUrl = pathToFileURL(repoRoot).href + '/'
  return {
    code: r.status,
    stdout: r.stdout,
    ctl: lines.filter((l) => l.startsWith(rootUrl) && !l.startsWith(rootUrl + 'node_modules/')).map((l) => l.slice(rootUrl.length)),
    cjs: lines.filter((l) => l.startsWith('cjs:')).map((l) => l.slice(4)),
  }
}

describe('the bundled commands', () => {
  it('every command of the manifest is a bundle, but server start (which runs the control plane from dist/src)', () => {
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, { relativePath: string[] }> }
    const ids = Object.keys(manifest.commands)
    expect(ids.length).toBeGreaterThan(40)
    for (const id of ids) {
      const text = readFileSync(join(repoRoot, ...manifest.commands[id]!.relativePath), 'utf8')
      expect(text.startsWith(BANNER), id).toBe(id !== 'server:start')
    }
  })

  it('a lint loads one module of ctl for the command, and validates with the precompiled validators', () => {
    const run = loadedBy(['resource', 'lint', '-f', 'examples/customer-batch-pipeline.yaml'])
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('valid')
    expect(run.ctl).toEqual(['bin/run.js', 'dist/src/cli/oclif.js', 'dist/commands/resource/lint.js'])
    // Found next to dist/src/manifest/precompiled.js, although that module now lives in the bundle...
    expect(run.cjs).toContain(join(repoRoot, 'dist', 'src', 'manifest', 'validators.generated.cjs'))
    // ...and used: Ajv's compiler is never loaded (its runtime helpers are).
    expect(run.cjs.filter((f) => /\/ajv\/dist\/(ajv|2020|core)\.js$/.test(f))).toEqual([])
  })

  it("apply's lazily imported dry-run code is inside its bundle", () => {
    const run = loadedBy(['resource', 'apply', '-f', 'examples/customer-batch-pipeline.yaml', '--dry-run', '-o', 'yaml'])
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('kind: Pod')
    expect(run.ctl).toEqual(['bin/run.js', 'dist/src/cli/oclif.js', 'dist/commands/resource/apply.js'])
  })
})
