// The shared step host: one process runs many steps, comes back after it died, stops a step
// quickly (also in bubblewrap), and find() recovers an attempt whose handle the engine lost.
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import { collect, groupExists, hasBwrap, launch, loggedTexts, shPod, tempDir, texts, until } from './helpers.js'

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
    expect(fs.readFileSync(path.join(attemptDir, 'log.ndjson'), 'utf8')).toBe('')
    await expect(rt.start(launch(shPod('echo late'), { key }))).rejects.toMatchObject({ code: 'E_CONFLICT' })
  })

  it('find() claims an attempt whose folder the host has not created yet, so a start still on its way fails', async () => {
    const { stateDir, rt } = runtime(mode)
    // The host creates the attempt folder as it claims a start; a restarted control plane may look first.
    const key = { runId: 'in-flight', step: 'main', attempt: 1 }
    expect(await rt.find!(key)).toBeUndefined()
    expect(fs.readFileSync(path.join(stateDir, key.runId, 'main.1', 'log.ndjson'), 'utf8')).toBe('')
    await expect(rt.start(launch(shPod('echo late'), { key }))).rejects.toMatchObject({ code: 'E_CONFLICT' })
    // A started attempt's handle is the first record of its log, and never delivered as output.
    const l = launch(shPod('echo only'))
    const started = await rt.start(l)
    expect(await rt.find!(l.key)).toEqual(started)
    expect(texts((await collect(rt, started)).lines)).toEqual(['only'])
  })
})
