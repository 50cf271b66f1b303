// The step host's two ways to start a step (spawn-client.mjs): the native spawner (ctl-spawner, from
// spawner.c, built by `npm run build`) and Node's spawn. Both must give the same child: the same
// output, fds, identity, session, signals and start errors. Real processes and the real binary.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { spawnerPath } from '../../src/runtime/local/host-start.js'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import { spawnChild, useSpawner, type Child, type ChildOptions } from '../../src/runtime/local/spawn-client.mjs'
import { collect, groupExists, hasBwrap, launch, loggedTexts, pod, shPod, tempDir, texts, until } from './helpers.js'

const built = spawnerPath()
const dirs: string[] = []
afterAll(() => {
  useSpawner('')
  dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true }))
})
const temp = () => {
  const d = tempDir('ctl-spawner-')
  dirs.push(d)
  return d
}

const ways = built ? ([['spawner', built], ['node', '']] as const) : ([['node', '']] as const)
const env = { PATH: '/usr/bin:/bin' }

/** Runs one child to its end: what it wrote on stdout, stderr and fd 3, and how it ended. */
function runChild(o: Partial<ChildOptions> & { args: string[] }): Promise<{ child: Child; out: string; err: string; info: string; code: number | null; signal: string | null; error?: Error & { code?: string; stage?: string } }> {
  const child = spawnChild({ command: 'sh', env, cwd: '/', info: false, fds: [], ...o })
  return new Promise((resolve) => {
    let out = ''
    let err = ''
    let info = ''
    let exit: [number | null, string | null] = [null, null]
    child.on('error', (error) => resolve({ child, out, err, info, code: null, signal: null, error }))
    child.on('spawn', () => {
      child.stdout!.on('data', (d) => (out += d))
      child.stderr!.on('data', (d) => (err += d))
      child.info?.on('data', (d) => (info += d))
    })
    child.on('exit', (code, signal) => (exit = [code, signal]))
    child.on('close', () => resolve({ child, out, err, info, code: exit[0], signal: exit[1] }))
  })
}

/** Runs one child to its end, its output as bytes; `slow`: stdout is read with pauses, as a busy host reads. */
function runBytes(o: Partial<ChildOptions> & { args: string[]; slow?: boolean }): Promise<{ out: Buffer; err: Buffer; code: number | null }> {
  const child = spawnChild({ command: 'sh', env, cwd: '/', info: false, fds: [], ...o })
  return new Promise((resolve, reject) => {
    const out: Buffer[] = []
    const err: Buffer[] = []
    let code: number | null = null
    child.on('error', reject)
    child.on('spawn', () => {
      child.stdout!.on('data', (d: Buffer) => {
        out.push(Buffer.from(d))
        if (o.slow) {
          const until = Date.now() + 2
          while (Date.now() < until) {} // a busy event loop
        }
      })
      child.stderr!.on('data', (d: Buffer) => err.push(Buffer.from(d)))
    })
    child.on('exit', (c) => (code = c))
    child.on('close', () => resolve({ out: Buffer.concat(out), err: Buffer.concat(err), code }))
  })
}

