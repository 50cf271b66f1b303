// Plain mode (no sandbox): volumes and files are real host folders, their mount paths rewritten; only trusted owners' steps run unless allowed.

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

  it('uses a volume at its host folder: the mount path rewritten in argv, env and workingDir, and exported as CTL_MOUNT_<PATH>', async () => {
    const p = pod(
      {
        command: ['sh', '-c', 'mkdir -p /workspace/raw && echo 42 > /workspace/raw/n && cat "$IN/raw/n" && test "$CTL_MOUNT_WORKSPACE" = "$PWD" && echo same'],
        env: [{ name: 'IN', value: '/workspace' }],
        workingDir: '/workspace',
        volumeMounts: [{ name: 'ws', mountPath: '/workspace', readOnly: true }],
      },
      { volumes: [{ name: 'ws', persistentVolumeClaim: { claimName: 'shared' } }] },
    )
    const r = await run(rt, launch(p, { volumeDirs: { shared: volDir } }))
    expect(r.exit.reason).toBe('Completed')
    expect(texts(r.lines)).toEqual(['42', 'same'])
    expect(fs.readFileSync(`${volDir}/raw/n`, 'utf8')).toBe('42\n')
    const notes = r.handle.data.notes as string[]
    expect(notes[0]).toMatch(/^plain process, no sandbox \(bubblewrap disabled \(sandbox: none\)\): it sees the host's files as .* and the host's network$/)
    expect(notes).toContain(`volume "ws" at /workspace is the host folder ${volDir} (/workspace rewritten in the command line, env, workingDir and projected files; also in $CTL_MOUNT_WORKSPACE); readOnly is not enforced`)
  })

  it('resolves a volume\'s subPath inside the volume, made when missing', async () => {
    const p = pod(
      { command: ['sh', '-c', 'echo in-sub > /data/f && echo "$CTL_MOUNT_DATA"'], volumeMounts: [{ name: 'ws', mountPath: '/data', subPath: 'a/b' }] },
      { volumes: [{ name: 'ws', persistentVolumeClaim: { claimName: 'shared' } }] },
    )
    const r = await run(rt, launch(p, { volumeDirs: { shared: volDir } }))
    expect(r.exit.reason).toBe('Completed')
    expect(texts(r.lines)).toEqual([`${volDir}/a/b`])
    expect(fs.readFileSync(`${volDir}/a/b/f`, 'utf8')).toBe('in-sub\n')
  })

  it('rewrites a volume path in the script stack\'s script file too', async () => {
    const p = pod(
      {
        command: ['sh', '/etc/ctl/script/run.sh'],
        volumeMounts: [
          { name: 'ws', mountPath: '/data/in' },
          { name: 'script', mountPath: '/etc/ctl/script' },
        ],
      },
      { volumes: [{ name: 'ws', persistentVolumeClaim: { claimName: 'shared' } }, { name: 'script', configMap: { name: 'cm', items: [{ key: 'run', path: 'run.sh' }] } }] },
    )
    const r = await run(rt, launch(p, { volumeDirs: { shared: volDir }, configData: { run: 'echo from-script > /data/in/s && cat /data/in/s\n' } }))
    expect(r.exit.reason).toBe('Completed')
    expect(texts(r.lines)).toEqual(['from-script'])
    expect(fs.existsSync(`${volDir}/s`)).toBe(true)
  })

  it('runs only the trusted owner\'s steps unless allowUnsandboxed', async () => {
    const strict = createLocalRuntime({ stateDir, sandbox: 'none', allowUnsandboxed: false, trustedOwner: 'admin' })
    expect(strict.info().notice).toMatch(/^local steps run as plain processes \(bubblewrap disabled \(sandbox: none\)\): no isolation, .*only steps of workflows owned by "admin" \(others need --allow-unsandboxed\) run$/)
    const mine = await run(strict, launch(pod({ command: ['echo', 'ok'] }), { owners: ['admin'] }))
    expect(mine.exit.reason).toBe('Completed')
    const theirs = await run(strict, launch(pod({ command: ['echo', 'never'] }), { owners: ['admin', 'alice'] }))
    expect(theirs.exit).toMatchObject({ reason: 'StartError', exitCode: null })
    expect(theirs.exit.message).toContain('the workflow belongs to or was applied by "alice": only "admin"\'s steps run without a sandbox; install bubblewrap (bwrap), or start the control plane with --allow-unsandboxed')
    expect(theirs.lines).toEqual([])
    const open = await run(rt, launch(pod({ command: ['echo', 'ok'] }), { owners: ['alice'] }))
    expect(open.exit.reason).toBe('Completed')
    expect(rt.info().notice).toContain("every workflow's steps run")
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
