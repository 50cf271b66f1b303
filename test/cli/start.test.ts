// How the built CLI starts and lists: oclif compiled from the code cache written at build
// (and still working when that cache does not fit), and `get` printing the server's text
// table to the byte.
import { spawnSync } from 'node:child_process'
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { renderTable } from '../../src/cli/output.js'
import { CtlClient } from '../../src/client/client.js'
import { startControlPlane, type ControlPlane } from '../../src/controlplane/control-plane.js'
import { openTestStore, testStoreUrl } from '../support/store.js'
import { repoRoot, runCli } from './helpers.js'

const cliDir = join(repoRoot, 'dist', 'src', 'cli')
const tmp = mkdtempSync(join(tmpdir(), 'ctl-start-'))

/** What the oclif module reports when imported by a fresh node from `dir`. */
function importOclif(dir: string): { codeCache: string; execute: string; flags: string } {
  const url = pathToFileURL(join(dir, 'oclif.js')).href
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `
    const m = await import(${JSON.stringify(url)})
    console.log(JSON.stringify({ codeCache: m.codeCache, execute: typeof m.execute, flags: typeof m.Flags.string }))
  `], { encoding: 'utf8' })
  expect(r.stderr).toBe('')
  return JSON.parse(r.stdout) as { codeCache: string; execute: string; flags: string }
}

afterAll(() => rmSync(tmp, { recursive: true, force: true }))

describe('the bundled oclif', () => {
  it('is compiled from the code cache the build wrote', () => {
    expect(importOclif(cliDir)).toEqual({ codeCache: 'used', execute: 'function', flags: 'function' })
  })

  it('compiles from source when the cache is missing or was written by another Node', () => {
    const copy = mkdtempSync(join(tmp, 'oclif-'))
    for (const f of ['oclif.js', 'oclif.bundle.cjs']) copyFileSync(join(cliDir, f), join(copy, f))
    expect(importOclif(copy)).toEqual({ codeCache: 'missing', execute: 'function', flags: 'function' })
    // The seal (a copy of the source) intact, V8's data cut short: V8 rejects it.
    const sealed = readFileSync(join(cliDir, 'oclif.bundle.cjs')).length
    writeFileSync(join(copy, 'oclif.bundle.cjs.cache'), readFileSync(join(cliDir, 'oclif.bundle.cjs.cache')).subarray(0, sealed + 480))
    expect(importOclif(copy)).toEqual({ codeCache: 'rejected', execute: 'function', flags: 'function' })
  })

  it('never runs a cache made from another bundle of the same length, nor one that others could write', () => {
    // V8 alone would take it (it checks the source's length only) and run the old bundle's code.
    const copy = mkdtempSync(join(tmp, 'oclif-'))
    for (const f of ['oclif.js', 'oclif.bundle.cjs.cache']) copyFileSync(join(cliDir, f), join(copy, f))
    const bundle = readFileSync(join(cliDir, 'oclif.bundle.cjs'), 'utf8')
    const at = bundle.lastIndexOf('\n})')
    writeFileSync(join(copy, 'oclif.bundle.cjs'), `${bundle.slice(0, at - 2)};;${bundle.slice(at)}`)
    expect(readFileSync(join(copy, 'oclif.bundle.cjs')).length).toBe(Buffer.byteLength(bundle))
    expect(importOclif(copy)).toEqual({ codeCache: 'stale', execute: 'function', flags: 'function' })
    // The very bundle again: used, unless the cache is writable by group or others.
    copyFileSync(join(cliDir, 'oclif.bundle.cjs'), join(copy, 'oclif.bundle.cjs'))
    expect(importOclif(copy).codeCache).toBe('used')
    for (const mode of [0o664, 0o646]) {
      chmodSync(join(copy, 'oclif.bundle.cjs.cache'), mode)
      expect(importOclif(copy).codeCache).toBe('unsafe')
    }
  })

  it('the validators\' caches follow the same rule (a stale one is not used)', async () => {
    const { codeCacheOf } = (await import(pathToFileURL(join(repoRoot, 'scripts', 'code-cache.mjs')).href)) as {
      codeCacheOf: (fs: unknown, file: string, source: Buffer) => Buffer | string
    }
    const fs = await import('node:fs')
    const file = join(repoRoot, 'dist', 'src', 'manifest', 'validators.generated', '1.cjs')
    expect(codeCacheOf(fs, file, readFileSync(file))).toBeInstanceOf(Buffer)
    const other = Buffer.from(readFileSync(file))
    other[other.length - 2] = other[other.length - 2] === 0x3b ? 0x20 : 0x3b
    expect(codeCacheOf(fs, file, other)).toBe('stale')
    expect(readFileSync(join(repoRoot, 'dist', 'src', 'manifest', 'validators.generated.cjs'), 'utf8')).toContain('codeCacheOf(fs, file, source)')
  })
})

describe('ctl resource get -a against a remote control plane', () => {
  let plane: ControlPlane
  let home: string
  let env: NodeJS.ProcessEnv

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmp, 'data-'))
    const store = await openTestStore(dataDir)
    for (const [workspace, name, owner] of [['public', 'nightly-etl', 'alice'], ['sales', 'sync', 'bob']] as const) {
      const manifest = { meta: { name, version: 'v1', type: 'workflow', tags: [], layer: 'user' }, workflow: { dag: [{ name: 'a', depends: [], spec: { stack: 'alpha' } }] } }
      const { resource } = await store.applyResource({ workspace, type: 'workflow', name, version: 'v1', manifest, owner })
      await store.setResourceStatus(resource.id, 'active')
    }
    await store.close()
    plane = await startControlPlane({ dataDir, port: 0, storeUrl: await testStoreUrl(dataDir) })
    home = mkdtempSync(join(tmp, 'home-'))
    // JSON is YAML: a context naming this control plane.
    writeFileSync(join(home, 'config.yaml'), JSON.stringify({ currentContext: 'remote', contexts: [{ name: 'remote', server: plane.url, workspace: 'public' }] }))
    env = { CTL_HOME: home, CTL_APIKEY: plane.adminToken }
  })

  afterAll(async () => {
    await plane?.close()
  })

  it('prints the table the server printed, byte for byte', async () => {
    const table = await new CtlClient({ baseUrl: plane.url, apiKey: plane.adminToken }).listTable({ all: true })
    const r = await runCli(['resource', 'get', '-a'], { env })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(renderTable(table.columns, table.rows))
    expect(r.stdout).toMatch(/^sync\s+\| v1\s+\| workflow \| sales\s+\| active \| pending \| bob$/m)
  })

  it('a named resource that does not exist is not found (exit 3, one line)', async () => {
    const r = await runCli(['get', '-a', '-t', 'workflow', '-n', 'no-such-thing'], { env })
    expect(r.code).toBe(3)
    expect(r.stdout).toBe('')
    expect(r.stderr).toBe('error: workflow no-such-thing not found in any workspace\n')
  })
})
