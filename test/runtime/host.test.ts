// The shared step host: one process runs many steps, comes back after it died, stops a step
// quickly (also in bubblewrap), and find() recovers an attempt whose handle the engine lost.
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { hostSocketPath } from '../../src/runtime/local/host-start.js'
import { hostToken } from '../../src/runtime/local/host-token.js'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import { logFileOf } from '../../src/runtime/local/files.js'
import { collect, groupExists, hasBwrap, launch, loggedTexts, pod, shPod, tempDir, texts, until } from './helpers.js'

const modes = hasBwrap ? (['bubblewrap', 'none'] as const) : (['none'] as const)
const dirs: string[] = []
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })))

function runtime(mode: 'bubblewrap' | 'none') {
  const stateDir = tempDir()
  dirs.push(stateDir)
  return { stateDir, rt: createLocalRuntime({ stateDir, sandbox: mode }) }
}

const logHas = (attemptDir: unknown, text: string) => () => loggedTexts(attemptDir).some((t) => t.includes(text))

describe.each(modes)('step host, sandbox %s', (mode) => {
  it('runs many steps in one host, and a new host takes over after it died', async () => {
    const { rt } = runtime(mode)
    const handles = await Promise.all([1, 2, 3].map((i) => rt.start(launch(shPod(`echo step ${i}`)))))
    const hosts = new Set(handles.map((h) => h.data.supervisorPid))
    expect(hosts.size).toBe(1)
    const results = await Promise.all(handles.map((h) => collect(rt, h)))
    expect(results.map((r) => texts(r.lines))).toEqual([['step 1'], ['step 2'], ['step 3']])
    expect(results.every((r) => r.exit.reason === 'Completed')).toBe(true)

    const hostPid = handles[0]!.data.supervisorPid as number
    const running = await rt.start(launch(shPod('echo up; sleep 30')))
    await until(logHas(running.data.attemptDir, 'up'), 'the step to start')
    process.kill(hostPid, 'SIGKILL')
    const lost = await collect(rt, running)
    expect(lost.exit.reason).toBe('Lost')
    expect(texts(lost.lines)).toEqual(['up'])
    await until(() => !groupExists(running.data.stepPid as number), 'the step to be gone with its host')

    const after = await rt.start(launch(shPod('echo again')))
    expect(after.data.supervisorPid).not.toBe(hostPid)
    const r = await collect(rt, after)
    expect(r.exit.reason).toBe('Completed')
    expect(texts(r.lines)).toEqual(['again'])
  })

  // A long grace period: only a SIGTERM that reaches the shell and its child ends these in time
  // (exit 143); the SIGKILL escalation would come after 30 s and exit 137.
  it.each(['echo x; sleep 60', 'sleep 60 & sleep 60 & echo x; wait', 'echo x; exec sleep 60'])('stops `%s` with SIGTERM, without waiting for the grace period', async (script) => {
    const { rt } = runtime(mode)
    const handle = await rt.start(launch(shPod(script, { grace: 30 })))
    const following = collect(rt, handle)
    await until(logHas(handle.data.attemptDir, 'x'), 'the step to start')
    await rt.kill(handle, 'stopped by bob')
    const r = await following
    expect(r.exit).toMatchObject({ reason: 'Killed', exitCode: 143, message: 'stopped by bob' })
    await until(() => !groupExists(handle.data.stepPid as number), 'every process of the step to be gone')
  })

  it('find() returns the handle of a started attempt, and rules out an attempt that was never handed over', async () => {
    const { stateDir, rt } = runtime(mode)
    const l = launch(shPod('echo found'))
    const started = await rt.start(l)
    expect(await rt.find!(l.key)).toEqual(started)
    // A new runtime instance (a restarted control plane) finds it the same way and can follow it.
    const again = createLocalRuntime({ stateDir, sandbox: mode })
    const found = await again.find!(l.key)
    expect(found).toEqual(started)
    expect(texts((await collect(again, found!)).lines)).toEqual(['found'])

    expect(await rt.find!({ runId: 'nothing-here', step: 'main', attempt: 1 })).toBeUndefined()
    // The control plane died after creating the attempt folder, before the host got the start.
    const key = { runId: 'half-started', step: 'main', attempt: 1 }
    const attemptDir = path.join(stateDir, key.runId, `${key.step}.1`)
    fs.mkdirSync(attemptDir, { recursive: true })
    expect(await rt.find!(key)).toBeUndefined()
    // Claimed (the log exists): a start that was still on its way can no longer happen.
    expect(fs.readFileSync(logFileOf(attemptDir), 'utf8')).toBe('{"h":null}\n')
    await expect(rt.start(launch(shPod('echo late'), { key }))).rejects.toMatchObject({ code: 'E_CONFLICT' })
  })

  it('find() claims an attempt whose folder the host has not created yet, so a start still on its way fails', async () => {
    const { stateDir, rt } = runtime(mode)
    // The host creates the attempt folder as it claims a start; a restarted control plane may look first.
    const key = { runId: 'in-flight', step: 'main', attempt: 1 }
    expect(await rt.find!(key)).toBeUndefined()
    expect(fs.readFileSync(logFileOf(path.join(stateDir, key.runId, 'main.1')), 'utf8')).toBe('{"h":null}\n')
    await expect(rt.start(launch(shPod('echo late'), { key }))).rejects.toMatchObject({ code: 'E_CONFLICT' })
    // A started attempt's handle is the first record of its log, and never delivered as output.
    const l = launch(shPod('echo only'))
    const started = await rt.start(l)
    expect(await rt.find!(l.key)).toEqual(started)
    expect(texts((await collect(rt, started)).lines)).toEqual(['only'])
  })

  it('a follower of a step whose log held only its handle at the start gets every later line, and its exit', async () => {
    const { stateDir, rt } = runtime(mode)
    // Quiet at the start (the follower waits for the host's notices without reading), then output, a pause, more.
    const late = await rt.start(launch(shPod('sleep 0.3; echo late; sleep 0.3; echo later; exit 3')))
    const r = await collect(rt, late)
    expect(texts(r.lines)).toEqual(['late', 'later'])
    expect(r.exit).toMatchObject({ reason: 'Error', exitCode: 3 })
    // Quiet to its end: the exit alone; and one with output at once, before its handle was even written.
    const silent = await rt.start(launch(shPod('sleep 0.2')))
    expect(await collect(rt, silent)).toMatchObject({ lines: [], exit: { reason: 'Completed' } })
    const early = await Promise.all([1, 2, 3].map(() => rt.start(launch(shPod('echo at once')))))
    for (const h of early) expect(texts((await collect(rt, h)).lines)).toEqual(['at once'])
    // Followed again from its start by a runtime that did not start it: the same lines, read from the log.
    const again = createLocalRuntime({ stateDir, sandbox: mode })
    expect(texts((await collect(again, late)).lines)).toEqual(['late', 'later'])
  })
})

