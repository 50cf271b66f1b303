// The console's event streams (SSE) through the real HTTP API: a run's detail as it changes until it has
// ended, a workflow's latest runs as they change, the bounds on open streams, and a session cookie
// opening a stream as EventSource does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunDetail, RunRecord } from '../../src/api/types.js'
import type { ServerEvent } from '../../src/client/sse.js'
import { CtlError } from '../../src/errors.js'
import { doc, rejection, startTestServer, waitFor, waitForRunEnd, workflow, type TestServer } from './helpers.js'

let t: TestServer

beforeAll(async () => {
  t = await startTestServer({ streamLimits: { perUser: 2, total: 100 } })
}, 60_000)

afterAll(async () => {
  await t?.stop()
})

/** Three steps in a chain, each a moment long. */
function chain(name: string): Record<string, unknown> {
  const wf = workflow(name, { a: 'sleep 0.3', b: 'sleep 0.3', c: 'sleep 0.3' })
  const dag = (wf.spec as { dag: Record<string, unknown>[] }).dag
  dag[1]!.depends = ['a']
  dag[2]!.depends = ['b']
  return wf
}

async function collect(items: AsyncIterable<ServerEvent>): Promise<ServerEvent[]> {
  const out: ServerEvent[] = []
  for await (const e of items) out.push(e)
  return out
}

describe('run events', () => {
  it('sends the run detail at once and on every change, then `end` once the run has ended', async () => {
    const applied = await t.client.apply('public', [doc(chain('sse-chain'))])
    const runId = applied.results[0]!.runId!
    const events = await collect(t.client.events(`/api/v1/runs/${runId}/events`))
    const runs = events.filter((e) => e.event === 'run').map((e) => e.data as RunDetail)
    expect(events.at(-1)).toEqual({ event: 'end', data: { state: 'succeeded' } })
    expect(events.slice(0, -1).every((e) => e.event === 'run')).toBe(true)
    // Opened while the run was going: it changed at least once while watched, and each event differs from the one before.
    expect(runs.length).toBeGreaterThan(1)
    for (let i = 1; i < runs.length; i++) expect(JSON.stringify(runs[i])).not.toBe(JSON.stringify(runs[i - 1]))
    const last = runs.at(-1)!
    expect(last.run.state).toBe('succeeded')
    // The same shape the detail route answers.
    expect(last).toEqual(await t.client.run(runId))
    expect(new Set(last.steps.map((s) => s.state))).toEqual(new Set(['succeeded']))
  }, 60_000)

  it('an ended run: one detail, then end; an unknown run: 404', async () => {
    const applied = await t.client.apply('public', [doc(workflow('sse-done', { main: 'true' }))])
    const runId = applied.results[0]!.runId!
    await waitForRunEnd(t.client, runId)
    const events = await collect(t.client.events(`/api/v1/runs/${runId}/events`))
    expect(events.map((e) => e.event)).toEqual(['run', 'end'])
    expect((await rejection(collect(t.client.events('/api/v1/runs/nope/events')))).code).toBe('E_NOT_FOUND')
  })
})

describe('workflow events', () => {
  it('sends the latest runs at once and again when a run starts or changes', async () => {
    const applied = await t.client.apply('public', [doc(workflow('sse-wf', { main: 'true' }))])
    const firstRun = applied.results[0]!.runId!
    await waitForRunEnd(t.client, firstRun)
    const stop = new AbortController()
    const seen: RunRecord[][] = []
    const stream = t.client.events('/api/v1/workspaces/public/resources/workflow/sse-wf/events?limit=5', stop.signal)
    let started: string | undefined
    for await (const e of stream) {
      expect(e.event).toBe('runs')
      const runs = (e.data as { runs: RunRecord[] }).runs
      seen.push(runs)
      if (seen.length === 1) {
        expect(runs.map((r) => r.id)).toEqual([firstRun])
        started = (await t.client.runNow({ workspace: 'public', type: 'workflow', name: 'sse-wf' })).id
      }
      if (started && runs[0]?.id === started && runs[0].state === 'succeeded') break
    }
    stop.abort()
    expect(seen.length).toBeGreaterThan(1)
    expect(seen.at(-1)!.map((r) => r.id)).toEqual([started, firstRun])
  }, 60_000)

  it('bad input: a type without runs, a limit out of bounds, an unknown workflow', async () => {
    await t.client.apply('public', [doc({ name: 'sse-sec', version: 'v1', type: 'secret', secret: { type: 'key-value', acl: 'r', data: { k: 'v' } } })])
    const open = (path: string) => rejection(collect(t.client.events(path)))
    expect((await open('/api/v1/workspaces/public/resources/secret/sse-sec/events')).code).toBe('E_USAGE')
    expect((await open('/api/v1/workspaces/public/resources/workflow/sse-wf/events?limit=101')).code).toBe('E_USAGE')
    expect((await open('/api/v1/workspaces/public/resources/workflow/nope/events')).code).toBe('E_NOT_FOUND')
  })
})

describe('bounds and sessions', () => {
  it('at most N open streams per user (429 beyond); a closed stream gives its slot back', async () => {
    await t.client.apply('public', [doc(workflow('sse-bound', { main: 'true' }))])
    const path = '/api/v1/workspaces/public/resources/workflow/sse-bound/events'
    const holders = [new AbortController(), new AbortController()]
    const iters = holders.map((h) => t.client.events(path, h.signal)[Symbol.asyncIterator]())
    for (const it of iters) expect((await it.next()).value?.event).toBe('runs')
    const third = await rejection(collect(t.client.events(path)))
    expect(third.code).toBe('E_RATE_LIMITED')
    expect(third.message).toMatch(/at most 2/)
    holders[0]!.abort()
    await iters[0]!.return?.(undefined)
    // The server sees the close a moment later: bounded retries, not a timing assertion.
    const again = new AbortController()
    const first = await waitFor('a slot to come back', async () => {
      try {
        const it = t.client.events(path, again.signal)[Symbol.asyncIterator]()
        return (await it.next()).value as ServerEvent | undefined
      } catch (err) {
        if (err instanceof CtlError && err.code === 'E_RATE_LIMITED') return undefined
        throw err
      }
    }, (v) => v !== undefined)
    expect(first?.event).toBe('runs')
    again.abort()
    holders[1]!.abort()
    await iters[1]!.return?.(undefined)
  }, 60_000)

  it('a session cookie opens a stream (EventSource sends no headers of its own)', async () => {
    const signIn = await fetch(`${t.plane.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: t.token }) })
    const cookie = /ctl_session=[^;]*/.exec(signIn.headers.get('set-cookie') ?? '')![0]
    const applied = await t.client.apply('public', [doc(workflow('sse-cookie', { main: 'true' }))])
    const runId = applied.results[0]!.runId!
    await waitForRunEnd(t.client, runId)
    const res = await fetch(`${t.plane.url}/api/v1/runs/${runId}/events`, { headers: { cookie, accept: 'text/event-stream' } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const text = await res.text()
    expect(text).toMatch(/^event: run\ndata: \{.*\}\n\nevent: end\ndata: \{"state":"succeeded"\}\n\n$/s)
  })
})
