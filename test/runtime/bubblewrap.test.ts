// What only the bubblewrap sandbox gives: only the system folders (read-only), private /tmp, volumes at any path,
// runAsUser, limits, and no sandbox left behind by a stop.

import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import type { Runtime } from '../../src/runtime/types.js'
import { collect, groupExists, hasBwrap, launch, loggedTexts, pod, processesWith, run, shPod, tempDir, texts, until } from './helpers.js'

describe.skipIf(!hasBwrap)('local runtime in bubblewrap', () => {
  let stateDir: string
  let volDir: string
  let rt: Runtime
  beforeAll(() => {
    stateDir = tempDir()
    volDir = tempDir('ctl-vol-')
    rt = createLocalRuntime({ stateDir, sandbox: 'bubblewrap' })
  })
  afterAll(() => {
    fs.rmSync(stateDir, { recursive: true, force: true })
    fs.rmSync(volDir, { recursive: true, force: true })
  })

  it('shows only the system folders, read-only, and gives a private /tmp', async () => {
    const hostFile = path.join('/tmp', `ctl-host-only-${process.pid}`)
    fs.writeFileSync(hostFile, 'x')
    try {
      const script = [
        'touch /usr/ctl-probe 2>/dev/null && echo usr-writable || echo usr-readonly',
        `test -e ${hostFile} && echo host-tmp-visible || echo host-tmp-hidden`,
        `echo mine > /tmp/ctl-sandbox-${process.pid} && echo tmp-writable`,
        'hostname',
        `for d in /root /home /var /srv /run ${stateDir}; do test -e $d && echo $d-visible; done`,
        'test -d /usr/bin -a -d /etc && echo system-visible',
      ].join('; ')
      const r = await run(rt, launch(shPod(script)))
      expect(texts(r.lines)).toEqual(['usr-readonly', 'host-tmp-hidden', 'tmp-writable', 'wf-step-pod', 'system-visible'])
      expect(fs.existsSync(`/tmp/ctl-sandbox-${process.pid}`)).toBe(false)
      expect(fs.existsSync('/usr/ctl-probe')).toBe(false)
    } finally {
      fs.rmSync(hostFile, { force: true })
    }
  })

  it('shares a volume between steps at a path that does not exist on the host', async () => {
    const volumes = [{ name: 'ws', persistentVolumeClaim: { claimName: 'shared' } }]
    const volumeDirs = { shared: volDir }
    const writer = pod(
      { command: ['sh', '-c', 'pwd; echo from-step-1 > result.txt; touch / 2>/dev/null; touch /newfile 2>/dev/null || echo root-readonly'], workingDir: '/workspace/job', volumeMounts: [{ name: 'ws', mountPath: '/workspace' }] },
      { volumes },
    )
    const w = await run(rt, launch(writer, { volumeDirs }))
    expect(w.exit.reason).toBe('Completed')
    expect(texts(w.lines)).toEqual(['/workspace/job', 'root-readonly'])
    expect(fs.readFileSync(path.join(volDir, 'job', 'result.txt'), 'utf8')).toBe('from-step-1\n')

    const reader = pod(
      {
        command: ['sh', '-c', 'cat /data/in/result.txt; (echo again > /data/in/x) 2>/dev/null || echo volume-readonly; ls /etc/passwd'],
        volumeMounts: [{ name: 'ws', mountPath: '/data/in', subPath: 'job', readOnly: true }],
      },
      { volumes },
    )
    const r = await run(rt, launch(reader, { volumeDirs }))
    expect(texts(r.lines)).toEqual(['from-step-1', 'volume-readonly', '/etc/passwd'])
  })

  it('mounts files under an existing host folder without hiding its content', async () => {
    const p = pod(
      { command: ['sh', '-c', 'echo "$(cat /etc/ctl/config/a)"; test -f /etc/passwd && echo etc-intact; touch /etc/x 2>/dev/null || echo etc-readonly'], volumeMounts: [{ name: 'c', mountPath: '/etc/ctl/config' }] },
      { volumes: [{ name: 'c', configMap: { name: 'cfg' } }] },
    )
    const r = await run(rt, launch(p, { configData: { a: 'config-a' } }))
    expect(texts(r.lines)).toEqual(['config-a', 'etc-intact', 'etc-readonly'])
  })

  it('reports bubblewrap setup failures as StartError', async () => {
    const p = pod(
      { command: ['true'], volumeMounts: [{ name: 'ws', mountPath: '/workspace' }] },
      { volumes: [{ name: 'ws', persistentVolumeClaim: { claimName: 'gone' } }] },
    )
    const r = await run(rt, launch(p, { volumeDirs: { gone: path.join(volDir, 'does-not-exist') } }))
    expect(r.exit).toMatchObject({ reason: 'StartError', exitCode: null })
    // Said by whichever launcher runs the sandbox (sandbox.ts): bwrap, or ctl-sandbox in its place.
    expect(r.exit.message).toMatch(/^(bwrap|ctl-sandbox): .*does-not-exist/)
  })

  it('runs as runAsUser', async () => {
    const p = pod({ command: ['sh', '-c', 'id -u; id -g'], securityContext: { runAsUser: 1234, runAsGroup: 2345 } })
    const r = await run(rt, launch(p))
    expect(texts(r.lines)).toEqual(['1234', '2345'])
  })

  it('reports Lost when the supervisor dies, and the sandbox dies with it', async () => {
    const p = shPod('echo up; sleep 30')
    const marker = `ctl-lost-${process.pid}`
    p.metadata!.name = marker
    const handle = await rt.start(launch(p))
    const stepPid = handle.data.stepPid as number
    await until(() => loggedTexts(handle.data.attemptDir).includes('up'), 'the step to start')
    process.kill(handle.data.supervisorPid as number, 'SIGKILL')
    const r = await collect(rt, handle)
    expect(r.exit.reason).toBe('Lost')
    expect(texts(r.lines)).toEqual(['up'])
    await until(() => !groupExists(stepPid), 'the sandbox to be gone')
    await until(() => processesWith(marker).length === 0, 'every process of the sandbox to be gone')
  })

  it('leaves nothing behind when a step ends by itself while a process it started in the background runs on', async () => {
    // The end of the sandbox's init ends its pid namespace: the host has nothing to kill after a launcher that exited.
    const marker = `ctl-bg-${process.pid}`
    // One in the step's session, one in a session of its own; the step sees both before it ends.
    // The marker is put together at run time, so that only the background processes carry it.
    const p = shPod(`M=ctl-bg-; M=\${M}${process.pid}; sh -c 'sleep 60; :' $M & setsid sh -c 'sleep 60; :' $M & sleep 0.2; echo "running: $(grep -l $M /proc/[0-9]*/cmdline 2>/dev/null | wc -l)"`)
    const r = await run(rt, launch(p))
    expect(r.exit).toMatchObject({ exitCode: 0, reason: 'Completed' })
    // Both background shells, and the grep that counts them.
    expect(texts(r.lines)).toEqual(['running: 3'])
    await until(() => processesWith(marker).length === 0, 'the background processes to be gone')
  })

  it('leaves no sandbox behind when steps are stopped the moment they start', async () => {
    // The marker is the command's $0 (and the hostname, a launcher argument on an exec'd launcher's command line): it
    // marks the step's processes. The launcher's own (the outer one and the sandbox's init) are found by the outer
    // one's process group, which the step host reports: run in the spawner's child they have its command line.
    const marker = `ctl-orphan-${process.pid}`
    const launches = Array.from({ length: 12 }, () => {
      const p = shPod(`echo up; sleep 30; : ${marker}`, { grace: 2 })
      p.metadata!.name = marker
      return launch(p)
    })
    const outer: number[] = []
    const exits = await Promise.all(
      launches.map(async (l) => {
        const handle = await rt.start(l)
        if (typeof handle.data.stepPid === 'number') outer.push(handle.data.stepPid)
        await rt.kill(handle, 'stopped at start')
        return (await collect(rt, handle)).exit
      }),
    )
    expect(exits.map((e) => e.reason)).toEqual(launches.map(() => 'Killed'))
    expect(outer).toHaveLength(launches.length)
    // Every exit is recorded, so every sandbox is ending or gone; give the kernel a moment to reap them.
    await until(() => processesWith(marker).length === 0 && outer.every((pid) => !groupExists(pid)), 'no process of the stopped sandboxes')
    expect(processesWith(marker)).toEqual([])
  })

  it('enforces a memory limit (cgroup v2, else prlimit) and says in the handle notes how each limit is enforced', async () => {
    const p = pod({ command: ['sh', '-c', 'ulimit -v'], resources: { limits: { memory: '64Mi', cpu: '250m' } } })
    const r = await run(rt, launch(p))
    const notes = r.handle.data.notes as string[]
    if (notes.includes('memory limit 64Mi enforced by cgroup v2 (memory.max)')) {
      expect(notes).toContain('cpu limit 250m enforced by cgroup v2 (cpu.max)')
    } else {
      expect(notes).toContain('memory limit 64Mi enforced by prlimit (address space)')
      expect(notes).toContainEqual(expect.stringMatching(/^cpu limit 250m not enforced: /))
      expect(texts(r.lines)).toEqual([String(64 * 1024)]) // KiB
    }
    expect(r.exit.reason).toBe('Completed')
  })

  it.skipIf(!fs.existsSync('/usr/bin/python3'))('a step that allocates beyond its memory limit fails', async () => {
    const grab = pod({ command: ['python3', '-c', 'b = bytearray(256 * 1024 * 1024); print("allocated")'], resources: { limits: { memory: '64Mi' } } })
    const r = await run(rt, launch(grab))
    expect(r.exit.reason).toBe('Error')
    expect(texts(r.lines)).not.toContain('allocated')
  })

  it.skipIf(process.getuid?.() !== 0)('under root: runs steps as nobody, gives them their volume, and fails closed when a volume lies behind a folder nobody may enter', async () => {
    const closed = tempDir('ctl-closed-') // 0700, root's, above the data folder: not the runtime's to open
    try {
      const dataDir = path.join(closed, 'data')
      const rootRt = createLocalRuntime({ stateDir: path.join(dataDir, 'runs'), dataDir, sandbox: 'bubblewrap' })
      const vol = path.join(dataDir, 'volumes', 'v')
      fs.mkdirSync(vol, { recursive: true })
      const volumes = [{ name: 'ws', persistentVolumeClaim: { claimName: 'v' } }]
      const p = pod({ command: ['sh', '-c', 'id -u; echo x > /ws/f'], volumeMounts: [{ name: 'ws', mountPath: '/ws' }] }, { volumes })
      const r = await run(rootRt, launch(p, { volumeDirs: { v: vol } }))
      expect(r.exit).toMatchObject({ reason: 'StartError', exitCode: null })
      expect(r.exit.message).toContain(`${closed} is mode 700 owned by uid 0`)
      // ConfigMap files need no host path: such a step runs, as nobody.
      const c = pod({ command: ['sh', '/etc/ctl/config/script'], volumeMounts: [{ name: 'c', mountPath: '/etc/ctl/config' }] }, { volumes: [{ name: 'c', configMap: { name: 'cfg' } }] })
      const ok = await run(rootRt, launch(c, { configData: { script: 'id -u; touch /tmp/mine; stat -c %u /tmp/mine' } }))
      expect(texts(ok.lines)).toEqual(['65534', '65534'])
      // With the data folder where nobody may enter, the volume works and belongs to nobody.
      fs.chmodSync(closed, 0o711)
      const w = await run(rootRt, launch(p, { volumeDirs: { v: vol } }))
      expect(w.exit.reason).toBe('Completed')
      expect(fs.statSync(path.join(vol, 'f')).uid).toBe(65534)
    } finally {
      fs.rmSync(closed, { recursive: true, force: true })
    }
  })

  it.skipIf(process.getuid?.() !== 0)('under root: fails every step closed when bubblewrap cannot run as the step user, and never runs a step as root', async () => {
    const broken = createLocalRuntime({ stateDir, bwrapPath: '/bin/false' })
    expect(broken.info()).toMatchObject({ sandbox: 'bubblewrap' })
    expect(broken.info().detail).toMatch(/unusable, every step fails to start/)
    const r = await run(broken, launch(shPod('echo ran')))
    expect(r.exit).toMatchObject({ reason: 'StartError', exitCode: null })
    expect(r.exit.message).toMatch(/^bubblewrap cannot run as the step user \(uid 65534\)/)
    expect(r.lines).toEqual([])
    expect(() => createLocalRuntime({ stateDir, stepUid: 0 })).toThrow(/must not be 0/)
  })

  it.skipIf(process.getuid?.() !== 0)('under root: never gives away a folder a link planted in a volume points to', async () => {
    const victim = tempDir('ctl-victim-')
    const vol = tempDir('ctl-vol-planted-')
    try {
      fs.symlinkSync(victim, path.join(vol, 'link'))
      const volumes = [{ name: 'ws', persistentVolumeClaim: { claimName: 'p' } }]
      for (const subPath of ['link', 'link/sub']) {
        const p = pod({ command: ['sh', '-c', 'echo x > /ws/planted'], volumeMounts: [{ name: 'ws', mountPath: '/ws', subPath }] }, { volumes })
        const r = await run(rt, launch(p, { volumeDirs: { p: vol } }))
        expect(r.exit.reason, subPath).toBe('StartError')
        expect(r.exit.message).toMatch(/is a link|leads out of|leaves the volume/)
      }
      expect(fs.statSync(victim).uid).toBe(0)
      expect(fs.existsSync(path.join(victim, 'planted'))).toBe(false)
      if (fs.existsSync(path.join(victim, 'sub'))) expect(fs.statSync(path.join(victim, 'sub')).uid).toBe(0)
    } finally {
      fs.rmSync(victim, { recursive: true, force: true })
      fs.rmSync(vol, { recursive: true, force: true })
    }
  })
})