// A step (plain mode: it runs as the control plane's user, beside the host's socket) that tries to
// drive the host: it connects, optionally sends a forged proof, then asks for a process to start.
const FORGER = `
const net = require('node:net')
const [sock, marker, forge] = process.argv.slice(1)
const c = net.createConnection(sock)
let got = ''
c.setEncoding('utf8')
c.on('data', (d) => {
  got += d
  if (got.includes('\\n') && !c.sent) {
    c.sent = true
    if (forge === 'forge') c.write(JSON.stringify({ auth: '0'.repeat(64), nonce: 'a'.repeat(64) }) + '\\n')
    const spec = { attemptDir: require('node:path').join(require('node:path').dirname(marker), 'forged', 'main.0'), mode: 'none', command: '/bin/sh', args: ['-c', 'touch ' + marker], env: {}, fdData: [], graceMs: 1000, redact: [], maxLineBytes: 1000 }
    c.write(JSON.stringify({ op: 'start', id: 1, spec, handle: { runtime: 'local', id: 'x', data: {} } }) + '\\n')
    c.write(JSON.stringify({ op: 'kill', id: 2, dir: 'anything' }) + '\\n')
  }
})
c.on('error', (e) => console.log('error ' + e.code))
c.on('close', () => { for (const l of got.split('\\n').filter(Boolean)) console.log('got ' + l); console.log('closed') })
`

describe('step host authentication', () => {
  it('host.token: made once (0600, 32 random bytes), then read; loose modes tightened; a link refused', () => {
    const stateDir = tempDir()
    dirs.push(stateDir)
    const first = hostToken(stateDir)
    expect(first).toHaveLength(32)
    expect(hostToken(stateDir).equals(first)).toBe(true)
    const file = path.join(stateDir, 'host.token')
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    expect(fs.readdirSync(stateDir)).toEqual(['host.token']) // no temporary file left behind
    fs.chmodSync(file, 0o644)
    expect(hostToken(stateDir).equals(first)).toBe(true)
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    const other = tempDir()
    dirs.push(other)
    fs.symlinkSync(file, path.join(other, 'host.token'))
    expect(() => hostToken(other)).toThrow(/not a regular file/)
  })

  it.each(['no proof', 'forge'])('a step that reaches the socket with %s starts nothing and is disconnected', async (how) => {
    const { stateDir, rt } = runtime('none')
    await hostile(stateDir, rt, how)
  })

  // In bubblewrap, with the state folder outside /tmp (the sandbox has a private /tmp): today the
  // socket is visible read-only, and refuses the step; once the sandbox hides the state folder,
  // the step cannot even reach it. Either way nothing starts.
  it.skipIf(!hasBwrap)('a sandboxed step that looks for the socket starts nothing', async () => {
    const stateDir = fs.mkdtempSync(path.join('/var/tmp', 'ctl-rt-'))
    dirs.push(stateDir)
    await hostile(stateDir, createLocalRuntime({ stateDir, sandbox: 'bubblewrap' }), 'forge')
  })
})

