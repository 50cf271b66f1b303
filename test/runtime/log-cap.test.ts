// A hostile or broken step's output must not take down the step host or its disk: an attempt's log is capped (the
// step runs on, the middle is dropped, ctl's line says how much, the last lines follow), and a log that cannot be
// written (the real kernel's EFBIG past the host's file size limit, ENOSPC on a full tmpfs) fails that step alone:
// the step beside it ends as it would, and the host answers the next start. Real processes, both sandbox modes,
// the spawner and Node's spawn.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import { spawnerPath } from '../../src/runtime/local/host-start.js'
import { logFileOf, readExit } from '../../src/runtime/local/files.js'
import { REDACTED } from '../../src/secrets/redact.js'
import { TAIL_BYTES } from '../../src/runtime/local/step-log.mjs'
import type { Runtime } from '../../src/runtime/types.js'
import { collect, hasBwrap, launch, loggedTexts, pod, shPod, tempDir, texts, until } from './helpers.js'

const built = spawnerPath()
const modes = hasBwrap ? (['bubblewrap', 'none'] as const) : (['none'] as const)
const ways = built ? ([['spawner', built], ['node', '']] as const) : ([['node', '']] as const)
const isRoot = process.getuid?.() === 0
const CAP = 256 * 1024
const SECRET = 'tail-secret-value-0815'
const dirs: string[] = []
const mounts: string[] = []
afterAll(() => {
  for (const m of mounts) {
    try {
      execFileSync('umount', ['-l', m])
    } catch {}
  }
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})

function temp(prefix?: string): string {
  const d = tempDir(prefix)
  dirs.push(d)
  return d
}

/** Runs `fn` with step hosts started meanwhile starting their steps through `spawner` ('': Node's spawn). */
async function withSpawner(spawner: string, fn: () => Promise<void>): Promise<void> {
  const saved = process.env.CTL_SPAWNER
  process.env.CTL_SPAWNER = spawner // read as the runtime starts its host
  try {
    await fn()
  } finally {
    if (saved === undefined) delete process.env.CTL_SPAWNER
    else process.env.CTL_SPAWNER = saved
  }
}

const MARKER = /^\[ctl: (\d+) lines \((\d+) bytes\) of output dropped after the log reached its limit of 256 KiB; the last lines follow\]$/

describe.each(modes)('an attempt log over its cap, sandbox %s', (sandbox) => {
  it.each(ways)('keeps its head, says what it dropped, keeps its last lines redacted (%s)', (_way, spawner) => withSpawner(spawner, async () => {
    const rt = createLocalRuntime({ stateDir: temp(), sandbox, maxLogBytes: CAP })
    const N = 60_000
    const script = `seq 1 ${N}; echo "tail $PW"; echo last`
    const l = launch(shPod(script, { container: { env: [{ name: 'PW', valueFrom: { secretKeyRef: { name: 's', key: 'pw' } } }] } }), { secretData: { pw: SECRET } })
    const handle = await rt.start(l)
    const followed = await collect(rt, handle)
    expect(followed.exit).toMatchObject({ exitCode: 0, reason: 'Completed' })

    const log = logFileOf(handle.data.attemptDir as string)
    const size = fs.statSync(log).size
    expect(size).toBeLessThan(CAP + TAIL_BYTES + 8 * 1024) // the head, ctl's line, the tail and the records around them
    const raw = fs.readFileSync(log, 'utf8')
    expect(raw).not.toContain(SECRET)

    const lines = loggedTexts(handle.data.attemptDir)
    expect(texts(followed.lines)).toEqual(lines) // a follower saw what is stored: the head, then ctl's line and the tail
    const at = lines.findIndex((t) => MARKER.test(t))
    expect(at).toBeGreaterThan(1000)
    const head = lines.slice(0, at)
    const tail = lines.slice(at + 1)
    expect(head).toEqual(Array.from({ length: head.length }, (_, i) => String(i + 1)))
    expect(tail.slice(-2)).toEqual([`tail ${REDACTED}`, 'last'])
    const firstKept = Number(tail[0])
    expect(tail.slice(0, -2)).toEqual(Array.from({ length: N - firstKept + 1 }, (_, i) => String(firstKept + i)))
    // Dropped: the numbers after the head up to the tail's first, each with its newline.
    const [, droppedLines, droppedBytes] = MARKER.exec(lines[at]!)!
    let bytes = 0
    for (let n = head.length + 1; n < firstKept; n++) bytes += String(n).length + 1
    expect(Number(droppedLines)).toBe(firstKept - head.length - 1)
    expect(Number(droppedBytes)).toBe(bytes)
    // ctl's own line is on stderr, like the step's own complaints.
    expect(followed.lines[at]!.stream).toBe('stderr')
  }))

  it('keeps the last line even when it is longer than the tail\'s budget alone', async () => {
    const rt = createLocalRuntime({ stateDir: temp(), sandbox, maxLogBytes: CAP })
    // One line over the cap at once, then three of 100 KB: each pushes the one before out of the tail.
    const script = "head -c 300000 /dev/zero | tr '\\0' a; echo; for i in 1 2 3; do head -c 100000 /dev/zero | tr '\\0' b; echo \" $i\"; done"
    const handle = await rt.start(launch(shPod(script)))
    const r = await collect(rt, handle)
    expect(r.exit).toMatchObject({ exitCode: 0, reason: 'Completed' })
    expect(texts(r.lines)).toEqual([
      `[ctl: 3 lines (${300_001 + 2 * 100_003} bytes) of output dropped after the log reached its limit of 256 KiB; the last lines follow]`,
      `${'b'.repeat(100_000)} 3`,
    ])
    expect(fs.statSync(logFileOf(handle.data.attemptDir as string)).size).toBeLessThan(100_000 + 8 * 1024)
  })

  it('rejects a cap that makes no sense', () => {
    for (const bad of [0, -1, 1.5, 1024, Number.NaN, 2 ** 41]) {
      expect(() => createLocalRuntime({ stateDir: temp(), sandbox, maxLogBytes: bad })).toThrow(expect.objectContaining({ code: 'E_USAGE' }))
    }
  })
})

