// A work folder apart from the data folder (--work-dir): the sandbox hides both from steps, though both lie below a
// folder steps see (ctl's own package folder, bound read-only), and a step still gets its volume from the work
// folder (under root, as the step user, whom the work folder's folders are opened to on the way).
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import { chooseSandbox } from '../../src/runtime/local/sandbox.js'
import { hasBwrap, launch, pod, run, texts } from './helpers.js'

const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

describe.skipIf(!hasBwrap)('a work folder apart from the data folder, in bubblewrap', () => {
  // Below the package root, which every sandbox shows: only the tmpfs over them keeps them from the steps.
  const base = fs.mkdtempSync(path.join(repoRoot, '.ctl-workdir-test-'))
  // Above ctl's own folders: enterable by the step user (under root), as a data folder's parent must be.
  fs.chmodSync(base, 0o711)
  const dataDir = path.join(base, 'data')
  const workDir = path.join(base, 'work')
  const stateDir = path.join(workDir, 'runs')
  const volume = path.join(workDir, 'volumes', 'public', 'v')
  for (const dir of [dataDir, stateDir, volume]) fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  fs.writeFileSync(path.join(dataDir, 'admin.apikey'), 'secret\n', { mode: 0o600 })
  fs.writeFileSync(path.join(workDir, 'volumes', 'public', 'other'), 'another volume\n', { mode: 0o600 })
  afterAll(() => fs.rmSync(base, { recursive: true, force: true }))

  it('hides the data folder and the work folder (tmpfs over each), not only the state folder\'s parent', () => {
    const sandbox = chooseSandbox({ sandbox: 'bubblewrap', dataDir, workDir }, stateDir)
    expect(sandbox.host?.hidden).toEqual(expect.arrayContaining([dataDir, workDir]))
    // Without the data folder named, the state folder's parent is both (the default: one folder for all).
    const plain = chooseSandbox({ sandbox: 'bubblewrap' }, path.join(dataDir, 'runs'))
    expect(plain.host?.hidden).toContain(dataDir)
  })

  it('a step sees neither folder, and writes its volume in the work folder', async () => {
    const rt = createLocalRuntime({ stateDir, dataDir, workDir, sandbox: 'bubblewrap' })
    try {
      const script = [
        `test -e ${dataDir}/admin.apikey && echo data-visible || echo data-hidden`,
        `test -e ${workDir}/volumes/public/other && echo work-visible || echo work-hidden`,
        'echo written > /ws/f && echo volume-written',
      ].join('\n')
      const p = pod({ command: ['sh', '-c', script], volumeMounts: [{ name: 'ws', mountPath: '/ws' }] }, { volumes: [{ name: 'ws', persistentVolumeClaim: { claimName: 'v' } }] })
      const r = await run(rt, launch(p, { volumeDirs: { v: volume } }))
      expect(r.exit.reason, r.exit.message).toBe('Completed')
      expect(texts(r.lines)).toEqual(['data-hidden', 'work-hidden', 'volume-written'])
      expect(fs.readFileSync(path.join(volume, 'f'), 'utf8')).toBe('written\n')
    } finally {
      await rt.close?.()
    }
  })
})