/** A step that tries to drive the host over its socket (FORGER); afterwards the host still serves its control plane. */
async function hostile(stateDir: string, rt: ReturnType<typeof createLocalRuntime>, how: string): Promise<void> {
  // A first step starts the host (and makes the token).
  const first = await rt.start(launch(shPod('echo up')))
  expect((await collect(rt, first)).exit.reason).toBe('Completed')
  const tokenFile = path.join(stateDir, 'host.token')
  expect(fs.statSync(tokenFile).mode & 0o777).toBe(0o600)
  expect(fs.readFileSync(tokenFile).length).toBe(32)

  const marker = path.join(stateDir, 'pwned')
  const hostile = await rt.start(launch(pod({ command: [process.execPath, '-e', FORGER, hostSocketPath(stateDir), marker, how === 'forge' ? 'forge' : 'plain'] })))
  const r = await collect(rt, hostile)
  expect(r.exit.reason).toBe('Completed')
  const out = texts(r.lines)
  expect(out.at(-1)).toBe('closed')
  const got = out.filter((l) => l.startsWith('got ')).map((l) => JSON.parse(l.slice(4)) as Record<string, unknown>)
  if (got.length === 0) {
    // The socket is out of the step's sight.
    expect(out.find((l) => l.startsWith('error '))).toMatch(/^error (ENOENT|ECONNREFUSED|EACCES)$/)
  } else {
    // The hello (pid and nonce, nothing secret), then the host hung up: no reply to start or kill.
    expect(got).toHaveLength(1)
    expect(Object.keys(got[0]!)).toEqual(['hello'])
  }
  expect(fs.existsSync(marker)).toBe(false)
  expect(fs.existsSync(path.join(stateDir, 'forged'))).toBe(false)
  // The host still serves its control plane.
  const after = await rt.start(launch(shPod('echo still here')))
  expect(texts((await collect(rt, after)).lines)).toEqual(['still here'])
  expect(after.data.supervisorPid).toBe(first.data.supervisorPid)
}

describe('step host authentication: a stand-in', () => {
  it('a process in the host socket\'s place that does not know the token gets no launch spec', async () => {
    const stateDir = tempDir()
    dirs.push(stateDir)
    const received: string[] = []
    const fake = net.createServer((s) => {
      s.setEncoding('utf8')
      s.on('data', (d: string) => received.push(...d.split('\n').filter(Boolean)))
      s.on('error', () => {})
      s.write(JSON.stringify({ hello: { pid: process.pid, start: null, nonce: 'b'.repeat(64) } }) + '\n')
      // Answers the client's proof with a made-up one.
      s.once('data', () => s.write(JSON.stringify({ authed: 'c'.repeat(64) }) + '\n'))
    })
    await new Promise<void>((resolve) => fake.listen(hostSocketPath(stateDir), resolve))
    try {
      const rt = createLocalRuntime({ stateDir, sandbox: 'none' })
      await expect(rt.start(launch(shPod('echo secret-bearing launch'), { secretData: { K: 'v' } }))).rejects.toMatchObject({ code: 'E_INTERNAL' })
      // It saw our proof over its own nonce (useless elsewhere), never a request.
      expect(received.length).toBeGreaterThan(0)
      for (const line of received) expect(Object.keys(JSON.parse(line) as object).sort()).toEqual(['auth', 'nonce'])
    } finally {
      await new Promise((resolve) => fake.close(resolve))
    }
  })

  it.each(['not json', 'null', '{"hello":{"pid":1,"start":null}}'])('a stand-in that answers %s fails the start cleanly (the control plane stays up)', async (line) => {
    const stateDir = tempDir()
    dirs.push(stateDir)
    const fake = net.createServer((s) => {
      s.on('error', () => {})
      s.write(line + '\n')
    })
    await new Promise<void>((resolve) => fake.listen(hostSocketPath(stateDir), resolve))
    try {
      const rt = createLocalRuntime({ stateDir, sandbox: 'none' })
      await expect(rt.start(launch(shPod('echo x')))).rejects.toMatchObject({ code: 'E_INTERNAL' })
    } finally {
      await new Promise((resolve) => fake.close(resolve))
    }
  })
})
