// GET /api/v1/runs/:id/watch through the real server: the run's detail now and at each change, one NDJSON
// line each, ending with the final state; what --wait follows instead of asking again and again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunDetail } from '../../src/api/types.js'
import { detailText } from '../../src/http/routes/watch-lines.js'
import { doc, rejection, startTestServer, workflow, type TestServer } from './helpers.js'

let t: TestServer

beforeAll(async () => {
  t = await startTestServer()
})
afterAll(async () => {
  await t?.stop()
})

describe('watching a run', () => {
  it('streams each change of the run once, ending with its final state; apply names the run to watch', async () => {
    const applied = await t.client.apply('public', [doc(workflow('watched', { first: 'sleep 1; echo one', second: 'echo two' }, {}))])
    const runId = applied.results[0]!.runId!
    expect(runId).toMatch(/^r-/)
    // Held before the watch starts, so the stream has at least two states to tell: suspended, then the end.
    const ref = { workspace: 'public', type: 'workflow', name: 'watched' }
    await t.client.suspend(ref, runId)
    const seen: RunDetail[] = []
    for await (const detail of t.client.watchRun(runId)) {
      seen.push(detail)
      if (seen.length === 1) {
        expect(detail.run.state).toBe('suspended')
        await t.client.resume(ref, runId)
      }
    }
    expect(seen.every((d) => d.run.id === runId)).toBe(true)
    expect(seen.at(-1)!.run.state).toBe('succeeded')
    expect(seen.at(-1)!.progress).toBe('2 succeeded, 0 failed, 0 skipped of 2 steps')
    expect(seen.slice(0, -1).every((d) => d.run.state !== 'succeeded')).toBe(true)
    // No two lines alike: a line is news.
    const lines = seen.map((d) => JSON.stringify(d))
    expect(new Set(lines).size).toBe(lines.length)
    // An ended run: one line, then the stream ends.
    const again: RunDetail[] = []
    for await (const detail of t.client.watchRun(runId)) again.push(detail)
    expect(again.map((d) => d.run.state)).toEqual(['succeeded'])
  }, 30_000)

  it('answers 404 for a run that does not exist', async () => {
    const e = await rejection((async () => {
      for await (const _ of t.client.watchRun('r-nope')) void _
    })())
    expect(e.code).toBe('E_NOT_FOUND')
  })

  it('writes each detail as JSON.stringify does, rows remembered by object and never stale', async () => {
    const { runId } = (await t.client.apply('public', [doc(workflow('written', { only: 'echo hi' }, {}))])).results[0]!
    let detail: RunDetail | undefined
    for await (const d of t.client.watchRun(runId!)) detail = d
    const rows = new WeakMap<object, string>()
    const odd = { ...detail!, dagStatus: undefined, live: { [detail!.steps[0]!.id]: { phase: 'Running', message: 'a "quoted" \n line' } } } as RunDetail
    expect(detailText(odd, rows)).toBe(JSON.stringify(odd))
    // The same rows again: their remembered text; a changed row is a new object, written anew.
    expect(detailText(odd, rows)).toBe(JSON.stringify(odd))
    const changed = { ...odd, steps: odd.steps.map((s) => ({ ...s, message: 'changed' })) }
    expect(detailText(changed, rows)).toBe(JSON.stringify(changed))
  }, 30_000)
})

