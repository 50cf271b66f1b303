// Which binary runs the bubblewrap layout (sandbox.ts): ctl's own launcher, ctl-sandbox, when it is built and passes
// bwrap's probe as the step user; bwrap when asked for ($CTL_SANDBOX_LAUNCHER=bwrap, the sandboxLauncher option) or
// when the launcher fails its probe (noted in the runtime's detail, not an error); a launcher value of neither kind
// is refused. What runs a step is read from the kernel: /proc/<pid>/exe of the step's outer process, which for
// ctl-sandbox is ctl-spawner when the step host has the spawner (the launcher compiled in, run in its forked child
// without an exec), named ctl-sandbox there (/proc/<pid>/comm).

import fs from 'node:fs'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { packageRoot } from '../../src/package-root.js'
import { createLocalRuntime, type LocalRuntimeOptions } from '../../src/runtime/local/index.js'
import { LAUNCHER_ENV } from '../../src/runtime/local/sandbox.js'
import type { Runtime } from '../../src/runtime/types.js'
import { collect, hasBwrap, launch, loggedTexts, pod, shPod, tempDir, until } from './helpers.js'

/** What `npm run build` makes where a C compiler exists (scripts/build-spawner.mjs). */
const built = path.join(packageRoot(), 'dist', 'native', 'ctl-sandbox')
const hasLauncher = fs.existsSync(built)
const bwrap = fs.realpathSync.native(hasBwrap ? '/usr/bin/bwrap' : '/')

// The build falls back to bwrap quietly (one line) when the launcher does not compile; where it compiled the spawner,
// a C compiler is there, and a launcher source that does not compile must not hide behind that fallback.
const source = path.join(packageRoot(), 'src', 'runtime', 'local', 'sandbox-launcher.c')
const spawner = path.join(packageRoot(), 'dist', 'native', 'ctl-spawner')
it.runIf(fs.existsSync(source) && fs.existsSync(spawner))('is built wherever the build compiled the spawner', () => {
  expect(fs.statSync(built).mode & 0o111).toBe(0o111)
})