describe.each(ways)('the step child, started by %s', (_name, bin) => {
  it('gives stdout, stderr and the info pipe, the fds data (over 64 KiB too) and nothing else', async () => {
    useSpawner(bin)
    const big = Buffer.alloc(200 * 1024, 'x')
    const r = await runChild({
      args: ['-c', 'echo out; echo err >&2; echo info >&3; cat <&4; wc -c <&5'],
      info: true,
      fds: ['config data', big],
    })
    expect(r.code).toBe(0)
    expect(r.err).toBe('err\n')
    expect(r.info).toBe('info\n')
    expect(r.out).toBe(`out\nconfig data${big.length}\n`)
    // ls's own folder handle is 6: none of the spawner's fds leaked into the step. (Node's spawn run here, in a
    // vitest worker, passes on an fd of the worker; in the host it does not.)
    const fds = await runChild({ command: 'ls', args: ['/proc/self/fd'], info: true, fds: ['a', 'b'] })
    if (bin) expect(fds.out.split('\n').filter(Boolean)).toEqual(['0', '1', '2', '3', '4', '5', '6'])
  })

  it('passes on every byte of large output on both streams, and a pipe left open ends when destroyed', async () => {
    useSpawner(bin)
    // 3 MiB and a bit of every byte value on stdout, 1 MiB on stderr at the same time: many reads, chunks split anywhere.
    const bytes = Buffer.alloc((3 << 20) + 17)
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) & 255
    const file = path.join(temp(), 'bytes')
    fs.writeFileSync(file, bytes)
    const r = await runBytes({ args: ['-c', `cat ${file} & head -c 1048576 /dev/zero | tr '\\0' e >&2; wait`] })
    expect(r.code).toBe(0)
    expect(r.out.equals(bytes)).toBe(true)
    expect(r.err.equals(Buffer.alloc(1 << 20, 'e'))).toBe(true)
    // The step's writes block as a process expects: nothing is lost when the host reads slowly.
    const slow = await runBytes({ args: ['-c', `cat ${file}`], slow: true })
    expect(slow.out.equals(bytes)).toBe(true)
    // A process that left the step holds its pipes open: the step exits, its pipes end only once given up on.
    const child = spawnChild({ command: 'sh', env, cwd: '/', info: false, fds: [], args: ['-c', 'sleep 30 & echo $!'] })
    let left = ''
    child.on('spawn', () => child.stdout!.on('data', (d) => (left += d)))
    await new Promise((res) => child.once('exit', res))
    let closed = false
    child.once('close', () => (closed = true))
    await until(() => left.endsWith('\n'), 'the pid of the process left behind')
    await new Promise((res) => setTimeout(res, 100))
    expect(closed).toBe(false)
    child.stdout!.destroy()
    child.stderr!.destroy()
    await until(() => closed, 'the child to close once its pipes were given up on')
    process.kill(Number(left), 'SIGKILL')
  })

  it('starts the child in its own session with default signals, and reports exit codes and signals', async () => {
    useSpawner(bin)
    // The commands themselves, not a shell (which blocks signals for a moment as it forks).
    const ids = await runChild({ command: 'cut', args: ['-d', ' ', '-f5,6', '/proc/self/stat'] })
    expect(ids.out.trim()).toBe(`${ids.child.pid} ${ids.child.pid}`) // process group and session
    const sigs = await runChild({ command: 'grep', args: ['-E', '^Sig(Blk|Ign)', '/proc/self/status'] })
    expect(sigs.out).toMatch(/^SigBlk:\s+0+\nSigIgn:\s+0+\n$/)
    const r = await runChild({ args: ['-c', 'exit 7'] })
    expect(r.code).toBe(7)
    const killed = await runChild({ args: ['-c', 'kill -TERM $$'] })
    expect([killed.code, killed.signal]).toEqual([null, 'SIGTERM'])
  })

  it.runIf(process.getuid?.() === 0)('drops to the step user: uid, gid and no supplementary groups', async () => {
    useSpawner(bin)
    const r = await runChild({ args: ['-c', 'id -u; id -g; id -G'], uid: 65534, gid: 65534 })
    expect(r.out).toBe('65534\n65534\n65534\n')
  })

  it('tells why a command did not start, with the errno', async () => {
    useSpawner(bin)
    const missing = await runChild({ command: 'no-such-command-here', args: [] })
    expect(missing.error).toMatchObject({ code: 'ENOENT', message: 'spawn no-such-command-here ENOENT' })
    const dir = temp()
    const plain = path.join(dir, 'not-executable')
    fs.writeFileSync(plain, 'echo no\n', { mode: 0o644 })
    const denied = await runChild({ command: plain, args: [] })
    expect(denied.error).toMatchObject({ code: 'EACCES', message: `spawn ${plain} EACCES` })
    const noCwd = await runChild({ args: ['-c', 'true'], cwd: path.join(dir, 'gone') })
    expect(noCwd.error?.code).toBe('ENOENT')
  })

  it('never runs a child it cannot put in its cgroup', async () => {
    useSpawner(bin)
    const dir = temp()
    const cgroup = path.join(dir, 'cg')
    fs.mkdirSync(path.join(cgroup, 'cgroup.procs'), { recursive: true }) // not writable as a file
    const marker = path.join(dir, 'ran')
    const r = await runChild({ args: ['-c', `touch ${marker}`], cgroup })
    expect(r.error).toMatchObject({ code: 'EISDIR', stage: 'cgroup' })
    expect(r.error!.message).toContain(path.join(cgroup, 'cgroup.procs'))
    // Told only once the child is gone: the spawner's never exec'd, Node's shell was killed as it waited for the go.
    expect(fs.existsSync(marker)).toBe(false)
  })

  // A real cgroup v2 hierarchy (the unified one of a hybrid setup has no controllers, but takes processes).
  const unified = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((d) => fs.existsSync(path.join(d, 'cgroup.procs')) && fs.existsSync(path.join(d, 'cgroup.subtree_control')))
  it.runIf(unified && process.getuid?.() === 0)('places the child in its cgroup before it runs', async () => {
    useSpawner(bin)
    const cgroup = path.join(unified!, `ctl-spawner-test-${process.pid}-${bin ? 's' : 'n'}`)
    fs.mkdirSync(cgroup)
    try {
      const r = await runChild({ args: ['-c', 'grep ^0:: /proc/$$/cgroup'], cgroup })
      expect(r.out.trim()).toBe(`0::/${path.relative(unified!, cgroup)}`)
    } finally {
      await until(() => {
        try {
          fs.rmdirSync(cgroup)
          return true
        } catch {
          return false
        }
      }, 'the cgroup to be empty')
    }
  })
})

