import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlError } from '../../src/errors.js'
import type { LogLineRecord } from '../../src/api/types.js'
import { doc, startTestServer, waitFor, waitForRunEnd, workflow, type TestServer } from './helpers.js'

let t: TestServer

beforeAll(async () => {
  t = await startTestServer()
})
afterAll(async () => {
  await t?.stop()
})

const ref = (name: string) => ({ workspace: 'public', type: 'workflow', name })

async function firstRun(name: string): Promise<string> {
  const runs = await waitFor(`a run of ${name}`, () => t.client.runs(ref(name)), (r) => r.length > 0)
  return runs[runs.length - 1]!.id
}

describe('runs through the engine', () => {
  it('applying a workflow runs it; runNow adds a run; run detail has steps and progress', async () => {
    await t.client.apply('public', [doc(workflow('hello', { greet: 'echo hello from ctl' }))])
    const applyRun = await firstRun('hello')
    const done = await waitForRunEnd(t.client, applyRun)
    expect(done.run).toMatchObject({ state: 'succeeded', trigger: 'apply' })
    expect(done.progress).toBe('1 succeeded, 0 failed, 0 skipped of 1 step')
    expect(done.steps.map((s) => s.step)).toEqual(['greet'])

    const manual = await t.client.runNow(ref('hello'))
    expect(manual.trigger).toBe('manual')
    expect((await waitForRunEnd(t.client, manual.id)).run.state).toBe('succeeded')
    const runs = await t.client.runs(ref('hello'), { limit: 10 })
    expect(runs.map((r) => r.id)).toEqual(expect.arrayContaining([applyRun, manual.id]))
    const rows = await t.client.list({ workspace: 'public', type: 'workflow', name: 'hello' })
    expect(rows[0]!.runtime).toBe('succeeded')
  })

  it('stop kills a running run', async () => {
    await t.client.apply('public', [doc(workflow('sleeper', { nap: 'echo started; sleep 60' }))])
    const runId = await firstRun('sleeper')
    await waitFor('the step to run', () => t.client.run(runId), (d) => d.steps.some((s) => s.state === 'running'))
    const stopped = await t.client.stop(ref('sleeper'))
    expect(stopped.map((r) => r.id)).toContain(runId)
    const end = await waitForRunEnd(t.client, runId)
    expect(end.run.state).toBe('killed')
  })

  it('retry reruns a failed run', async () => {
    await t.client.apply('public', [doc(workflow('flaky', { first: 'echo ok', second: 'echo failing; exit 3' }))])
    const runId = await firstRun('flaky')
    expect((await waitForRunEnd(t.client, runId)).run.state).toBe('failed')
    const retry = await t.client.retry(ref('flaky'), runId)
    expect(retry).toMatchObject({ trigger: 'retry', retryOf: runId })
    const end = await waitForRunEnd(t.client, retry.id)
    expect(end.run.state).toBe('failed')
  })

  it('answers 404 for unknown runs and 400 for runs of non-workflows', async () => {
    const missing = await t.client.run('r-does-not-exist').catch((e: CtlError) => e)
    expect((missing as CtlError).code).toBe('E_NOT_FOUND')
    await t.client.apply('public', [doc({ name: 'vol', version: 'v1', type: 'volume', volume: { size: '1Gi', accessMode: 'ReadWriteOnce', type: 'temp' } })])
    const notRunnable = await t.client.runNow({ workspace: 'public', type: 'volume', name: 'vol' }).catch((e: CtlError) => e)
    expect((notRunnable as CtlError).code).toBe('E_USAGE')
  })
})

describe('logs', () => {
  let runId: string
  beforeAll(async () => {
    await t.client.apply('public', [doc(workflow('chatty', { count: 'i=1; while [ $i -le 20000 ]; do echo "line $i"; i=$((i+1)); done', quiet: 'echo one; echo two >&2' }))])
    runId = await firstRun('chatty')
    expect((await waitForRunEnd(t.client, runId)).run.state).toBe('succeeded')
  })

  it('reads every line of a step, in order', async () => {
    const lines = await t.client.logPage(runId, { step: 'count' })
    expect(lines).toHaveLength(20000)
    expect(lines[0]).toMatchObject({ runId, step: 'count', attempt: 1, seq: 1, stream: 'stdout', text: 'line 1' })
    expect(lines[19999]!.text).toBe('line 20000')
    expect(lines.every((l, i) => l.seq === i + 1)).toBe(true)
  })

  it('pages with afterSeq and tail, and reads all steps without a step name', async () => {
    const after = await t.client.logPage(runId, { step: 'count', afterSeq: 19990 })
    expect(after.map((l) => l.text)).toEqual(Array.from({ length: 10 }, (_, i) => `line ${19991 + i}`))
    const tail = await t.client.logPage(runId, { step: 'count', tail: 3 })
    expect(tail.map((l) => l.seq)).toEqual([19998, 19999, 20000])
    const all = await t.client.logPage(runId)
    const quiet = all.filter((l) => l.step === 'quiet')
    expect(quiet.map((l) => [l.stream, l.text])).toEqual(expect.arrayContaining([['stdout', 'one'], ['stderr', 'two']]))
    expect(all.filter((l) => l.step === 'count')).toHaveLength(20000)
  })

  it('names the steps when asked for one that does not exist', async () => {
    const err = await t.client.logPage(runId, { step: 'nope' }).catch((e: CtlError) => e)
    expect((err as CtlError).code).toBe('E_NOT_FOUND')
    expect((err as CtlError).message).toContain('count')
  })

  it('follows a running step until it ends, with every line once', async () => {
    await t.client.apply('public', [doc(workflow('ticker', { tick: 'for i in 1 2 3 4 5; do echo "tick $i"; sleep 0.2; done' }))])
    const id = await firstRun('ticker')
    const seen: LogLineRecord[] = []
    for await (const batch of t.client.logs(id, { step: 'tick', follow: true })) seen.push(...batch)
    expect(seen.map((l) => l.text)).toEqual(['tick 1', 'tick 2', 'tick 3', 'tick 4', 'tick 5'])
    const detail = await t.client.run(id)
    expect(detail.steps[0]!.state).toBe('succeeded')
  })

  it('follows a whole run (no step named) until the run ends', async () => {
    await t.client.apply('public', [doc(workflow('two-steps', { a: 'echo a1; sleep 0.3; echo a2', b: 'echo b1' }))])
    const id = await firstRun('two-steps')
    const seen: LogLineRecord[] = []
    for await (const batch of t.client.logs(id, { follow: true })) seen.push(...batch)
    expect(seen.map((l) => `${l.step}:${l.text}`).sort()).toEqual(['a:a1', 'a:a2', 'b:b1'])
    expect(['succeeded', 'failed']).toContain((await t.client.run(id)).run.state)
  })

  it('a finished run followed from a tail just returns the tail', async () => {
    const seen: LogLineRecord[] = []
    for await (const batch of t.client.logs(runId, { step: 'count', tail: 2, follow: true })) seen.push(...batch)
    expect(seen.map((l) => l.seq)).toEqual([19999, 20000])
  })
})
