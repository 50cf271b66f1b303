// Paths inside a volume never lead out of it: resolveBeneath on its own, then real bubblewrap
// steps that plant links in a volume for a later step's subPath, file projection, nested
// volume and working folder.

import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveBeneath } from '../../src/runtime/local/beneath.js'
import { HostClient } from '../../src/runtime/local/host-client.js'
import { hostSocketPath } from '../../src/runtime/local/host-start.js'
import { createLocalRuntime, supervisorPath } from '../../src/runtime/local/index.js'
import { StartProblem } from '../../src/runtime/local/pod.js'
import type { Runtime } from '../../src/runtime/types.js'
import { collect, hasBwrap, launch, pod, run, tempDir, texts } from './helpers.js'

const dirs: string[] = []
const temp = (prefix: string) => {
  const d = tempDir(prefix)
  dirs.push(d)
  return d
}
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })))

/** A root-only folder outside the volume: what a planted link aims at. */
function secretDir(): string {
  const d = path.join(temp('ctl-secret-'), 'secret-dir')
  fs.mkdirSync(d, { mode: 0o700 })
  fs.writeFileSync(path.join(d, 'keep'), 'root only')
  return d
}
const listing = (d: string) => fs.readdirSync(d).sort()

describe('resolveBeneath', () => {
  const opts = { what: 'volume "data" subPath "x"', rootName: 'the volume', create: true }

  it('makes missing folders one by one and returns the real path', () => {
    const root = temp('ctl-vol-')
    expect(resolveBeneath(root, 'a/b/c', opts)).toBe(path.join(fs.realpathSync(root), 'a/b/c'))
    expect(fs.statSync(path.join(root, 'a/b/c')).isDirectory()).toBe(true)
    expect(resolveBeneath(root, './a//b/', opts)).toBe(path.join(fs.realpathSync(root), 'a/b'))
  })

  it('follows a link that stays inside the root', () => {
    const root = temp('ctl-vol-')
    fs.mkdirSync(path.join(root, 'real'))
    fs.symlinkSync('real', path.join(root, 'alias'))
    expect(resolveBeneath(root, 'alias/sub', opts)).toBe(path.join(fs.realpathSync(root), 'real/sub'))
    expect(fs.existsSync(path.join(root, 'real/sub'))).toBe(true)
  })

  it.each([
    ['an absolute link', (target: string) => target],
    ['a relative link', (target: string, root: string) => path.relative(root, target)],
  ])('refuses %s out of the root and creates nothing through it', (_what, linkTo) => {
    const root = temp('ctl-vol-')
    const secret = secretDir()
    fs.symlinkSync(linkTo(secret, root), path.join(root, 'x'))
    const attempt = () => resolveBeneath(root, 'x/deeper', opts)
    expect(attempt).toThrow(StartProblem)
    expect(attempt).toThrow(/^volume "data" subPath "x" leaves the volume: "x" is a symbolic link to /)
    expect(listing(secret)).toEqual(['keep'])
  })

  it('refuses a dangling link (mkdir through it would create its target) and "..", and a file as a folder', () => {
    const root = temp('ctl-vol-')
    const gone = path.join(temp('ctl-x-'), 'not-yet')
    fs.symlinkSync(gone, path.join(root, 'x'))
    expect(() => resolveBeneath(root, 'x', opts)).toThrow(/leads nowhere inside it/)
    expect(fs.existsSync(gone)).toBe(false)
    expect(() => resolveBeneath(root, 'a/../../etc', opts)).toThrow(/must not contain "\.\."/)
    fs.writeFileSync(path.join(root, 'f'), '')
    expect(() => resolveBeneath(root, 'f/g', opts)).toThrow(/"f" is not a folder/)
  })

  it('with links: none, refuses even a link that stays inside the root', () => {
    const root = temp('ctl-vol-')
    fs.mkdirSync(path.join(root, 'real'))
    fs.symlinkSync('real', path.join(root, 'alias'))
    expect(() => resolveBeneath(root, 'alias/sub', { ...opts, links: 'none' })).toThrow(/"alias" is a symbolic link \(a mount point/)
    expect(fs.existsSync(path.join(root, 'real/sub'))).toBe(false)
  })

  it('refuses a link deep in the path, planted in a folder the walk created', () => {
    const root = temp('ctl-vol-')
    const secret = secretDir()
    fs.mkdirSync(path.join(root, 'a/b'), { recursive: true })
    fs.symlinkSync(secret, path.join(root, 'a/b/c'))
    expect(() => resolveBeneath(root, 'a/b/c/d/e', opts)).toThrow(/"a\/b\/c" is a symbolic link to/)
    expect(listing(secret)).toEqual(['keep'])
  })
})

describe.skipIf(!hasBwrap)('links planted in a volume, in bubblewrap', () => {
  let rt: Runtime
  let volDir: string
  let secret: string
  const volumes = [{ name: 'ws', persistentVolumeClaim: { claimName: 'shared' } }]
  const volumeDirs = () => ({ shared: volDir })
  beforeAll(() => {
    rt = createLocalRuntime({ stateDir: temp('ctl-rt-'), sandbox: 'bubblewrap' })
  })
  const fresh = async () => {
    volDir = temp('ctl-vol-')
    secret = secretDir()
    // Step 1 plants the links, as any step may.
    const planter = pod(
      { command: ['sh', '-c', `ln -s ${secret} /workspace/x && ln -s ../../../../../../../../../../oldroot${secret} /workspace/rel && ln -s ${secret}/f /workspace/file && echo planted`], volumeMounts: [{ name: 'ws', mountPath: '/workspace' }] },
      { volumes },
    )
    const r = await run(rt, launch(planter, { volumeDirs: volumeDirs() }))
    expect(texts(r.lines)).toEqual(['planted'])
  }

  it.each(['x', 'rel', 'x/deeper'])('a later step mounting subPath "%s" fails to start and the host folder is untouched', async (subPath) => {
    await fresh()
    const p = pod({ command: ['sh', '-c', 'echo pwned > /data/pwned; echo ran'], volumeMounts: [{ name: 'ws', mountPath: '/data', subPath }] }, { volumes })
    const r = await run(rt, launch(p, { volumeDirs: volumeDirs() }))
    expect(r.exit).toMatchObject({ reason: 'StartError', exitCode: null })
    expect(r.exit.message).toMatch(new RegExp(`^volume "ws" subPath "${subPath}" leaves the volume: "${subPath.split('/')[0]}" is a symbolic link`))
    expect(texts(r.lines)).toEqual([])
    expect(listing(secret)).toEqual(['keep'])
  })

  it.each([
    ['a projected folder', { name: 'files', configMap: { name: 'cfg' } }, '/data/rel/sub', undefined],
    ['a projected single file', { name: 'files', configMap: { name: 'cfg' } }, '/data/x/f', 'a'],
    ['a file planted as a link', { name: 'files', configMap: { name: 'cfg' } }, '/data/file', 'a'],
    ['a nested volume', { name: 'other', emptyDir: {} }, '/data/rel/in', undefined],
  ])('%s whose mount point lies through a planted link fails to start and creates nothing there', async (_what, vol, mountPath, subPath) => {
    await fresh()
    const p = pod(
      { command: ['sh', '-c', 'echo ran'], volumeMounts: [{ name: 'ws', mountPath: '/data' }, { name: vol.name, mountPath, ...(subPath ? { subPath } : {}) }] },
      { volumes: [...volumes, vol] },
    )
    const r = await run(rt, launch(p, { volumeDirs: volumeDirs(), configData: { a: 'config-a' } }))
    expect(r.exit).toMatchObject({ reason: 'StartError', exitCode: null })
    expect(r.exit.message).toMatch(/\(inside volume "ws" at \/data\) leaves the volume: ".*" is a symbolic link/)
    expect(listing(secret)).toEqual(['keep'])
  })

  it('a working folder through a planted link fails to start', async () => {
    await fresh()
    const p = pod({ command: ['sh', '-c', 'echo ran'], workingDir: '/data/rel/wd', volumeMounts: [{ name: 'ws', mountPath: '/data' }] }, { volumes })
    const r = await run(rt, launch(p, { volumeDirs: volumeDirs() }))
    expect(r.exit).toMatchObject({ reason: 'StartError' })
    expect(r.exit.message).toMatch(/^workingDir \/data\/rel\/wd \(inside volume "ws" at \/data\) leaves the volume/)
    expect(listing(secret)).toEqual(['keep'])
  })

  it('a mount point through a link that stays inside the volume is refused too (bwrap would walk the link itself)', async () => {
    await fresh()
    fs.mkdirSync(path.join(volDir, 'real'))
    fs.symlinkSync('real', path.join(volDir, 'inner'))
    const p = pod(
      { command: ['sh', '-c', 'echo ran'], volumeMounts: [{ name: 'ws', mountPath: '/data' }, { name: 'files', mountPath: '/data/inner/conf' }] },
      { volumes: [...volumes, { name: 'files', configMap: { name: 'cfg' } }] },
    )
    const r = await run(rt, launch(p, { volumeDirs: volumeDirs(), configData: { a: 'config-a' } }))
    expect(r.exit).toMatchObject({ reason: 'StartError' })
    expect(r.exit.message).toMatch(/"inner" is a symbolic link \(a mount point or working folder inside a volume may not go through one\)/)
    expect(fs.readdirSync(path.join(volDir, 'real'))).toEqual([])
  })

  it('a volume whose own folder lies below a link of the machine (the data folder) still works', async () => {
    await fresh()
    const alias = path.join(temp('ctl-alias-'), 'vol')
    fs.symlinkSync(volDir, alias)
    const p = pod(
      { command: ['sh', '-c', 'cat /data/conf/a; echo; pwd'], workingDir: '/data/wd', volumeMounts: [{ name: 'ws', mountPath: '/data' }, { name: 'files', mountPath: '/data/conf' }] },
      { volumes: [...volumes, { name: 'files', configMap: { name: 'cfg' } }] },
    )
    const r = await run(rt, launch(p, { volumeDirs: { shared: alias }, configData: { a: 'config-a' } }))
    expect(r.exit.reason).toBe('Completed')
    expect(texts(r.lines)).toEqual(['config-a', '/data/wd'])
  })

  it('links inside the volume, projections and nested folders that stay inside it still work', async () => {
    await fresh()
    fs.mkdirSync(path.join(volDir, 'real'))
    fs.symlinkSync('real', path.join(volDir, 'inner'))
    const p = pod(
      {
        command: ['sh', '-c', 'echo ok > /out/f && cat /data/conf/a && echo && pwd'],
        workingDir: '/data/new/wd',
        volumeMounts: [{ name: 'ws', mountPath: '/data' }, { name: 'ws', mountPath: '/out', subPath: 'inner/made' }, { name: 'files', mountPath: '/data/conf' }],
      },
      { volumes: [...volumes, { name: 'files', configMap: { name: 'cfg' } }] },
    )
    const r = await run(rt, launch(p, { volumeDirs: volumeDirs(), configData: { a: 'config-a' } }))
    expect(r.exit.reason).toBe('Completed')
    expect(texts(r.lines)).toEqual(['config-a', '/data/new/wd'])
    expect(fs.readFileSync(path.join(volDir, 'real/made/f'), 'utf8')).toBe('ok\n')
    expect(listing(secret)).toEqual(['keep'])
  })
})

// The step host checks the paths again right before it starts the step: a folder swapped for a
// link after the control plane's check (a step racing the start) stops the start.
describe('the step host checks volume paths again before it starts a step', () => {
  it('refuses a path that became a link, and starts nothing', async () => {
    const stateDir = temp('ctl-rt-')
    const root = temp('ctl-vol-')
    const secret = secretDir()
    fs.symlinkSync(secret, path.join(root, 'x')) // as if swapped in after the control plane's check
    const marker = path.join(stateDir, 'started')
    const client = new HostClient(stateDir, hostSocketPath(stateDir), supervisorPath, 500)
    const attemptDir = path.join(stateDir, 'swapped', 'main.0')
    const handle = { runtime: 'local', id: 'swapped/main/0', data: { attemptDir, logBeside: true, folder: false, mode: 'none', host: true, supervisorPid: null, supervisorStart: null, stepPid: null, shmDir: null, image: null, notes: [] } }
    const spec = {
      attemptDir, mode: 'none', command: '/bin/sh', args: ['-c', `touch ${marker}; echo pwned > ${path.join(root, 'x', 'pwned')}`], env: {}, cwd: '/', fdData: [],
      beneath: [{ root: fs.realpathSync(root), path: path.join(fs.realpathSync(root), 'x', 'y'), what: 'volume "ws" subPath "x/y"' }],
      graceMs: 1000, redact: [], maxLineBytes: 1 << 20,
    }
    try {
      const reply = await client.request({ op: 'start', spec, handle }, { spawn: true })
      expect(reply).toMatchObject({ ok: true })
      const rt = createLocalRuntime({ stateDir, sandbox: 'none' })
      const r = await collect(rt, reply!.handle as Parameters<typeof collect>[1])
      expect(r.exit).toMatchObject({ reason: 'StartError', exitCode: null, message: 'volume "ws" subPath "x/y" leaves the volume: "x" became a symbolic link as the step started' })
      expect(fs.existsSync(marker)).toBe(false)
      expect(listing(secret)).toEqual(['keep'])
    } finally {
      client.close()
    }
  })
})