/** Steps beside a flood whose log cannot be written: `breakLog` makes the host's writes fail past some size. */
async function floodBeside(rt: Runtime, breakLog: (host: number) => void, why: RegExp): Promise<void> {
  const gate = temp('ctl-gate-')
  fs.chmodSync(gate, 0o755)
  const volumes = [{ name: 'gate', persistentVolumeClaim: { claimName: 'gate' } }]
  const gated = pod({ command: ['sh', '-c', 'echo up; while [ ! -e /gate/go ]; do sleep 0.05; done; echo done'], volumeMounts: [{ name: 'gate', mountPath: '/gate' }] }, { volumes })
  const beside = await rt.start(launch(gated, { volumeDirs: { gate } }))
  const host = beside.data.supervisorPid as number
  await until(() => loggedTexts(beside.data.attemptDir).includes('up'), 'the step beside to start')
  breakLog(host)

  const flood = await rt.start(launch(shPod('yes flood')))
  const flooded = await collect(rt, flood)
  expect(flooded.exit).toMatchObject({ reason: 'Error' })
  expect(flooded.exit.message).toMatch(why)
  // What the plane reads later, from the log alone: the same end.
  expect(readExit(logFileOf(flood.data.attemptDir as string))).toMatchObject({ reason: 'Error', message: flooded.exit.message })

  // The step beside ran on, and ends as it would have.
  expect(readExit(logFileOf(beside.data.attemptDir as string))).toBeUndefined()
  fs.writeFileSync(path.join(gate, 'go'), '')
  const besideEnd = await collect(rt, beside)
  expect(besideEnd.exit).toMatchObject({ exitCode: 0, reason: 'Completed' })
  expect(texts(besideEnd.lines)).toEqual(['up', 'done'])

  // The host lives, and starts the next step once the flood's log is cleaned up (on a full disk nothing fits before).
  await rt.cleanup(flood)
  expect(() => process.kill(host, 0)).not.toThrow()
  const next = await rt.start(launch(shPod('echo again')))
  expect(next.data.supervisorPid).toBe(host)
  const again = await collect(rt, next)
  expect(again.exit.reason).toBe('Completed')
  expect(texts(again.lines)).toEqual(['again'])
}