describe.skipIf(!hasBwrap)('the binary that runs the bubblewrap layout', () => {
  const dirs: string[] = []
  const savedEnv = process.env[LAUNCHER_ENV]
  let scratch: string
  beforeAll(() => {
    scratch = tempDir('ctl-launcher-')
    dirs.push(scratch)
  })
  afterEach(() => {
    if (savedEnv === undefined) delete process.env[LAUNCHER_ENV]
    else process.env[LAUNCHER_ENV] = savedEnv
  })
  afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })))

  function runtime(opts: Partial<LocalRuntimeOptions> = {}): Runtime {
    const stateDir = tempDir()
    dirs.push(stateDir)
    return createLocalRuntime({ stateDir, sandbox: 'bubblewrap', ...opts })
  }

  /** The executable of a running step's outer process (the launcher the host started) and its name, then the step stopped. */
  async function stepRunBy(rt: Runtime): Promise<string> {
    const handle = await rt.start(launch(shPod('echo up; sleep 30')))
    await until(() => loggedTexts(handle.data.attemptDir).includes('up'), 'the step to start')
    const pid = handle.data.stepPid as number
    const exe = `${fs.readlinkSync(`/proc/${pid}/exe`)} ${fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim()}`
    await rt.kill(handle, 'seen')
    const { exit } = await collect(rt, handle)
    expect(exit.reason).toBe('Killed')
    return exe
  }

  it.skipIf(!hasLauncher)('is ctl-sandbox when it is built and works, with bwrap named as the reference', async () => {
    delete process.env[LAUNCHER_ENV]
    const rt = runtime()
    expect(rt.info()).toMatchObject({ sandbox: 'bubblewrap' })
    expect(rt.info().detail).toMatch(new RegExp(`^bubblewrap layout run by ctl-sandbox ${built} \\(bwrap /usr/bin/bwrap the reference\\): system folders read-only`))
    expect(await stepRunBy(rt)).toBe(fs.existsSync(spawner) ? `${spawner} ctl-sandbox` : `${built} ctl-sandbox`)
    // A step that ends by itself: its output and its exit code come through the launcher.
    const r = await collect(rt, await rt.start(launch(shPod('echo in-sandbox; hostname; exit 3'))))
    expect(r.lines.map((l) => l.text)).toEqual(['in-sandbox', 'wf-step-pod'])
    expect(r.exit).toMatchObject({ reason: 'Error', exitCode: 3 })
  })

  it.skipIf(!hasLauncher)('ends a step whose sandbox cannot be set up with a StartError, under either launcher', async () => {
    delete process.env[LAUNCHER_ENV]
    const missing = path.join(scratch, 'does-not-exist')
    const p = pod(
      { command: ['true'], volumeMounts: [{ name: 'ws', mountPath: '/workspace' }] },
      { volumes: [{ name: 'ws', persistentVolumeClaim: { claimName: 'gone' } }] },
    )
    for (const [rt, prefix] of [[runtime(), 'ctl-sandbox: '], [runtime({ sandboxLauncher: 'bwrap' }), 'bwrap: ']] as const) {
      const r = await collect(rt, await rt.start(launch(p, { volumeDirs: { gone: missing } })))
      expect(r.exit).toMatchObject({ reason: 'StartError', exitCode: null })
      expect(r.exit.message?.startsWith(prefix)).toBe(true)
      expect(r.exit.message).toContain(missing)
    }
  })

  it.skipIf(!hasLauncher)('runs volumes, a subPath, an emptyDir and an outputs file from a state folder reached through a link', async () => {
    // ctl-sandbox follows no link in a bind source: the layout must give real paths for ctl's own folders (a data
    // folder under a linked /home, say), including folders not made yet when the layout is made.
    delete process.env[LAUNCHER_ENV]
    const realBase = tempDir('ctl-linked-real-')
    const linkParent = tempDir('ctl-linked-')
    dirs.push(realBase, linkParent)
    // Reachable by the step's host user (nobody, when this runs as root), as a data folder given to it is.
    for (const d of [realBase, linkParent]) fs.chmodSync(d, 0o711)
    const linked = path.join(linkParent, 'through-link')
    fs.symlinkSync(realBase, linked)
    fs.mkdirSync(path.join(realBase, 'vol', 'sub'), { recursive: true })
    fs.writeFileSync(path.join(realBase, 'vol', 'sub', 'in'), 'pvc-data\n')
    fs.chmodSync(path.join(realBase, 'vol'), 0o777)
    fs.chmodSync(path.join(realBase, 'vol', 'sub'), 0o777)
    fs.chmodSync(path.join(realBase, 'vol', 'sub', 'in'), 0o644)
    for (const opts of [{}, { sandboxLauncher: 'bwrap' as const }]) {
      const stateDir = path.join(linked, `state-${opts.sandboxLauncher ?? 'auto'}`)
      const rt = createLocalRuntime({ stateDir, sandbox: 'bubblewrap', ...opts })
      const p = shPod('cat /data/in; echo made > /scratch/f && cat /scratch/f; test -f /ctl/outputs', {
        container: { volumeMounts: [{ name: 'pvc', mountPath: '/data', subPath: 'sub' }, { name: 'tmp', mountPath: '/scratch' }], terminationMessagePath: '/ctl/outputs' },
        volumes: [{ name: 'pvc', persistentVolumeClaim: { claimName: 'vol' } }, { name: 'tmp', emptyDir: {} }],
      })
      const r = await collect(rt, await rt.start(launch(p, { volumeDirs: { vol: path.join(linked, 'vol') } })))
      expect(r.exit, `${opts.sandboxLauncher ?? 'ctl-sandbox'}: ${r.exit.message}`).toMatchObject({ reason: 'Completed', exitCode: 0 })
      expect(r.lines.map((l) => l.text)).toEqual(['pvc-data', 'made'])
    }
  })

  it('is bwrap when CTL_SANDBOX_LAUNCHER=bwrap or the runtime option asks for it', async () => {
    process.env[LAUNCHER_ENV] = 'bwrap'
    const byEnv = runtime()
    expect(byEnv.info().detail).toMatch(/^bubblewrap \(\/usr\/bin\/bwrap\): system folders read-only/)
    expect(byEnv.info().detail).not.toContain('ctl-sandbox')
    expect(await stepRunBy(byEnv)).toBe(`${bwrap} bwrap`)
    delete process.env[LAUNCHER_ENV]
    const byOption = runtime({ sandboxLauncher: 'bwrap' })
    expect(byOption.info().detail).toMatch(/^bubblewrap \(\/usr\/bin\/bwrap\): /)
    expect(byOption.info().detail).not.toContain('ctl-sandbox')
  })

  it('is bwrap, with a note, when the launcher fails its probe', async () => {
    delete process.env[LAUNCHER_ENV]
    // A binary that runs but sets no sandbox up: it exits 1 and says nothing.
    const failing = runtime({ sandboxLauncherPath: '/bin/false' })
    expect(failing.info()).toMatchObject({ sandbox: 'bubblewrap' })
    expect(failing.info().detail).toMatch(/^bubblewrap \(\/usr\/bin\/bwrap\): /)
    expect(failing.info().detail).toMatch(/; ctl-sandbox \(\/bin\/false\) not used, its probe failed( as uid \d+)?: exit 1$/)
    expect(await stepRunBy(failing)).toBe(`${bwrap} bwrap`)
  })

  it.skipIf(!hasLauncher)('is bwrap, with a note, when the step user cannot run the launcher', async () => {
    delete process.env[LAUNCHER_ENV]
    // The real launcher, without execute permission: as any misplaced install, its exec fails.
    const copy = path.join(scratch, 'ctl-sandbox')
    fs.copyFileSync(built, copy)
    fs.chmodSync(copy, 0o644)
    const rt = runtime({ sandboxLauncherPath: copy })
    expect(rt.info().detail).toMatch(/^bubblewrap \(\/usr\/bin\/bwrap\): /)
    expect(rt.info().detail).toContain(`; ctl-sandbox (${copy}) not used, its probe failed`)
    expect(rt.info().detail).toMatch(/EACCES/)
  })

  it('refuses a CTL_SANDBOX_LAUNCHER of another value, naming the variable', () => {
    for (const value of ['ctl-sandbox', 'Bwrap', 'none']) {
      process.env[LAUNCHER_ENV] = value
      expect(() => runtime()).toThrow(expect.objectContaining({ code: 'E_USAGE', message: `CTL_SANDBOX_LAUNCHER must be one of auto, bwrap, not "${value}"` }))
    }
    // Also without bubblewrap: a wrong setting is said at once, not when bwrap is installed one day.
    process.env[LAUNCHER_ENV] = 'fast'
    expect(() => runtime({ sandbox: 'none' })).toThrow(/CTL_SANDBOX_LAUNCHER/)
    process.env[LAUNCHER_ENV] = 'auto'
    expect(runtime().info().sandbox).toBe('bubblewrap')
  })
})