/** The host's spawner process, when it has one. */
function spawnerOf(hostPid: number): number | undefined {
  const kids = fs.readFileSync(`/proc/${hostPid}/task/${hostPid}/children`, 'utf8').split(' ').filter(Boolean).map(Number)
  return kids.find((k) => {
    try {
      return fs.readFileSync(`/proc/${k}/comm`, 'utf8').trim() === 'ctl-spawner'
    } catch {
      return false
    }
  })
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe.runIf(built).each(hasBwrap ? (['bubblewrap', 'none'] as const) : (['none'] as const))('the step host with its spawner, sandbox %s', (sandbox) => {
  function runtime() {
    const stateDir = temp()
    return createLocalRuntime({ stateDir, sandbox })
  }

  it('starts steps through the spawner', async () => {
    const rt = runtime()
    const ok = await rt.start(launch(shPod('echo through the spawner')))
    expect(spawnerOf(ok.data.supervisorPid as number)).toBeDefined()
    expect(texts((await collect(rt, ok)).lines)).toEqual(['through the spawner'])
  })

  it.runIf(sandbox === 'bubblewrap')('gives bwrap ConfigMap files over 64 KiB (fd data) whole', async () => {
    const rt = runtime()
    const big = 'y'.repeat(300 * 1024)
    const p = pod({ command: ['sh', '-c', 'wc -c < /etc/cfg/big; cat /etc/cfg/small'], volumeMounts: [{ name: 'c', mountPath: '/etc/cfg' }] }, { volumes: [{ name: 'c', configMap: { name: 'cfg' } }] })
    const r = await collect(rt, await rt.start(launch(p, { configData: { big, small: 'small file' } })))
    expect(r.exit.reason).toBe('Completed')
    expect(texts(r.lines)).toEqual([String(big.length), 'small file'])
  })

  it('reports the steps of a spawner that died Lost, ends them, and starts the next step with a new one', async () => {
    const rt = runtime()
    const running = await rt.start(launch(shPod('echo up; sleep 30')))
    await until(() => loggedTexts(running.data.attemptDir).includes('up'), 'the step to start')
    const hostPid = running.data.supervisorPid as number
    const first = spawnerOf(hostPid)!
    process.kill(first, 'SIGKILL')
    const lost = await collect(rt, running)
    expect(lost.exit).toMatchObject({ reason: 'Lost', exitCode: null })
    expect(texts(lost.lines)).toEqual(['up'])
    await until(() => !groupExists(running.data.stepPid as number), 'the step to be gone with its spawner')

    const after = await rt.start(launch(shPod('echo again')))
    expect(after.data.supervisorPid).toBe(hostPid)
    expect(texts((await collect(rt, after)).lines)).toEqual(['again'])
    const second = spawnerOf(hostPid)
    expect(second).toBeDefined()
    expect(second).not.toBe(first)
  })

  it('a SIGKILLed host takes its spawner and its sandboxes with it', async () => {
    const rt = runtime()
    const running = await rt.start(launch(shPod('echo up; sleep 30')))
    await until(() => loggedTexts(running.data.attemptDir).includes('up'), 'the step to start')
    const hostPid = running.data.supervisorPid as number
    const sp = spawnerOf(hostPid)!
    process.kill(hostPid, 'SIGKILL')
    await until(() => !alive(sp), 'the spawner to die with its host')
    expect((await collect(rt, running)).exit.reason).toBe('Lost')
    // A plain step outlives its host (as with Node's spawn) until the control plane ends it.
    if (sandbox === 'bubblewrap') await until(() => !groupExists(running.data.stepPid as number), 'the sandbox to die with the spawner')
  })
})

describe.each(ways)('start errors of plain steps, started by %s', (_name, bin) => {
  it('read the same', async () => {
    const saved = process.env.CTL_SPAWNER
    process.env.CTL_SPAWNER = bin // read as the runtime starts its host
    try {
      const rt = createLocalRuntime({ stateDir: temp(), sandbox: 'none' })
      const PATH = [{ name: 'PATH', value: '/usr/bin:/bin' }]
      const missing = await collect(rt, await rt.start(launch(pod({ command: ['no-such-command-here'], env: PATH }))))
      expect(missing.exit).toMatchObject({ reason: 'StartError', message: 'exec: "no-such-command-here": executable file not found in $PATH' })
      expect(spawnerOf(missing.exit && ((await rt.start(launch(shPod('true')))).data.supervisorPid as number)) !== undefined).toBe(!!bin)
      const absent = await collect(rt, await rt.start(launch(pod({ command: ['/no/such/file'] }))))
      expect(absent.exit).toMatchObject({ reason: 'StartError', message: 'exec: "/no/such/file": no such file or directory' })
      const dir = temp()
      fs.chmodSync(dir, 0o755)
      fs.writeFileSync(path.join(dir, 'plain'), 'echo no\n', { mode: 0o644 })
      const denied = await collect(rt, await rt.start(launch(pod({ command: [path.join(dir, 'plain')] }))))
      expect(denied.exit).toMatchObject({ reason: 'StartError', message: `cannot start "${path.join(dir, 'plain')}": spawn ${path.join(dir, 'plain')} EACCES` })
    } finally {
      if (saved === undefined) delete process.env.CTL_SPAWNER
      else process.env.CTL_SPAWNER = saved
    }
  })
})

describe.runIf(built)('ctl-spawner itself', () => {
  /** Runs the binary as its host would (its parent, our pid as its argument), sends `input`, returns how it ended. */
  function feed(input: Buffer, arg = String(process.pid), protocol = '3'): Promise<{ code: number | null; stderr: string; stdout: string }> {
    const p = spawn(built, [arg, protocol], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stderr = ''
    let stdout = ''
    p.stderr.on('data', (d) => (stderr += d))
    p.stdout.on('data', (d) => (stdout += d))
    p.stdin.on('error', () => {})
    p.stdin.end(input)
    return new Promise((resolve) => p.on('close', (code) => resolve({ code, stderr, stdout })))
  }
  const u32 = (...v: number[]) => Buffer.concat(v.map((n) => Buffer.from(Uint32Array.of(n).buffer)))

  it('dies on a malformed frame, before starting anything', async () => {
    for (const frame of [
      u32(0xffffffff), // longer than any request
      u32(8, 9, 1), // unknown request type
      u32(24, 1, 1, 1, 0, 0, 1_000_000), // a string beyond its frame
      Buffer.concat([u32(27, 1, 1, 1, 0, 0, 3), Buffer.from('abc')]), // a string without its NUL
    ]) {
      const r = await feed(frame)
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(/^ctl-spawner: malformed frame/)
      expect(r.stdout).toBe('')
    }
  })

  it('with its stdin closed, still reports the steps it runs before it exits', async () => {
    useSpawner(built)
    const running = runChild({ args: ['-c', 'sleep 0.3; echo done'] })
    await new Promise((res) => setImmediate(res))
    useSpawner(built) // retires the spawner that runs it: its stdin closes
    const r = await running
    expect([r.code, r.out]).toEqual([0, 'done\n'])
    useSpawner('')
  })

  it('out of fds, fails that start only and goes on', async () => {
    // The same binary with room for one step's pipes, not for a bwrap step's extra ones (prlimit execs it: same parent).
    const wrapper = path.join(temp(), 'tight-spawner')
    fs.writeFileSync(wrapper, `#!/bin/sh\nexec prlimit --nofile=16:16 -- ${built} "$@"\n`, { mode: 0o755 })
    useSpawner(wrapper)
    try {
      const tight = await runChild({ args: ['-c', 'echo no'], info: true, fds: ['a', 'b', 'c', 'd'] })
      expect(tight.error).toMatchObject({ code: 'EMFILE', message: 'spawn sh EMFILE' })
      const fine = await runChild({ args: ['-c', 'echo fine'] })
      expect(fine.out).toBe('fine\n')
    } finally {
      useSpawner('')
    }
  })

  it('refuses to serve anyone but the host that started it, and a host of another version', async () => {
    const r = await feed(Buffer.alloc(0), '1')
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('not started by the step host')
    for (const protocol of ['1', '2']) {
      const older = await feed(Buffer.alloc(0), String(process.pid), protocol)
      expect(older.code, `protocol ${protocol}`).toBe(2)
      expect(older.stderr).toContain('another version')
    }
  })
})
