// `--wait` (waitForRun) against a real control plane: on a terminal the step table is redrawn in place (cursor up,
// clear, draw), elsewhere each change is one plain line, a hold and its end included. The Io here is a buffer with
// a chosen isTty: what a terminal or a CI log would receive, byte for byte.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Io } from '../../src/cli/io.js'
import { waitForRun } from '../../src/cli/verbs/wait.js'
import { doc, startTestServer, waitFor, workflow, type TestServer } from '../server/helpers.js'

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
    expect(last).toMatch(/^run \S+: succeeded \(2\/2\)\n/)
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
    await waitFor('a running', async () => io.text(), (t) => t.includes('a running'))
    await s.client.suspend(ref, runId)
    await waitFor('the hold to be told', async () => io.text(), (t) => t.includes(`run ${runId} suspended`))
    await s.client.resume(ref, runId)
    const detail = await waiting
    expect(detail.run.state).toBe('succeeded')
    const lines = io.text().trimEnd().split('\n')
    expect(lines.indexOf(`run ${runId} suspended`)).toBeGreaterThan(lines.indexOf('a running'))
    expect(lines.indexOf(`run ${runId} resumed`)).toBeGreaterThan(lines.indexOf(`run ${runId} suspended`))
    expect(lines.at(-1)).toMatch(/^a succeeded \S+$/)
  }, 30_000)
})
