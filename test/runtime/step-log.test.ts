// The step host's log writer (step-log.mjs) on its own, on real files: the tail of a log past its cap lets go of
// the records it dropped whatever their size (a hostile step's huge lines must not pile up in the host's memory),
// and a short write of non-ASCII text (the real kernel's file size limit, in a child process under prlimit) is
// never taken for a whole one: the log is cut back to its last whole record and the step's failure is told.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, expect, it } from 'vitest'
import { StepLog } from '../../src/runtime/local/step-log.mjs'
import { tempDir } from './helpers.js'

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})

it("lets go of the records its tail dropped, keeping the last one even when it is over the tail's budget", () => {
  const log = new StepLog(64 * 1024, () => {})
  const line = (i: number) => `${String(i).padStart(8, '0')}${'x'.repeat(128 * 1024)}\n`
  for (let i = 0; i < 1500; i++) log.keep(line(i), 128 * 1024 + 9)
  const tail = log.tail!
  const held = tail.recs.reduce((n: number, r: string) => n + r.length, 0)
  expect(held).toBe(line(1499).length)
  expect(tail.text()).toBe(line(1499))
  expect(tail.droppedLines).toBe(1499)
})

it('takes a short write of non-ASCII text for what it is: the record is cut back, the failure told, the exit still fits', () => {
  const dir = tempDir()
  dirs.push(dir)
  const file = path.join(dir, 'main.0.ndjson')
  const handle = { id: 'x', data: {} }
  const record = JSON.stringify({ t: 'T', s: 'stdout', x: 'é'.repeat(100) }) + '\n'
  // Room for as many bytes as the record has UTF-16 units: fewer than its UTF-8 bytes.
  const limit = Buffer.byteLength(JSON.stringify({ h: handle }) + '\n') + record.length
  expect(Buffer.byteLength(record)).toBeGreaterThan(record.length)
  const source = fileURLToPath(new URL('../../src/runtime/local/step-log.mjs', import.meta.url))
  const script = `
    import fs from 'node:fs'
    import { StepLog } from ${JSON.stringify(source)}
    let told
    const log = new StepLog(1 << 30, (p) => (told = p))
    log.fd = fs.openSync(${JSON.stringify(file)}, 'ax+', 0o600)
    log.writeHandle(${JSON.stringify(handle)})
    const appended = log.append(${JSON.stringify(record)})
    const recorded = log.writeExit({ exitCode: 0, reason: 'Completed', finishedAt: 'now' })
    console.log(JSON.stringify({ appended, told, recorded }))`
  const child = spawnSync('prlimit', [`--fsize=${limit}`, process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' })
  expect(child.status, child.stderr).toBe(0)
  expect(JSON.parse(child.stdout)).toEqual({ appended: false, told: 'EFBIG: file too large', recorded: true })
  const lines = fs.readFileSync(file, 'utf8').split('\n')
  expect(lines.map((l) => (l ? Object.keys(JSON.parse(l))[0] : ''))).toEqual(['h', 'e', ''])
})
