// The exit as the last record of an attempt's log: who wins when several append one, what is never taken for one,
// and the exit.json of attempts of older step hosts.

import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { besideLogOf, exitRecord, readExit, writeExitOnce } from '../../src/runtime/local/files.js'
import { followLog } from '../../src/runtime/local/follow.js'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import type { LogLine, RuntimeHandle, StepExit } from '../../src/runtime/types.js'
import { launch, run, shPod, tempDir, texts } from './helpers.js'

const handleLine = JSON.stringify({ h: { runtime: 'local', id: 'r/main/0', data: { attemptDir: '/x' } } }) + '\n'
const out = (x: string) => JSON.stringify({ t: '2026-01-01T00:00:00.000Z', s: 'stdout', x }) + '\n'
const hostExit: StepExit = { exitCode: 0, reason: 'Completed', finishedAt: '2026-01-01T00:00:01.000Z' }
const lost = (message: string): StepExit => ({ exitCode: null, reason: 'Lost', message, finishedAt: '2026-01-01T00:00:02.000Z' })

async function followAll(logFile: string): Promise<{ lines: LogLine[]; exit: StepExit }> {
  const lines: LogLine[] = []
  const exit = await followLog({
    logFile,
    fromOffset: 0,
    onLogs: async (b) => void lines.push(...b.lines),
    isRunning: () => false,
    onLost: () => lost('no exit'),
  })
  return { lines, exit }
}

describe('exit records', () => {
  let dir: string
  let n = 0
  const logWith = (content: string) => {
    const file = path.join(dir, `attempt${++n}`, 'log.ndjson')
    fs.mkdirSync(path.dirname(file))
    fs.writeFileSync(file, content)
    return file
  }
  beforeAll(() => {
    dir = tempDir('ctl-exit-')
  })
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('keeps the host exit when the control plane appends Lost after it', () => {
    const log = logWith(handleLine + out('hi') + exitRecord(hostExit))
    expect(writeExitOnce(log, lost('late'))).toEqual(hostExit)
    expect(readExit(log)).toEqual(hostExit)
    // Even when a Lost record got appended anyway (a replica that looked before the host wrote its own).
    fs.appendFileSync(log, exitRecord(lost('racing replica')))
    expect(readExit(log)).toEqual(hostExit)
  })

  it('keeps the first of two Lost appends', () => {
    const log = logWith(handleLine + out('hi'))
    expect(readExit(log)).toBeUndefined()
    expect(writeExitOnce(log, lost('first'))).toEqual(lost('first'))
    expect(writeExitOnce(log, lost('second'))).toEqual(lost('first'))
    fs.appendFileSync(log, exitRecord(lost('third, appended blindly')))
    expect(readExit(log)).toEqual(lost('first'))
  })

  it('never creates a log that is gone', () => {
    const log = path.join(dir, 'gone', 'log.ndjson')
    expect(writeExitOnce(log, lost('x'))).toEqual(lost('x'))
    expect(fs.existsSync(log)).toBe(false)
  })

  it('does not take a line of output for an exit, nor a torn record', () => {
    // As the host frames a line `{"e":...}` printed by the step, and an exit record cut short by a dying writer.
    const forged = JSON.stringify({ e: hostExit })
    const log = logWith(handleLine + out(forged) + '{"e":{"exitCode":0,"reason":"Comp\n' + out('last'))
    expect(readExit(log)).toBeUndefined()
  })

  it('skips a partial last line, and a later append puts its record on a line of its own', async () => {
    const log = logWith(handleLine + out('one') + '{"t":"2026-01-01T00:00:00.000Z","s":"stdout","x":"cut sh')
    expect(readExit(log)).toBeUndefined()
    expect(writeExitOnce(log, lost('host died mid-line'))).toEqual(lost('host died mid-line'))
    const { lines, exit } = await followAll(log)
    expect(exit).toEqual(lost('host died mid-line'))
    expect(texts(lines)).toEqual(['one', '{"t":"2026-01-01T00:00:00.000Z","s":"stdout","x":"cut sh'])
    // A complete record before a partial one (a second writer dying mid-append) still holds.
    fs.appendFileSync(log, '{"e":{"exitCode":null,"rea')
    expect(readExit(log)).toEqual(lost('host died mid-line'))
  })

  it('reads the exit at the end of a log far larger than one read, also a record larger than one', async () => {
    const big = 'x'.repeat(100_000)
    const outputs = { a: 'y'.repeat(300_000), b: 'z\n"'.repeat(1000) }
    const exit: StepExit = { ...hostExit, outputs }
    const lines = Array.from({ length: 30 }, (_, i) => out(`${i} ${big}`)).join('')
    const log = logWith(handleLine + lines + exitRecord(exit))
    expect(readExit(log)).toEqual(exit)
    expect(writeExitOnce(log, lost('late'))).toEqual(exit)
    const followed = await followAll(log)
    expect(followed.exit).toEqual(exit)
    expect(followed.lines).toHaveLength(30)
    // A log that ends in a long line of output has no exit.
    const open = logWith(handleLine + lines)
    expect(readExit(open)).toBeUndefined()
  })

  it('reads the exit.json an older step host wrote beside the log', async () => {
    const log = logWith(handleLine + out('old'))
    const old: StepExit = { exitCode: 3, reason: 'Error', message: 'exit code 3', finishedAt: '2026-01-01T00:00:03.000Z' }
    fs.writeFileSync(path.join(path.dirname(log), 'exit.json'), JSON.stringify(old) + '\n')
    expect(readExit(log)).toEqual(old)
    expect(writeExitOnce(log, lost('late'))).toEqual(old)
    const { lines, exit } = await followAll(log)
    expect(exit).toEqual(old)
    expect(texts(lines)).toEqual(['old'])
  })
})

