// The step host removes a step's in-memory folder (secret files, the outputs file) as the step ends: the files it
// wrote one by one, then the folder, and everything else in it (nested files, files a plain step added) through the
// recursive remove it falls back to. The control plane's cleanup removes an attempt folder the same way: its two
// usual files, then anything else that is there. Nothing may be left in either case.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import { besideLogOf, logFileOf } from '../../src/runtime/local/files.js'
import type { RuntimeHandle } from '../../src/runtime/types.js'
import { collect, launch, shPod, texts } from './helpers.js'
// @ts-expect-error: plain-JS module of the step host, without type declarations
import { Step } from '../../src/runtime/local/step.mjs'

let dir: string | undefined
afterEach(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

interface ShmStep {
  writeShm(): void
  removeShm(): void
}

describe('removal of a step folder in memory', () => {
  const make = (files: { path: string; content: string; mode: number }[]) => {
    const shmDir = path.join(dir!, 'shm')
    const spec = { attemptDir: path.join(dir!, 'attempt'), shm: { dir: shmDir, files: files.map((f) => ({ ...f, path: path.join(shmDir, f.path) })) } }
    return { shmDir, step: new Step(spec, () => {}) as ShmStep }
  }

  it('removes the files it wrote and the folder', () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-shm-'))
    const { shmDir, step } = make([{ path: 'outputs', content: '', mode: 0o600 }])
    step.writeShm()
    expect(fs.readdirSync(shmDir)).toEqual(['outputs'])
    step.removeShm()
    expect(fs.existsSync(shmDir)).toBe(false)
  })

  it('removes nested files, files added beside its own and files already gone', () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-shm-'))
    const { shmDir, step } = make([
      { path: 'outputs', content: '', mode: 0o600 },
      { path: 'secrets/a/token', content: 'x', mode: 0o400 },
    ])
    step.writeShm()
    fs.writeFileSync(path.join(shmDir, 'added-by-the-step'), 'y')
    fs.unlinkSync(path.join(shmDir, 'outputs'))
    step.removeShm()
    expect(fs.existsSync(shmDir)).toBe(false)
  })
})

const data = (attemptDir: string, more: Record<string, unknown> = {}) => ({
  attemptDir,
  mode: 'none',
  host: true,
  supervisorPid: null,
  supervisorStart: null,
  stepPid: null,
  shmDir: null,
  image: null,
  notes: [],
  ...more,
})

describe('cleanup of an attempt', () => {
  it('keeps the run folder while an attempt started there is not cleaned up, and drops it after the last', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-clean-'))
    const runtime = createLocalRuntime({ stateDir: path.join(dir, 'state'), sandbox: 'none' })
    const key = (step: string) => ({ runId: 'run2', step, attempt: 0 })
    // An emptyDir volume: each attempt has a folder, in the run folder.
    const withFolder = () => shPod('true', { volumes: [{ name: 'scratch', emptyDir: {} }], container: { volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }] } })
    const [a, b] = await Promise.all(['a', 'b'].map((s) => runtime.start(launch(withFolder(), { key: key(s) }))))
    for (const h of [a!, b!]) await collect(runtime, h)
    await runtime.cleanup(a!)
    expect(fs.readdirSync(path.join(dir, 'state', 'run2'))).toEqual(['b.0'])
    expect(fs.readdirSync(path.join(dir, 'state', '.logs'))).toEqual(['run2+b.0.ndjson'])
    await runtime.cleanup(b!)
    expect(fs.existsSync(path.join(dir, 'state', 'run2'))).toBe(false)
    expect(fs.readdirSync(path.join(dir, 'state', '.logs'))).toEqual([])
  })

  it('drops the run folder with the last attempt that had something in it, while a step without a folder still runs', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-clean-'))
    const state = path.join(dir, 'state')
    const runtime = createLocalRuntime({ stateDir: state, sandbox: 'none' })
    const key = (step: string) => ({ runId: 'run4', step, attempt: 0 })
    const withFolder = shPod('true', { volumes: [{ name: 'scratch', emptyDir: {} }], container: { volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }] } })
    const a = await runtime.start(launch(withFolder, { key: key('a') }))
    const b = await runtime.start(launch(shPod('sleep 0.5; echo b'), { key: key('b') }))
    await collect(runtime, a)
    await runtime.cleanup(a)
    expect(fs.existsSync(path.join(state, 'run4'))).toBe(false)
    expect(texts((await collect(runtime, b)).lines)).toEqual(['b'])
    await runtime.cleanup(b)
    expect(fs.readdirSync(path.join(state, '.logs'))).toEqual([])
  })

  it("closes a logs folder to others that an older setup left open, and refuses one that is a link", () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-clean-'))
    const state = path.join(dir, 'state')
    fs.mkdirSync(path.join(state, '.logs'), { recursive: true, mode: 0o755 })
    fs.chmodSync(path.join(state, '.logs'), 0o755)
    createLocalRuntime({ stateDir: state, sandbox: 'none' })
    expect(fs.statSync(path.join(state, '.logs')).mode & 0o777).toBe(0o700)
    const linked = path.join(dir, 'linked')
    fs.mkdirSync(linked)
    fs.symlinkSync(path.join(dir, 'elsewhere'), path.join(linked, '.logs'))
    fs.mkdirSync(path.join(dir, 'elsewhere'))
    expect(() => createLocalRuntime({ stateDir: linked, sandbox: 'none' })).toThrow(/\.logs is a link \(not followed\)/)
  })

  it('removes the log in the logs folder, the folder when the step had one, and the emptied run folder', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-clean-'))
    const runtime = createLocalRuntime({ stateDir: path.join(dir, 'state') })
    const withFolder = path.join(dir, 'state', 'run1', 'conf.0')
    const bare = path.join(dir, 'state', 'run1', 'main.0')
    const alone = path.join(dir, 'state', 'run3', 'main.0')
    fs.mkdirSync(path.join(withFolder, 'config', 'x'), { recursive: true })
    fs.writeFileSync(path.join(withFolder, 'config', 'x', 'f'), 'v')
    for (const a of [withFolder, bare, alone]) fs.writeFileSync(logFileOf(a), '{}\n')
    await Promise.all([
      runtime.cleanup({ runtime: 'local', id: 'run1/conf/0', data: data(withFolder, { logAt: 'logs', folder: true }) }),
      runtime.cleanup({ runtime: 'local', id: 'run1/main/0', data: data(bare, { logAt: 'logs', folder: false }) }),
      // No folder in a run that has no other: no run folder to remove either.
      runtime.cleanup({ runtime: 'local', id: 'run3/main/0', data: data(alone, { logAt: 'logs', folder: false }) }),
    ])
    expect(fs.existsSync(path.join(dir, 'state', 'run1'))).toBe(false)
    expect(fs.readdirSync(path.join(dir, 'state', '.logs'))).toEqual([])
  })

  it('removes a log of the last version beside the attempt folder, the folder when the step had one, and the emptied run folder', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-clean-'))
    const runtime = createLocalRuntime({ stateDir: path.join(dir, 'state') })
    const withFolder = path.join(dir, 'state', 'run1', 'conf.0')
    const bare = path.join(dir, 'state', 'run1', 'main.0')
    fs.mkdirSync(path.join(withFolder, 'config', 'x'), { recursive: true })
    fs.writeFileSync(path.join(withFolder, 'config', 'x', 'f'), 'v')
    fs.mkdirSync(path.dirname(bare), { recursive: true })
    for (const a of [withFolder, bare]) fs.writeFileSync(besideLogOf(a), '{}\n')
    await Promise.all([
      runtime.cleanup({ runtime: 'local', id: 'run1/conf/0', data: data(withFolder, { logBeside: true, folder: true }) }),
      runtime.cleanup({ runtime: 'local', id: 'run1/main/0', data: data(bare, { logBeside: true, folder: false }) }),
    ])
    expect(fs.existsSync(path.join(dir, 'state', 'run1'))).toBe(false)
  })

  it("removes an older runtime's attempt folder (its log inside) whatever it holds, and the emptied run folder", async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-clean-'))
    const runtime = createLocalRuntime({ stateDir: path.join(dir, 'state') })
    const attemptDir = path.join(dir, 'state', 'run1', 'main.0')
    fs.mkdirSync(path.join(attemptDir, 'empty', 'x'), { recursive: true })
    for (const f of ['log.ndjson', 'exit.json', 'handle.json', 'outputs']) fs.writeFileSync(path.join(attemptDir, f), '{}')
    const handle: RuntimeHandle = { runtime: 'local', id: 'run1/main/0', data: data(attemptDir) }
    await runtime.cleanup(handle)
    expect(fs.existsSync(attemptDir)).toBe(false)
    expect(fs.existsSync(path.dirname(attemptDir))).toBe(false)
  })
})

