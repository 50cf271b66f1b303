// The local runtime remembers the attempts it started until their cleanup, so that it does not try to remove their
// run folder meanwhile (AttemptDirRemover.live). An attempt it stops following (the engine detached: another
// replica, or the next plane, follows it and cleans it up) must leave that memory: before, its entry stayed for
// ever, the memory grew with every such attempt, and the run folder was never removed by this runtime again.
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import { AttemptDirRemover, MAX_LIVE } from '../../src/runtime/local/remove.js'
import { collect, hasBwrap, launch, shPod, stoppedHostsCleanup, tempDir, texts } from './helpers.js'

const modes = hasBwrap ? (['bubblewrap', 'none'] as const) : (['none'] as const)
const { dirs } = stoppedHostsCleanup()

describe.each(modes)('an attempt followed and cleaned up elsewhere, sandbox %s', (mode) => {
  it('no longer holds its run folder in the runtime that started it', async () => {
    const stateDir = tempDir()
    dirs.push(stateDir)
    const here = createLocalRuntime({ stateDir, sandbox: mode })
    const runId = `handed-over-${mode}`
    // An emptyDir volume each: the attempts have folders, in their run folder.
    const withFolder = (script: string) => shPod(script, { volumes: [{ name: 'scratch', emptyDir: {} }], container: { volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }] } })
    const x = await here.start(launch(withFolder('echo x; sleep 0.3'), { key: { runId, step: 'x', attempt: 0 } }))
    const y = await here.start(launch(withFolder('echo y'), { key: { runId, step: 'y', attempt: 0 } }))
    expect(fs.readdirSync(path.join(stateDir, runId)).sort()).toEqual(['x.0', 'y.0'])
    // The engine here detaches from x (its run's lease went to another replica).
    const detach = new AbortController()
    const following = here.follow(x, 0, async () => {}, detach.signal)
    detach.abort(new Error('run lease lost'))
    await expect(following).rejects.toThrow('run lease lost')
    // The other replica follows x to its end and cleans it up; y is still here.
    const there = createLocalRuntime({ stateDir, sandbox: mode })
    expect(texts((await collect(there, x)).lines)).toEqual(['x'])
    await there.cleanup(x)
    // The last attempt of the run cleaned up here: its run folder goes with it.
    expect(texts((await collect(here, y)).lines)).toEqual(['y'])
    await here.cleanup(y)
    expect(fs.existsSync(path.join(stateDir, runId))).toBe(false)
  })
})

describe('AttemptDirRemover', () => {
  it('forgets attempts released or cleaned up, and remembers a bounded number', async () => {
    const stateDir = tempDir()
    dirs.push(stateDir)
    const removals = new AttemptDirRemover()
    const attempt = (run: number, step: number) => path.join(stateDir, `run${run}`, `s${step}.0`)
    removals.started(attempt(0, 0))
    removals.started(attempt(0, 0)) // the same attempt twice (a retried start) counts once
    removals.started(attempt(0, 1))
    expect(removals.pending).toBe(2)
    removals.released(attempt(0, 0))
    removals.released(attempt(0, 0))
    await removals.add({ attemptDir: attempt(0, 1), logAt: 'logs', folder: false })
    expect(removals.pending).toBe(0)
    // Never cleaned up nor released here: the oldest runs' entries go once the bound is passed.
    for (let run = 1; run <= MAX_LIVE / 64 + 2; run++) for (let step = 0; step < 64; step++) removals.started(attempt(run, step))
    expect(removals.pending).toBeLessThanOrEqual(MAX_LIVE)
    expect(removals.pending).toBeGreaterThan(MAX_LIVE - 64)
    // A forgotten one cleaned up later is no error, and counts nothing off.
    const before = removals.pending
    await removals.add({ attemptDir: attempt(1, 0), logAt: 'logs', folder: false })
    expect(removals.pending).toBe(before)
  })
})