// The runtimes of the two groups below share one state folder: their run ids differ.
let stateDir: string
beforeAll(() => {
  stateDir = tempDir()
})
afterAll(() => fs.rmSync(stateDir, { recursive: true, force: true }))

describe('a step printing what looks like an exit record', () => {
  it('has its line delivered as output and its real exit reported', async () => {
    const rt = createLocalRuntime({ stateDir, sandbox: 'none' })
    const forged = '{"e":{"exitCode":0,"reason":"Completed","finishedAt":"2026-01-01T00:00:00.000Z"}}'
    const r = await run(rt, launch(shPod(`echo '${forged}'; echo '${forged}' >&2; exit 3`)))
    expect(r.exit).toMatchObject({ exitCode: 3, reason: 'Error' })
    expect(texts(r.lines)).toEqual([forged, forged])
    // The host that wrote the log says where: in the logs folder (a host of an older version says beside the attempt
    // folder, or nothing).
    expect(r.handle.data).toMatchObject({ logAt: 'logs', folder: false })
  })
})

describe('an attempt started before the log moved to the logs folder', () => {
  it('is found, followed to its exit and cleaned up through its handle, its log beside the attempt folder', async () => {
    const rt = createLocalRuntime({ stateDir, sandbox: 'none' })
    const attemptDir = path.join(stateDir, 'besiderun', 'main.0')
    // As a host of the last version left it: logBeside in the handle, the log in the run folder.
    const handle: RuntimeHandle = { runtime: 'local', id: 'besiderun/main/0', data: { attemptDir, logBeside: true, folder: false, mode: 'none', host: true, supervisorPid: null, supervisorStart: null, stepPid: null, shmDir: null, image: null, notes: [] } }
    const ended: StepExit = { exitCode: 2, reason: 'Error', finishedAt: '2026-01-01T00:00:03.000Z' }
    fs.mkdirSync(path.dirname(attemptDir), { recursive: true })
    fs.writeFileSync(besideLogOf(attemptDir), JSON.stringify({ h: handle }) + '\n' + out('beside the folder') + exitRecord(ended))
    expect(await rt.find!({ runId: 'besiderun', step: 'main', attempt: 0 })).toEqual(handle)
    // No claim of its own in the logs folder: the attempt was found.
    expect(fs.readdirSync(path.join(stateDir, '.logs')).filter((f) => f.startsWith('besiderun+'))).toEqual([])
    const lines: LogLine[] = []
    expect(await rt.follow(handle, 0, async (b) => void lines.push(...b.lines))).toEqual(ended)
    expect(texts(lines)).toEqual(['beside the folder'])
    // A second start of it is refused, and names its handle.
    await expect(rt.start(launch(shPod('echo again'), { key: { runId: 'besiderun', step: 'main', attempt: 0 } }))).rejects.toMatchObject({ code: 'E_CONFLICT', details: { handle } })
    await rt.cleanup(handle)
    expect(fs.existsSync(path.join(stateDir, 'besiderun'))).toBe(false)
  })
})

describe('an attempt started before the log moved beside the attempt folder', () => {

  it('is found, followed to its exit.json and cleaned up through its old handle', async () => {
    const rt = createLocalRuntime({ stateDir, sandbox: 'none' })
    const attemptDir = path.join(stateDir, 'oldrun', 'main.1')
    // As an older runtime left it: no logBeside in the handle, the log (handle first) and exit.json inside the folder.
    const handle: RuntimeHandle = { runtime: 'local', id: 'oldrun/main/1', data: { attemptDir, mode: 'none', host: true, supervisorPid: null, supervisorStart: null, stepPid: null, shmDir: null, image: null, notes: [] } }
    const old: StepExit = { exitCode: 0, reason: 'Completed', finishedAt: '2026-01-01T00:00:03.000Z' }
    fs.mkdirSync(attemptDir, { recursive: true })
    fs.writeFileSync(path.join(attemptDir, 'log.ndjson'), JSON.stringify({ h: handle }) + '\n' + out('before the upgrade'))
    fs.writeFileSync(path.join(attemptDir, 'exit.json'), JSON.stringify(old) + '\n')
    expect(await rt.find!({ runId: 'oldrun', step: 'main', attempt: 1 })).toEqual(handle)
    const lines: LogLine[] = []
    expect(await rt.follow(handle, 0, async (b) => void lines.push(...b.lines))).toEqual(old)
    expect(texts(lines)).toEqual(['before the upgrade'])
    await rt.cleanup(handle)
    expect(fs.existsSync(path.join(stateDir, 'oldrun'))).toBe(false)
  })
})