describe.each(modes)('a log that cannot be written fails its step alone, sandbox %s', (sandbox) => {
  it.each(ways)('past the host\'s file size limit: EFBIG (%s)', (_way, spawner) => withSpawner(spawner, async () => {
    const rt = createLocalRuntime({ stateDir: temp(), sandbox })
    let host = 0
    try {
      // The live host's soft limit only (its hard one stays): Node ignores SIGXFSZ, the write fails with EFBIG.
      await floodBeside(rt, (pid) => execFileSync('prlimit', ['--pid', String((host = pid)), '--fsize=1048576:']), /^the step's log could not be written: EFBIG: file too large$/)
    } finally {
      if (host) execFileSync('prlimit', ['--pid', String(host), '--fsize=unlimited:'], { stdio: 'ignore' })
    }
  }))

  it.each(ways)('when not even its exit can be written: the host tells it, also to a plane that connects later (%s)', (_way, spawner) => withSpawner(spawner, async () => {
    const stateDir = temp()
    const rt = createLocalRuntime({ stateDir, sandbox })
    const first = await rt.start(launch(shPod('true')))
    const host = first.data.supervisorPid as number
    await collect(rt, first)
    let handle: Awaited<ReturnType<Runtime['start']>>
    let ended: Awaited<ReturnType<typeof collect>>
    try {
      // One byte per file: neither the handle nor the exit record fits, and nothing can be cut to make room.
      execFileSync('prlimit', ['--pid', String(host), '--fsize=1:'])
      handle = await rt.start(launch(shPod('echo never stored; sleep 30')))
      ended = await collect(rt, handle) // the host tried the exit record before it told the end
    } finally {
      execFileSync('prlimit', ['--pid', String(host), '--fsize=unlimited:'])
    }
    const log = logFileOf(handle.data.attemptDir as string)
    expect(ended.exit).toMatchObject({ reason: 'Error', message: "the step's log could not be written: EFBIG: file too large" })
    expect(ended.lines).toEqual([])
    expect(fs.statSync(log).size).toBe(0) // no torn record either

    // A plane started afterwards learns the end from the host as it connects (here with a start of its own).
    const later = createLocalRuntime({ stateDir, sandbox })
    expect((await later.start(launch(shPod('true')))).data.supervisorPid).toBe(host)
    expect((await collect(later, handle)).exit).toEqual(ended.exit)
    // Known to the host as ended: a kill writes no other end into the log.
    await later.kill(handle)
    expect(fs.statSync(log).size).toBe(0)
  }))

  it.each(ways)('an unwritable exit too large to keep is kept as a failure without its outputs (%s)', (_way, spawner) => withSpawner(spawner, async () => {
    const stateDir = temp()
    const gate = temp('ctl-gate-')
    fs.chmodSync(gate, 0o755)
    const rt = createLocalRuntime({ stateDir, sandbox })
    // 40 KiB of outputs, written once the gate opens, after the handle is in the log.
    const script = 'while [ ! -e /gate/go ]; do sleep 0.05; done; printf "big=%040960d\\n" 0 >> "$CTL_OUTPUTS"'
    const env = [{ name: 'CTL_OUTPUTS', value: '/ctl/outputs' }]
    const volumes = [{ name: 'gate', persistentVolumeClaim: { claimName: 'gate' } }]
    const big = pod({ command: ['sh', '-c', script], env, terminationMessagePath: '/ctl/outputs', terminationMessagePolicy: 'File', volumeMounts: [{ name: 'gate', mountPath: '/gate' }] }, { volumes })
    const handle = await rt.start(launch(big, { volumeDirs: { gate } }))
    const host = handle.data.supervisorPid as number
    let ended: Awaited<ReturnType<typeof collect>>
    try {
      // The log holds its handle; from now on not a byte more fits, and nothing can be cut to make room.
      execFileSync('prlimit', ['--pid', String(host), '--fsize=1:'])
      fs.writeFileSync(path.join(gate, 'go'), '')
      ended = await collect(rt, handle) // told live, whole
    } finally {
      execFileSync('prlimit', ['--pid', String(host), '--fsize=unlimited:'])
    }
    expect(ended.exit).toMatchObject({ reason: 'Completed' })
    expect(ended.exit.outputs?.big).toHaveLength(40960)
    expect(readExit(logFileOf(handle.data.attemptDir as string))).toBeUndefined()

    // A plane that connects later is told a bounded end: a failure, without the outputs the host could not keep.
    const later = createLocalRuntime({ stateDir, sandbox })
    expect((await later.start(launch(shPod('true')))).data.supervisorPid).toBe(host)
    const told = (await collect(later, handle)).exit
    expect(told).toMatchObject({ reason: 'Error', message: "the step's log could not be written, and its end (Completed) was too large to keep; its outputs are lost" })
    expect(told.outputs).toBeUndefined()
  }))

  // Mounting a tmpfs needs root: skipped otherwise (the EFBIG case above covers the same path without it).
  it.skipIf(!isRoot).each(ways)('on a full disk: ENOSPC (%s; needs root to mount a small tmpfs)', (_way, spawner) => withSpawner(spawner, async () => {
    // A real full file system: a small tmpfs as the state folder (unmounted after the file's tests).
    const stateDir = temp('ctl-full-')
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m,mode=0700', 'tmpfs', stateDir])
    mounts.push(stateDir)
    const rt = createLocalRuntime({ stateDir, sandbox })
    await floodBeside(rt, () => {}, /^the step's log could not be written: ENOSPC: no space left on device$/)
  }))
})
