// ctl-spawner and Node's spawn must start the same steps the same way (see spawner.test.ts), also at the
// edges. A step whose request is beyond ctl-spawner's bounds (more than 256 fds of data, 65536 arguments or
// environment entries, a 64 MiB request) starts as Node's spawn starts it, and never ends the spawner: that
// would report every step running beside it Lost (a workspace member's ConfigMap with 300 keys would end
// other members' steps). Real processes and the real binary.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { spawnerPath } from '../../src/runtime/local/host-start.js'
import { spawnChild, useSpawner, type ChildOptions } from '../../src/runtime/local/spawn-client.mjs'

const built = spawnerPath()
afterAll(() => useSpawner(''))
const ways = built ? ([['spawner', built], ['node', '']] as const) : ([['node', '']] as const)

/** Runs one child to its end: stdout and how it ended ('lost' when its spawner died under it). */
function run(o: Partial<ChildOptions> & { args: string[] }): Promise<{ out: string; code: number | null; lost?: string; error?: string }> {
  const child = spawnChild({ command: 'sh', env: { PATH: '/usr/bin:/bin' }, cwd: '/', info: false, fds: [], ...o })
  return new Promise((resolve) => {
    let out = ''
    let code: number | null = null
    child.on('error', (e: Error) => resolve({ out, code, error: e.message }))
    child.on('lost', (lost: string) => resolve({ out, code, lost }))
    child.on('spawn', () => child.stdout!.on('data', (d) => (out += d)))
    child.on('exit', (c: number | null) => (code = c))
    child.on('close', () => resolve({ out, code }))
  })
}

describe.each(ways)('a step beyond the spawner bounds, started by %s', (_name, bin) => {
  it('300 fds of data: started, and the step beside it is not lost', async () => {
    useSpawner(bin)
    const beside = run({ args: ['-c', 'sleep 0.3; echo beside'] })
    await new Promise((res) => setTimeout(res, 50)) // it runs before the large request goes out
    const fds = Array.from({ length: 300 }, (_, i) => `file ${i}`)
    const many = await run({ command: 'bash', args: ['-c', 'cat <&4; echo; cat <&303'], info: true, fds }) // bash reads fds over 9
    expect(many).toEqual({ out: 'file 0\nfile 299', code: 0 })
    expect(await beside).toEqual({ out: 'beside\n', code: 0 })
  })

  it('70,000 arguments: started, and the step beside it is not lost', async () => {
    useSpawner(bin)
    const beside = run({ args: ['-c', 'sleep 0.3; echo beside'] })
    await new Promise((res) => setTimeout(res, 50))
    const many = await run({ args: ['-c', 'echo $#', 'sh', ...Array.from({ length: 70_000 }, () => 'a')] })
    expect(many).toEqual({ out: '70000\n', code: 0 })
    expect(await beside).toEqual({ out: 'beside\n', code: 0 })
  })

  it('fds data over 64 MiB in all: started, as Node starts it', async () => {
    useSpawner(bin)
    const big = Buffer.alloc(33 << 20, 'z')
    const r = await run({ args: ['-c', 'wc -c <&4; wc -c <&5'], info: true, fds: [big, big] })
    expect(r).toEqual({ out: `${big.length}\n${big.length}\n`, code: 0 })
  })
})

// A host out of fds as it starts a step: with Node's spawn that step fails with EMFILE (it cannot make the step's
// pipes), and the step beside it runs on. Through the spawner the host holds no fd of its own for a step (the
// spawner reads the step's pipes and passes their bytes on), so the step runs. Run in a Node of its own under a
// low fd limit.
const HOST_SCRIPT = `
import fs from 'node:fs'
const [client, bin] = process.argv.slice(1)
const { spawnChild, useSpawner } = await import(client)
useSpawner(bin)
const run = (o) => new Promise((resolve) => {
  const child = spawnChild({ command: 'sh', env: { PATH: '/usr/bin:/bin' }, cwd: '/', info: false, fds: [], ...o })
  let out = ''
  let code = null
  child.on('error', (e) => resolve({ error: e.message }))
  child.on('lost', () => resolve({ lost: true }))
  child.on('spawn', () => { o.onSpawn?.(); child.stdout.on('data', (d) => (out += d)) })
  child.on('exit', (c) => (code = c))
  child.on('close', () => resolve({ out, code }))
})
let up
const started = new Promise((r) => (up = r))
const beside = run({ args: ['-c', 'sleep 0.3; echo beside'], onSpawn: () => up() })
await started
const held = []
try { for (;;) held.push(fs.openSync('/dev/null', 'r')) } catch {}
fs.closeSync(held.pop()) // room for one of the next step's pipes, not both
const tight = await run({ args: ['-c', 'echo tight'] })
for (const fd of held) fs.closeSync(fd)
console.log(JSON.stringify({ tight, beside: await beside }))
process.exit(0)
`
describe.each(ways)('a host out of fds, steps started by %s', (_name, bin) => {
  it('fails at most the step it cannot follow, and only that one', () => {
    const client = fileURLToPath(new URL('../../src/runtime/local/spawn-client.mjs', import.meta.url))
    const out = execFileSync('prlimit', ['--nofile=64:64', '--', process.execPath, '--input-type=module', '-e', HOST_SCRIPT, client, bin], { encoding: 'utf8' })
    const tight = bin ? { out: 'tight\n', code: 0 } : { error: 'spawn sh EMFILE' }
    expect(JSON.parse(out)).toEqual({ tight, beside: { out: 'beside\n', code: 0 } })
  })
})

describe.each(ways)('a file without a #! line, started by %s', (_name, bin) => {
  it('runs with /bin/sh, as execvp runs it, by path and through PATH', async () => {
    useSpawner(bin)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-spawner-'))
    try {
      fs.writeFileSync(path.join(dir, 'no-shebang'), 'echo "$0 $*"\n', { mode: 0o755 })
      const byPath = await run({ command: path.join(dir, 'no-shebang'), args: ['a', 'b c'] })
      expect(byPath).toEqual({ out: `${path.join(dir, 'no-shebang')} a b c\n`, code: 0 })
      const found = await run({ command: 'no-shebang', args: ['x'], env: { PATH: `/nonexistent:${dir}` } })
      expect(found).toEqual({ out: `${path.join(dir, 'no-shebang')} x\n`, code: 0 })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe.runIf(built)('ctl-spawner memory', () => {
  it('gives back the memory of a large request once it is done', async () => {
    useSpawner(built)
    const big = Buffer.alloc(40 << 20, 'x')
    expect(await run({ args: ['-c', 'wc -c <&4'], info: true, fds: [big] })).toEqual({ out: `${big.length}\n`, code: 0 })
    const kids = fs.readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(' ').map(Number)
    const spawners = kids.filter((k) => fs.readFileSync(`/proc/${k}/comm`, 'utf8').trim() === 'ctl-spawner')
    expect(spawners.length).toBeGreaterThan(0)
    // It held the 64 MiB buffer it read the request into.
    for (const pid of spawners) expect(Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1])).toBeLessThan(16 * 1024)
  })
})
