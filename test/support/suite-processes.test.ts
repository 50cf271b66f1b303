// The global teardown's process finder against real processes: marked by environment, working
// directory, command line, or by descending from a marked one; an unmarked process (as of a
// concurrent run) is never reported, nor an excluded one and its children.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, realpathSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { SUITE_ENV, findSuiteProcesses, killAll, waitForSuiteProcesses, type SuiteMarker } from './suite-processes.js'

const root = realpathSync(mkdtempSync(join(tmpdir(), 'ctl-marker-')))
const marker: SuiteMarker = { id: randomBytes(6).toString('hex'), root }
const children: ChildProcess[] = []
const plainEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin' }

function start(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): number {
  const child = spawn(cmd, args, { stdio: 'ignore', env: opts.env ?? plainEnv, cwd: opts.cwd ?? '/' })
  children.push(child)
  return child.pid!
}

// This worker started them all: nothing is excluded (by default the caller and its direct children are).
const find = (pids: number[] = []) => findSuiteProcesses(marker, { pids, childrenOf: [] })

afterAll(() => {
  killAll(find())
  for (const c of children) c.kill('SIGKILL')
  rmSync(root, { recursive: true, force: true })
})

describe.skipIf(process.platform !== 'linux')('finding the processes a test run started', () => {
  it('finds marked processes and their children, and nothing else', async () => {
    const byEnv = start('sleep', ['300'], { env: { ...plainEnv, [SUITE_ENV]: marker.id } })
    const byCwd = start('sh', ['-c', 'sleep 301; true'], { cwd: root })
    const byCmdline = start('sh', ['-c', 'sleep 302; true', 'sh', join(root, 'runs')])
    const otherRun = start('sleep', ['303'], { env: { ...plainEnv, [SUITE_ENV]: 'another-run' } })
    const unmarked = start('sleep', ['304'])
    // Bounded wait until the shells have started their sleeps (the children found through their parent).
    const found = await waitUntil(() => find(), (ps) => ps.length >= 5)
    const pids = found.map((p) => p.pid)
    expect(pids).toEqual(expect.arrayContaining([byEnv, byCwd, byCmdline]))
    expect(pids).not.toContain(otherRun)
    expect(pids).not.toContain(unmarked)
    expect(pids).not.toContain(process.pid)
    // By default the caller and its direct children are left out (the runner and its workers carry the
    // marker), but not what those children started.
    expect(findSuiteProcesses(marker).map((p) => p.cmdline).sort()).toEqual(['sleep 301', 'sleep 302'])
    const sleeps = found.filter((p) => p.ppid === byCwd || p.ppid === byCmdline)
    expect(sleeps.map((p) => p.cmdline).sort()).toEqual(['sleep 301', 'sleep 302'])
    expect(found.find((p) => p.pid === byCmdline)!.cmdline).toContain(join(root, 'runs'))

    const without = find([byCwd]).map((p) => p.pid)
    expect(without).not.toContain(byCwd)
    expect(without).toContain(sleeps.find((s) => s.ppid === byCwd)!.pid)

    killAll(found)
    expect(await waitForSuiteProcesses(marker, 10_000, { pids: [], childrenOf: [] })).toEqual([])
    expect(() => process.kill(unmarked, 0)).not.toThrow()
  })
})

async function waitUntil<T>(probe: () => T, check: (v: T) => boolean, limitMs = 10_000): Promise<T> {
  const deadline = Date.now() + limitMs
  for (;;) {
    const v = probe()
    if (check(v) || Date.now() > deadline) return v
    await new Promise((r) => setTimeout(r, 50))
  }
}
