// Plain mode (no sandbox): volumes that need a mount fail clearly; the rest is rewritten to real folders.

import fs from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import type { Runtime } from '../../src/runtime/types.js'
import { launch, pod, run, tempDir, texts } from './helpers.js'

describe('local runtime without a sandbox', () => {
  let stateDir: string
  let volDir: string
  let rt: Runtime
  beforeAll(() => {
    stateDir = tempDir()
    volDir = tempDir('ctl-vol-')
    rt = createLocalRuntime({ stateDir, sandbox: 'none' })
  })
  afterAll(() => {
    fs.rmSync(stateDir, { recursive: true, force: true })
    fs.rmSync(volDir, { recursive: true, force: true })
  })

  it('says why it runs plain processes', () => {
    expect(rt.info()).toMatchObject({ sandbox: 'none' })
    expect(rt.info().detail).toContain('disabled (sandbox: none)')
  })

  it('fails at start for a volume at an absolute path it cannot provide', async () => {
    const p = pod(
      { command: ['sh', '-c', 'ls /workspace'], volumeMounts: [{ name: 'ws', mountPath: '/workspace' }] },
      { volumes: [{ name: 'ws', persistentVolumeClaim: { claimName: 'shared' } }] },
    )
    const r = await run(rt, launch(p, { volumeDirs: { shared: volDir } }))
    expect(r.exit).toMatchObject({ reason: 'StartError', exitCode: null })
    expect(r.exit.message).toMatch(/^volume "ws" at \/workspace needs bubblewrap \(disabled \(sandbox: none\)\); install bubblewrap/)
    expect(r.lines).toEqual([])
  })

  it('uses a volume whose folder is its mount path, and rewrites emptyDir paths in argv and env', async () => {
    const p = pod(
      {
        command: ['sh', '-c', 'echo hi > "$OUT/f" && cat /scratch/f && cat "$1/seen" && touch "$1/by-step"', 'sh', volDir],
        env: [{ name: 'OUT', value: '/scratch' }],
        workingDir: volDir,
        volumeMounts: [
          { name: 'ws', mountPath: volDir },
          { name: 'tmp', mountPath: '/scratch' },
        ],
      },
      { volumes: [{ name: 'ws', persistentVolumeClaim: { claimName: 'shared' } }, { name: 'tmp', emptyDir: {} }] },
    )
    fs.writeFileSync(`${volDir}/seen`, 'seen-by-step\n')
    const r = await run(rt, launch(p, { volumeDirs: { shared: volDir } }))
    expect(r.exit.reason).toBe('Completed')
    expect(texts(r.lines)).toEqual(['hi', 'seen-by-step'])
    expect(fs.existsSync(`${volDir}/by-step`)).toBe(true)
  })

  it('notes that runAsUser is ignored', async () => {
    const r = await run(rt, launch(pod({ command: ['true'], securityContext: { runAsUser: 1000 } })))
    expect(r.exit.reason).toBe('Completed')
    expect(r.handle.data.notes).toContain('runAsUser 1000 is ignored without bubblewrap')
  })
})
