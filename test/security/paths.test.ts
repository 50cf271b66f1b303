// Issue 9 acceptance: a step cannot escape its volume through a symbolic link it planted there.
// A real control plane (HTTP, store, engine, the local runtime under bubblewrap), running as root
// and as an ordinary user: a first step writes links into a volume, aimed at a folder outside it
// that only the control plane's user may enter; a later step mounts the volume with `subPath:`
// through a link, or projects a file into a folder behind one. The later step fails to start
// (StartError naming volume and path) and the folder outside stays as it was.

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunDetail } from '../../src/engine/api.js'
import { doc, waitFor, waitForRunEnd } from '../server/helpers.js'
import { repoRoot } from '../cli/helpers.js'
import { isRoot, startRootPlane, startUserPlane, type Plane } from './plane.js'

const hasBwrap = fs.existsSync('/usr/bin/bwrap')
const hasDist = fs.existsSync(path.join(repoRoot, 'dist', 'commands'))

type PlaneKind = [string, () => Promise<Plane>, string | undefined]
const kinds: PlaneKind[] = [
  ['running as root', startRootPlane, isRoot ? undefined : 'this test process is not root'],
  ['running as an ordinary user', startUserPlane, hasDist ? undefined : 'dist/ is missing: run `npm run build` (npm test does it)'],
]

describe.skipIf(!hasBwrap).each(kinds)('links planted in a volume, through a real control plane %s', (_name, start, skip) => {
  let t: Plane
  let outside: string
  let secretDir: string
  beforeAll(async () => {
    if (skip) return
    t = await start()
    // The folder the links aim at: only the control plane's user may enter it (a stand-in for /root or its
    // $CTL_HOME, which a test must not touch), so an escape would be able to write there.
    outside = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-outside-'))
    fs.chmodSync(outside, 0o711)
    secretDir = path.join(outside, 'secret-dir')
    fs.mkdirSync(secretDir, { mode: 0o700 })
    fs.writeFileSync(path.join(secretDir, 'keep'), 'root only\n', { mode: 0o600 })
    if (t.uid !== (process.getuid?.() ?? -1)) for (const p of [secretDir, path.join(secretDir, 'keep')]) fs.chownSync(p, t.uid, t.uid)
  }, 60_000)
  afterAll(async () => {
    await t?.stop()
    if (outside) fs.rmSync(outside, { recursive: true, force: true })
  })

  const volume = (name: string) => ({ name, version: 'v1', type: 'volume', volume: { size: '1Gi', accessMode: 'ReadWriteMany', type: 'temp' } })
  const script = (s: string) => ({ stack: 'script', stackSpec: { interpreter: 'sh', script: s } })
  /** An absolute link, and a relative one that only bwrap's own setup would follow (through its /oldroot). */
  const plant = () => `ln -s ${secretDir} /workspace/x && ln -s ${'../'.repeat(12)}oldroot${secretDir} /workspace/rel && echo planted`
  const listing = () => fs.readdirSync(secretDir).sort()

  async function runToEnd(name: string, victim: Record<string, unknown>): Promise<RunDetail> {
    const wf = {
      name, version: 'v2alpha', type: 'workflow',
      spec: {
        dag: [
          { name: 'plant', spec: { ...script(plant()), use: { volumes: [{ id: `${name}-vol`, directory: '/workspace' }] } } },
          { name: 'escape', depends: ['plant'], spec: victim },
        ],
      },
    }
    await t.client.apply('public', [doc(volume(`${name}-vol`)), doc(wf, 'wf.yaml', 1)])
    const ref = { workspace: 'public', type: 'workflow', name }
    const [run] = await waitFor('the run', () => t.client.runs(ref), (runs) => runs.length === 1)
    return waitForRunEnd(t.client, run!.id)
  }

  it.skipIf(skip !== undefined).each(['x', 'rel'])('subPath "%s" through a planted link: the step fails to start and the folder is untouched', async (subPath) => {
    const name = `subpath-${subPath}`
    const done = await runToEnd(name, { ...script('echo pwned > /data/pwned; echo wrote'), use: { volumes: [{ id: `${name}-vol`, directory: '/data', subPath }] } })
    expect(done.run.state).toBe('failed')
    const plantStep = done.steps.find((s) => s.step === 'plant')!
    expect(plantStep.state).toBe('succeeded')
    // The links are really there, in the volume's host folder.
    const volDir = path.join(t.dataDir, 'volumes', 'public', `${name}-vol`)
    expect(fs.readlinkSync(path.join(volDir, subPath))).toMatch(new RegExp(`${secretDir}$`))
    const escape = done.steps.find((s) => s.step === 'escape')!
    expect(escape).toMatchObject({ state: 'failed', reason: 'StartError' })
    expect(escape.message).toMatch(new RegExp(`^volume "vol-${name}-vol" subPath "${subPath}" leaves the volume: "${subPath}" is a symbolic link ${subPath === 'x' ? `to ${secretDir}` : 'that leads nowhere inside it'}`))
    expect(await t.client.logPage(done.run.id, { step: 'escape' })).toEqual([])
    expect(listing()).toEqual(['keep'])
  })

  it.skipIf(skip !== undefined)('a projected file whose folder lies behind a planted link: the step fails to start and nothing is created there', async () => {
    const name = 'projection'
    const victim = {
      ...script('cat /data/rel/sub/note; echo read'),
      use: {
        volumes: [{ id: `${name}-vol`, directory: '/data' }],
        projection: { projections: { files: [{ name: 'note', directory: '/data/rel/sub', value: 'run {{.defaultProjections.runId}}' }] } },
      },
    }
    const done = await runToEnd(name, victim)
    expect(done.run.state).toBe('failed')
    const escape = done.steps.find((s) => s.step === 'escape')!
    expect(escape).toMatchObject({ state: 'failed', reason: 'StartError' })
    expect(escape.message).toMatch(/^the files of "ctl-files-0" at \/data\/rel\/sub \(inside volume "vol-projection-vol" at \/data\) leaves the volume: "rel" is a symbolic link/)
    // bubblewrap would have made sub/ and an empty note in the root-only folder.
    expect(listing()).toEqual(['keep'])
    expect(fs.readFileSync(path.join(secretDir, 'keep'), 'utf8')).toBe('root only\n')
  })

  it.skipIf(skip !== undefined)('the same volume, used without links, still works end to end', async () => {
    const name = 'plain-use'
    const victim = {
      ...script('echo hello > /data/out.txt && cat /data/in/sub/note && echo'),
      use: {
        volumes: [{ id: `${name}-vol`, directory: '/data', subPath: 'made/here' }],
        projection: { projections: { files: [{ name: 'note', directory: '/data/in/sub', value: 'projected' }] } },
      },
    }
    const done = await runToEnd(name, victim)
    expect(done.steps.map((s) => [s.step, s.state]).sort()).toEqual([['escape', 'succeeded'], ['plant', 'succeeded']])
    const volDir = path.join(t.dataDir, 'volumes', 'public', `${name}-vol`)
    expect(fs.readFileSync(path.join(volDir, 'made/here/out.txt'), 'utf8')).toBe('hello\n')
    expect((await t.client.logPage(done.run.id, { step: 'escape' })).map((l) => l.text)).toEqual(['projected'])
    expect(listing()).toEqual(['keep'])
  })
})