describe('cleanup of many attempt folders at once', () => {
  it('removes every attempt of a burst larger than one batch, keeps a run folder still in use and drops the emptied ones', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-clean-'))
    const state = path.join(dir, 'state')
    const runtime = createLocalRuntime({ stateDir: state })
    // Logs in the logs folder (every fourth attempt with a folder of config files, every fourth other one of the last
    // version: its log beside its folder), and one attempt of an older runtime.
    const handleOf = (run: string, step: string, i: number): RuntimeHandle => {
      const attemptDir = path.join(state, run, `${step}.1`)
      if (i === 0) {
        fs.mkdirSync(attemptDir, { recursive: true })
        for (const f of ['log.ndjson', 'exit.json']) fs.writeFileSync(path.join(attemptDir, f), '{}')
        return { runtime: 'local', id: `${run}/${step}/1`, data: data(attemptDir) }
      }
      const folder = i % 4 === 1
      if (folder) fs.mkdirSync(path.join(attemptDir, 'config'), { recursive: true })
      if (i % 4 === 3) {
        fs.mkdirSync(path.dirname(attemptDir), { recursive: true })
        fs.writeFileSync(besideLogOf(attemptDir), '{}\n')
        return { runtime: 'local', id: `${run}/${step}/1`, data: data(attemptDir, { logBeside: true, folder }) }
      }
      fs.writeFileSync(logFileOf(attemptDir), '{}\n')
      return { runtime: 'local', id: `${run}/${step}/1`, data: data(attemptDir, { logAt: 'logs', folder }) }
    }
    const ended = [...Array.from({ length: 40 }, (_, i) => handleOf('run1', `s${i}`, i)), ...Array.from({ length: 5 }, (_, i) => handleOf('run2', `s${i}`, i))]
    const running = handleOf('run2', 'still', 1)
    await Promise.all(ended.map((h) => runtime.cleanup(h)))
    for (const h of ended) {
      const attemptDir = h.data.attemptDir as string
      expect([attemptDir, logFileOf(attemptDir), besideLogOf(attemptDir)].filter((f) => fs.existsSync(f))).toEqual([])
    }
    expect(fs.existsSync(path.join(state, 'run1'))).toBe(false)
    expect(fs.readdirSync(path.join(state, 'run2'))).toEqual(['still.1'])
    expect(fs.readdirSync(path.join(state, '.logs'))).toEqual(['run2+still.1.ndjson'])
    await runtime.cleanup(running)
    expect(fs.existsSync(path.join(state, 'run2'))).toBe(false)
    expect(fs.readdirSync(path.join(state, '.logs'))).toEqual([])
  })
})
