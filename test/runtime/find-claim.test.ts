// find() after a control-plane crash that interrupted a launch. The first find() claims the attempt (its log) so a
// start still on its way fails; the engine may leave the attempt alone for a grace period (another replica may be
// launching it) and ask again. That second look must answer "not started" again, at once: before, it took its own
// empty claim for a host that had claimed the attempt and died, waited 15 s and handed back a host-less handle, so
// the step ended Lost as "the step's supervisor is gone" instead of "the control plane stopped while starting it".
// A host's claim (empty until the host writes the handle) must still be waited for. Interleavings are driven, not timed.
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import { NOT_STARTED, besideLogOf, createExclusive, exitRecord, logFileOf, readExit, readHandle } from '../../src/runtime/local/files.js'
import { collect, hasBwrap, launch, shPod, stoppedHostsCleanup, tempDir, texts } from './helpers.js'

const modes = hasBwrap ? (['bubblewrap', 'none'] as const) : (['none'] as const)
const { dirs } = stoppedHostsCleanup()

describe.each(modes)('find() of an attempt it claimed itself, sandbox %s', (mode) => {
  it('answers "not started" again, in this runtime and in a restarted one, and the start stays refused', async () => {
    const stateDir = tempDir()
    dirs.push(stateDir)
    const rt = createLocalRuntime({ stateDir, sandbox: mode })
    const key = { runId: 'interrupted', step: 'main', attempt: 1 }
    const log = logFileOf(path.join(stateDir, key.runId, 'main.1'))
    expect(await rt.find!(key)).toBeUndefined()
    // The next orphan check, by this plane and by one started after it.
    expect(await rt.find!(key)).toBeUndefined()
    expect(await createLocalRuntime({ stateDir, sandbox: mode }).find!(key)).toBeUndefined()
    // No handle and no exit in the claim: nothing for a follower, and the engine reports why it did not start.
    expect(readHandle(log)).toBeUndefined()
    expect(readExit(log)).toBeUndefined()
    await expect(rt.start(launch(shPod('echo late'), { key }))).rejects.toMatchObject({ code: 'E_CONFLICT' })
    expect(await rt.find!(key)).toBeUndefined()
  })

  it("still waits for the handle of a host's claim, empty until the host writes it", async () => {
    const stateDir = tempDir()
    dirs.push(stateDir)
    const rt = createLocalRuntime({ stateDir, sandbox: mode })
    const l = launch(shPod('echo claimed'))
    const started = await rt.start(l)
    expect(texts((await collect(rt, started)).lines)).toEqual(['claimed'])
    // The same attempt as a host leaves it between its claim and its handle: an empty log.
    const key = { runId: 'in-claim', step: 'main', attempt: 1 }
    const log = logFileOf(path.join(stateDir, key.runId, 'main.1'))
    fs.mkdirSync(path.dirname(log), { recursive: true })
    fs.writeFileSync(log, '', { flag: 'wx' })
    const handle = { ...started, id: `${key.runId}/main/1` }
    const finding = rt.find!(key) // looks once, finds the empty claim, and waits
    fs.appendFileSync(log, JSON.stringify({ h: handle }) + '\n')
    expect(await finding).toEqual(handle)
    // A host's claim needs no fence beside the folder: no run folder is left for it.
    expect(fs.existsSync(path.join(stateDir, key.runId))).toBe(false)
  })
})

// A step host of the last version claims beside the attempt folder (<run>/<step>.<attempt>.ndjson), and may still run
// after an upgrade, serving the new control plane's starts: find() must count its claim, and fence it.
describe.each(modes)("find() and a host of the last version's claim beside the attempt folder, sandbox %s", (mode) => {
  const setUp = (runId: string) => {
    const stateDir = tempDir()
    dirs.push(stateDir)
    const key = { runId, step: 'main', attempt: 0 }
    const attemptDir = path.join(stateDir, runId, 'main.0')
    fs.mkdirSync(path.dirname(attemptDir), { recursive: true })
    return { stateDir, rt: createLocalRuntime({ stateDir, sandbox: mode }), key, attemptDir }
  }

  it("waits for the handle of such a host's claim, and claims nothing in the logs folder", async () => {
    const { rt, key, attemptDir } = setUp('old-host')
    // The old host's claim, before its handle: an empty log beside the folder.
    fs.writeFileSync(besideLogOf(attemptDir), '', { flag: 'wx' })
    const handle = { runtime: 'local', id: 'old-host/main/0', data: { attemptDir, logBeside: true, folder: false, mode, host: true, supervisorPid: null, supervisorStart: null, stepPid: null, shmDir: null, image: null, notes: [] } }
    const finding = rt.find!(key)
    fs.appendFileSync(besideLogOf(attemptDir), JSON.stringify({ h: handle }) + '\n')
    expect(await finding).toEqual(handle)
    expect(fs.existsSync(logFileOf(attemptDir))).toBe(false)
  })

  it("reports such a claim whose host died (its exit appended by a plane) as the host's, beside the folder", async () => {
    const { rt, key, attemptDir } = setUp('old-host-died')
    fs.writeFileSync(besideLogOf(attemptDir), exitRecord({ exitCode: null, reason: 'Lost', finishedAt: '2026-01-01T00:00:00.000Z' }), { flag: 'wx' })
    const found = await rt.find!(key)
    expect(found?.data).toMatchObject({ attemptDir, logAt: 'beside', supervisorPid: null })
    expect(fs.existsSync(logFileOf(attemptDir))).toBe(false)
  })

  it('fences it once it claimed the attempt: a late claim beside the folder fails, and the claim in the logs folder stays', async () => {
    const { stateDir, rt, key, attemptDir } = setUp('fenced')
    expect(await rt.find!(key)).toBeUndefined()
    // What a host of the last version does to start it (step.mjs's claim then): an exclusive create beside the folder.
    expect(() => createExclusive(besideLogOf(attemptDir), '')).toThrow(expect.objectContaining({ code: 'EEXIST' }))
    expect(() => createExclusive(logFileOf(attemptDir), '')).toThrow(expect.objectContaining({ code: 'EEXIST' }))
    // Asked again (the next orphan check, or a restarted plane): still not started.
    expect(await rt.find!(key)).toBeUndefined()
    expect(await createLocalRuntime({ stateDir, sandbox: mode }).find!(key)).toBeUndefined()
    // forget() keeps both.
    await rt.forget!(key)
    expect(fs.existsSync(besideLogOf(attemptDir))).toBe(true)
    expect(fs.existsSync(logFileOf(attemptDir))).toBe(true)
    await expect(rt.start(launch(shPod('echo late'), { key }))).rejects.toMatchObject({ code: 'E_CONFLICT' })
  })

  it('completes the claim of a find() that died between its fence and its claim', async () => {
    const { rt, key, attemptDir } = setUp('fence-only')
    createExclusive(besideLogOf(attemptDir), NOT_STARTED)
    expect(await rt.find!(key)).toBeUndefined()
    expect(fs.readFileSync(logFileOf(attemptDir), 'utf8')).toBe(NOT_STARTED)
    await expect(rt.start(launch(shPod('echo late'), { key }))).rejects.toMatchObject({ code: 'E_CONFLICT' })
  })
})

