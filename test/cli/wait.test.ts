// `--wait` (waitForRun) against a real control plane: on a terminal the step table is redrawn in place (cursor up,
// clear, draw), elsewhere each change is one plain line, a hold and its end included. The Io here is a buffer with
// a chosen isTty: what a terminal or a CI log would receive, byte for byte. Then the real CLI: every attempt of a
// retried step with why it ended, steps kept by `runtime retry` with the run they come from and their log.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Io } from '../../src/cli/io.js'
import { waitForRun } from '../../src/cli/verbs/wait.js'
import { doc, startTestServer, waitFor, workflow, type TestServer } from '../server/helpers.js'
import { runCli, type CliResult } from './helpers.js'

/**
 * A step that fails twice (exit 7) and succeeds the third time, counting its attempts in a file of
 * a volume, so with retry count 2 its run succeeds. No `$` in the script: nothing for interpolation.
 */
const FLAKY_SCRIPT = (marker: string): string =>
  `if [ -f /state/${marker}-2 ]; then echo third; exit 0; fi; ` +
  `if [ -f /state/${marker}-1 ]; then touch /state/${marker}-2; echo second; exit 7; fi; ` +
  `touch /state/${marker}-1; echo first; exit 7`

const volume = (name: string) => ({ name, version: 'v1', type: 'volume', volume: { size: '1Gi', accessMode: 'ReadWriteMany', type: 'temp' } })

function flakyWorkflow(name: string, vol: string): Record<string, unknown> {
  return {
    name, version: 'v2alpha', type: 'workflow',
    spec: {
      dag: [
        {
          name: 'flaky', retry: { count: 2, strategy: 'OnFailure' },
          spec: { use: { volumes: [{ id: vol, directory: '/state', readOnly: false }] }, stack: 'script', stackSpec: { interpreter: 'sh', script: FLAKY_SCRIPT(name) } },
        },
        { name: 'after', depends: ['flaky'], spec: { stack: 'script', stackSpec: { interpreter: 'sh', script: 'echo after' } } },
      ],
    },
  }
}

function bufferIo(isTty: boolean): Io & { text: () => string } {
  const parts: string[] = []
  return { isTty, out: (t) => void parts.push(t.endsWith('\n') ? t : `${t}\n`), err: () => {}, text: () => parts.join('') }
}

