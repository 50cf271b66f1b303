// `ctl server start` after a `kill -9`: the old process may linger as a zombie (killed, not yet
// reaped by its parent) or its pid may belong to another process by now. Neither is a running
// control plane. A real child is killed with SIGKILL and deliberately left unreaped: its parent
// is a `sleep` that never waits for children.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlError } from '../../src/errors.js'
import { isPidAlive, processStartTime } from '../../src/liveness.js'
import { runForeground, serverStatus, type ServerInfoFile } from '../../src/controlplane/process.js'
import { waitFor } from './helpers.js'

const hasProc = (() => {
  try {
    readFileSync('/proc/self/stat')
    return true
  } catch {
    return false
  }
})()

let parent: ChildProcess
let zombie = 0
let zombieStart = ''
const dirs: string[] = []

function writeInfo(pid: number, procStart: string | undefined): string {
  const dataDir = mkdtempSync(join(tmpdir(), 'ctl-live-'))
  dirs.push(dataDir)
  const info: ServerInfoFile = { pid, port: 1, url: 'http://127.0.0.1:1', startedAt: new Date().toISOString() }
  if (procStart !== undefined) info.procStart = procStart
  writeFileSync(join(dataDir, 'server.json'), JSON.stringify(info), { mode: 0o600 })
  return dataDir
}

beforeAll(async () => {
  if (!hasProc) return
  // sh starts the future zombie, prints its pid, then becomes a sleep that never reaps it.
  parent = spawn('sh', ['-c', 'sleep 300 & echo $!; exec sleep 300'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    parent.stdout!.on('data', (b: Buffer) => {
      out += b.toString()
      if (out.includes('\n')) resolve(out.trim())
    })
    parent.on('error', reject)
  })
  zombie = Number(line)
  zombieStart = processStartTime(zombie)!
  expect(isPidAlive(zombie, zombieStart)).toBe(true)
  process.kill(zombie, 'SIGKILL')
  await waitFor('the killed child to become a zombie', async () => readFileSync(`/proc/${zombie}/stat`, 'utf8'), (s) => / Z /.test(s.slice(s.lastIndexOf(')'))))
})

afterAll(() => {
  // Killing the parent hands the zombie to init, which reaps it.
  if (parent?.pid) parent.kill('SIGKILL')
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

describe.skipIf(!hasProc)('liveness of a recorded server pid', () => {
  it('a zombie still answers kill(pid, 0) but is not alive', () => {
    expect(() => process.kill(zombie, 0)).not.toThrow()
    expect(isPidAlive(zombie)).toBe(false)
    expect(isPidAlive(zombie, zombieStart)).toBe(false)
  })

  it('a live process with another start time is not the recorded one; with its own it is', () => {
    const pid = parent.pid!
    expect(isPidAlive(pid)).toBe(true)
    expect(isPidAlive(pid, processStartTime(pid))).toBe(true)
    expect(isPidAlive(pid, zombieStart === processStartTime(pid) ? '0' : zombieStart)).toBe(false)
  })

  it('server start over a server.json naming a zombie starts, and so does one naming a reused pid', async () => {
    for (const dataDir of [writeInfo(zombie, zombieStart), writeInfo(parent.pid!, '1')]) {
      expect((await serverStatus(dataDir)).running).toBe(false)
      const server = await runForeground({ dataDir, port: 0 })
      expect((await serverStatus(dataDir)).running).toBe(true)
      await server.stop()
    }
  })

  it('a live process with the recorded start time is a control plane that already runs', async () => {
    const dataDir = writeInfo(parent.pid!, processStartTime(parent.pid!))
    const refused = await runForeground({ dataDir, port: 0 }).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(CtlError)
    expect(refused).toMatchObject({ code: 'E_CONFLICT' })
    expect((refused as CtlError).message).toContain('already runs')
  })
})