// Once the engine has recorded such an attempt as ended (Lost, not started), forget() removes the attempt folder a
// start cut short by the crash may have made (config files, maybe secrets). find()'s claim stays: it refuses a start
// still on its way. Nothing else: a host's log goes with its handle (cleanup), and the path comes from the key alone.
describe.each(modes)('forget() of an attempt that did not start, sandbox %s', (mode) => {
  it('removes the folder a start cut short left and keeps the claim, which still refuses a late start', async () => {
    const stateDir = tempDir()
    dirs.push(stateDir)
    const rt = createLocalRuntime({ stateDir, sandbox: mode })
    const key = { runId: 'cut-short', step: 'main', attempt: 1 }
    const attemptDir = path.join(stateDir, key.runId, 'main.1')
    // What start() makes before it hands the step to the host: the attempt folder and its config files.
    fs.mkdirSync(path.join(attemptDir, 'config'), { recursive: true })
    fs.writeFileSync(path.join(attemptDir, 'config', 'app.conf'), 'token=s3cret')
    expect(await rt.find!(key)).toBeUndefined()
    expect(fs.existsSync(logFileOf(attemptDir))).toBe(true)
    await rt.forget!(key)
    // The folder went; the claim in the logs folder stays, and so does its fence beside the folder (see below).
    const claims = [path.basename(besideLogOf(attemptDir))]
    expect(fs.readdirSync(path.join(stateDir, key.runId))).toEqual(claims)
    expect(fs.readdirSync(path.join(stateDir, '.logs'))).toEqual([path.basename(logFileOf(attemptDir))])
    // A later look still answers "not started", and forgetting again is harmless.
    expect(await rt.find!(key)).toBeUndefined()
    await rt.forget!(key)
    expect(fs.readdirSync(path.join(stateDir, key.runId))).toEqual(claims)
    expect(fs.readdirSync(path.join(stateDir, '.logs'))).toEqual([path.basename(logFileOf(attemptDir))])
    // A start on its way (a stalled replica's) is refused by the claim, and nothing runs.
    await expect(rt.start(launch(shPod('echo late'), { key }))).rejects.toMatchObject({ code: 'E_CONFLICT' })
    expect(readHandle(logFileOf(attemptDir))).toBeUndefined()
  })

  it("leaves a host's log, empty or with its handle, and the other attempts of the run", async () => {
    const stateDir = tempDir()
    dirs.push(stateDir)
    const rt = createLocalRuntime({ stateDir, sandbox: mode })
    const l = launch(shPod('echo ran'))
    const started = await rt.start(l)
    expect(texts((await collect(rt, started)).lines)).toEqual(['ran'])
    const runDir = path.join(stateDir, l.key.runId)
    const ranLog = logFileOf(path.join(runDir, 'main.0'))
    await rt.forget!(l.key)
    expect(readHandle(ranLog)).toEqual(started)
    // A host's claim before its handle: empty.
    const claimed = logFileOf(path.join(runDir, 'other.0'))
    fs.writeFileSync(claimed, '', { flag: 'wx' })
    await rt.forget!({ runId: l.key.runId, step: 'other', attempt: 0 })
    expect(fs.existsSync(claimed)).toBe(true)
    // find()'s claim beside them stays too, and nothing else of theirs goes.
    const key = { runId: l.key.runId, step: 'late', attempt: 0 }
    expect(await rt.find!(key)).toBeUndefined()
    await rt.forget!(key)
    const lateLog = logFileOf(path.join(runDir, 'late.0'))
    expect(fs.readdirSync(path.join(stateDir, '.logs')).sort()).toEqual([path.basename(claimed), path.basename(lateLog), path.basename(ranLog)].sort())
    await rt.cleanup(started)
    expect(fs.existsSync(ranLog)).toBe(false)
  })

  it('takes its path from the key alone: a name that leaves the run is refused', async () => {
    const stateDir = tempDir()
    dirs.push(stateDir)
    const rt = createLocalRuntime({ stateDir, sandbox: mode })
    await expect(rt.forget!({ runId: '..', step: 'main', attempt: 1 })).rejects.toMatchObject({ code: 'E_INTERNAL' })
    await expect(rt.forget!({ runId: 'r', step: '../x', attempt: 1 })).rejects.toMatchObject({ code: 'E_INTERNAL' })
  })
})