describe('waitForRun', () => {
  let s: TestServer
  beforeAll(async () => {
    s = await startTestServer()
  })
  afterAll(async () => {
    await s?.stop()
  })

  async function runOf(name: string): Promise<string> {
    const [run] = await waitFor(`a run of ${name}`, () => s.client.runs({ workspace: 'public', type: 'workflow', name }), (r) => r.length > 0)
    return run!.id
  }

  it('redraws the table in place on a terminal, ending with the final state', async () => {
    await s.client.apply('public', [doc(workflow('drawn', { first: 'sleep 0.3; echo one', second: 'echo two' }, {}), 'drawn.yaml')])
    const io = bufferIo(true)
    const detail = await waitForRun(s.client, await runOf('drawn'), io)
    expect(detail.run.state).toBe('succeeded')
    const out = io.text()
    // Every frame after the first moves up over the previous one and clears it.
    const frames = out.split(/\x1b\[\d+A\x1b\[J/)
    expect(frames.length).toBeGreaterThan(1)
    const last = frames.at(-1)!
    expect(last).toMatch(/^run \S+: succeeded \(2 succeeded, 0 failed, 0 skipped of 2 steps\)\n/)
    expect(last).toMatch(/STEP\s+\| STATE\s+\| ATTEMPT \| DURATION \| REASON/)
    expect(last).toMatch(/first\s+\| succeeded \| 1/)
    // The number of lines moved up is the height of the frame before.
    const ups = [...out.matchAll(/\x1b\[(\d+)A/g)].map((m) => Number(m[1]))
    expect(ups[0]).toBe(frames[0]!.trimEnd().split('\n').length)
  }, 30_000)

  it('writes one plain line per change elsewhere, telling a hold and its end', async () => {
    // `a` runs long enough to be held while it runs (the hold is made as soon as it is seen running).
    await s.client.apply('public', [doc(workflow('held', { a: 'sleep 4; echo a' }, {}), 'held.yaml')])
    const runId = await runOf('held')
    const ref = { workspace: 'public', type: 'workflow', name: 'held' }
    const io = bufferIo(false)
    const waiting = waitForRun(s.client, runId, io)
    await waitFor('a running', async () => io.text(), (t) => t.includes('a-1 running'))
    await s.client.suspend(ref, runId)
    await waitFor('the hold to be told', async () => io.text(), (t) => t.includes(`run ${runId} suspended`))
    await s.client.resume(ref, runId)
    const detail = await waiting
    expect(detail.run.state).toBe('succeeded')
    const lines = io.text().trimEnd().split('\n')
    expect(lines.indexOf(`run ${runId} suspended`)).toBeGreaterThan(lines.indexOf('a-1 running'))
    expect(lines.indexOf(`run ${runId} resumed`)).toBeGreaterThan(lines.indexOf(`run ${runId} suspended`))
    expect(lines.at(-1)).toMatch(/^a-1 succeeded \S+$/)
  }, 30_000)

  it('on a terminal shows a row per attempt of a retried step, each with why it ended', async () => {
    await s.client.apply('public', [doc(volume('flakes-tty')), doc(flakyWorkflow('flaky-tty', 'flakes-tty'))])
    const io = bufferIo(true)
    const detail = await waitForRun(s.client, await runOf('flaky-tty'), io)
    expect(detail.run.state).toBe('succeeded')
    const last = io.text().split(/\x1b\[\d+A\x1b\[J/).at(-1)!
    expect(last).toMatch(/^run \S+: succeeded \(2 succeeded, 0 failed, 0 skipped of 2 steps\)\n/)
    expect(last).toMatch(/flaky\s+\| failed\s+\| 1\s+\| \S+\s+\| exit code 7\n/)
    expect(last).toMatch(/flaky\s+\| failed\s+\| 2\s+\| \S+\s+\| exit code 7\n/)
    expect(last).toMatch(/flaky\s+\| succeeded \| 3\s+\| \S+/)
    expect(last).toMatch(/after\s+\| succeeded \| 1/)
  }, 30_000)

  it('on a terminal shows a step kept by runtime retry with the run it comes from, and counts a skip apart', async () => {
    const wf = workflow('kept-tty', { ok: 'echo ok', bad: 'if [ -f /state/kept-tty ]; then exit 0; fi; touch /state/kept-tty; exit 7', last: 'true' })
    const dag = (wf.spec as { dag: Record<string, unknown>[] }).dag
    dag[1]!.spec = { ...(dag[1]!.spec as object), use: { volumes: [{ id: 'flakes-tty', directory: '/state', readOnly: false }] } }
    dag[2]!.depends = ['bad']
    await s.client.apply('public', [doc(volume('flakes-tty')), doc(wf)])
    const firstRun = await runOf('kept-tty')
    const failed = await waitForRun(s.client, firstRun, bufferIo(true))
    expect(failed.progress).toBe('1 succeeded, 1 failed, 1 skipped of 3 steps')
    const retry = await s.client.retry({ workspace: 'public', type: 'workflow', name: 'kept-tty' })
    const io = bufferIo(true)
    expect((await waitForRun(s.client, retry.id, io)).run.state).toBe('succeeded')
    const last = io.text().split(/\x1b\[\d+A\x1b\[J/).at(-1)!
    expect(last).toMatch(/^run \S+: succeeded \(3 succeeded, 0 failed, 0 skipped of 3 steps\)\n/)
    expect(last).toMatch(new RegExp(`ok\\s+\\| succeeded \\| 1\\s+\\|\\s+\\| kept from ${firstRun}\\n`))
    expect(last).toMatch(/bad\s+\| succeeded \| 1\s+\| \S+\s+\|\s*\n/)
  }, 30_000)

  it('in a CI log tells every attempt of a retried step with why it ended, even one that ended between two looks', async () => {
    await s.client.apply('public', [doc(volume('flakes-ci')), doc(flakyWorkflow('flaky-ci', 'flakes-ci'))])
    const io = bufferIo(false)
    // The stream sends what changed since its last look: attempts that start and fail between two looks are told all the same.
    const detail = await waitForRun(s.client, await runOf('flaky-ci'), io)
    expect(detail.run.state).toBe('succeeded')
    const lines = io.text().trimEnd().split('\n')
    const ends = lines.filter((l) => /^flaky-\d (failed|succeeded)/.test(l))
    expect(ends).toHaveLength(3)
    expect(ends[0]).toMatch(/^flaky-1 failed \S+: exit code 7$/)
    expect(ends[1]).toMatch(/^flaky-2 failed \S+: exit code 7$/)
    expect(ends[2]).toMatch(/^flaky-3 succeeded \S+$/)
    expect(lines.at(-1)).toMatch(/^after-1 succeeded \S+$/)
  }, 30_000)
})

// The real CLI against a real control plane (CTL_SERVER): a run with a flaky step and a step that fails until it
// is retried, then `runtime retry --wait`, `runtime get` and `log` of a kept step.
describe('following a retried run through the CLI', () => {
  let s: TestServer
  let home: string
  let ctl: (args: string[]) => Promise<CliResult>
  beforeAll(async () => {
    s = await startTestServer()
    home = mkdtempSync(join(tmpdir(), 'ctl-follow-'))
    ctl = (args) => runCli(args, { env: { CTL_HOME: home, CTL_SERVER: s.plane.url, CTL_APIKEY: s.token } })
  })
  afterAll(async () => {
    await s?.stop()
    if (home) rmSync(home, { recursive: true, force: true })
  })

  const manifest = `
version: v1
name: gates
type: volume
volume: {size: 1Gi, accessMode: ReadWriteMany, type: temp}
---
version: v2alpha
name: gated
type: workflow
spec:
  dag:
    - name: prep
      spec:
        stack: script
        stackSpec: {interpreter: sh, script: "echo prep line from the first run"}
    - name: flaky
      retry: {count: 2, strategy: OnFailure}
      spec:
        use: {volumes: [{id: gates, directory: /state, readOnly: false}]}
        stack: script
        stackSpec: {interpreter: sh, script: "${FLAKY_SCRIPT('flaky')}"}
    - name: gate
      depends: [prep]
      spec:
        use: {volumes: [{id: gates, directory: /state, readOnly: false}]}
        stack: script
        stackSpec:
          interpreter: sh
          script: "if [ -f /state/gate ]; then echo gate open; exit 0; fi; touch /state/gate; echo gate shut; exit 7"
    - name: report
      depends: [gate]
      spec:
        stack: script
        stackSpec: {interpreter: sh, script: "echo report"}
`

  it('apply --wait tells every attempt and its end, counts the skip apart; retry --wait, runtime get and log show kept steps', async () => {
    const file = join(home, 'gated.yaml')
    writeFileSync(file, manifest)
    const first = await ctl(['resource', 'apply', '-f', file, '--wait'])
    expect(first.code, first.stderr).toBe(1)
    const runId = /waiting for run (\S+) of gated/.exec(first.stdout)![1]!
    expect(first.stdout).toMatch(/^flaky-1 failed \S+: exit code 7$/m)
    expect(first.stdout).toMatch(/^flaky-2 failed \S+: exit code 7$/m)
    expect(first.stdout).toMatch(/^flaky-3 succeeded \S+$/m)
    expect(first.stdout).toMatch(/^gate-1 failed \S+: exit code 7$/m)
    expect(first.stdout).toMatch(/^report skipped/m)
    expect(first.stdout).toMatch(new RegExp(`run ${runId} of gated failed in [\\d.]+s \\(2 succeeded, 1 failed, 1 skipped of 4 steps\\)`))

    const retry = await ctl(['resource', 'runtime', 'retry', '-n', 'gated', '--wait'])
    expect(retry.code, retry.stdout + retry.stderr).toBe(0)
    const retryId = /run (\S+) of gated started/.exec(retry.stdout)![1]!
    expect(retry.stdout).toContain(`prep succeeded: kept from ${runId}`)
    expect(retry.stdout).toContain(`flaky succeeded: kept from ${runId}`)
    expect(retry.stdout).toMatch(/^gate-1 succeeded \S+$/m)
    expect(retry.stdout).toMatch(/^report-1 succeeded \S+$/m)
    expect(retry.stdout).toContain(`run ${retryId} succeeded (4 succeeded, 0 failed, 0 skipped of 4 steps)`)

    // runtime get of the retry: kept steps say where from; of the first run: every attempt with its end.
    const got = await ctl(['resource', 'runtime', 'get', '-n', 'gated'])
    expect(got.code, got.stderr).toBe(0)
    expect(got.stdout).toContain('4 succeeded, 0 failed, 0 skipped of 4 steps')
    expect(got.stdout).toMatch(new RegExp(`prep-1\\s+\\| prep .*\\| succeeded \\| kept from ${runId}`))
    expect(got.stdout).toMatch(new RegExp(`flaky-1\\s+\\| flaky .*\\| succeeded \\| kept from ${runId}`))
    const before = await ctl(['resource', 'runtime', 'get', '-n', 'gated', '--run', runId])
    expect(before.code, before.stderr).toBe(0)
    expect(before.stdout).toContain('2 succeeded, 1 failed, 1 skipped of 4 steps')
    expect(before.stdout).toMatch(/flaky-1\s+\| flaky .*\| failed\s+\| exit code 7/)
    expect(before.stdout).toMatch(/flaky-2\s+\| flaky .*\| failed\s+\| exit code 7/)
    expect(before.stdout).toMatch(/flaky-3\s+\| flaky .*\| succeeded \|/)

    // The log of a kept step in the retry is the log of the attempt that ran it in the first run.
    const prepLog = await ctl(['resource', 'log', '-n', 'gated', '--container', 'prep'])
    expect(prepLog.code, prepLog.stderr).toBe(0)
    expect(prepLog.stdout).toContain(`kept from ${runId}`)
    expect(prepLog.stdout).toContain('prep line from the first run')
    const flakyLog = await ctl(['resource', 'log', '-n', 'gated', '--run', retryId, '--container', 'flaky'])
    expect(flakyLog.stdout).toContain('third')
    expect(flakyLog.stdout).not.toContain('first')
    const gateLog = await ctl(['resource', 'log', '-n', 'gated', '--container', 'gate'])
    expect(gateLog.stdout).toContain('gate open')
    expect(gateLog.stdout).not.toContain('gate shut')
  }, 90_000)
})
