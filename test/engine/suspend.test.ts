// Suspend / resume: a held run starts no new step, its running steps go on and their ends are recorded;
// resume lets the DAG go on. Real store, real local runtime. Steps wait on a gate file the test opens,
// so "suspend while a step runs" never depends on timing.
import fs from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { CtlError } from '../../src/errors.js'
import type { ResourceRecord, RunRecord } from '../../src/store/types.js'
import { byStep, harness, waitFor, workflow, type Harness } from './support.js'

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

/** Waits (bounded, about 20 s) until /data/gate/<name> exists. */
const gated = (name: string, then = 'true') =>
  `i=0; while [ ! -f /data/gate/${name} ]; do i=$((i+1)); [ $i -gt 400 ] && exit 9; sleep 0.05; done; ${then}`

async function setUp(steps: Parameters<typeof workflow>[1], name = 'held'): Promise<{ r: ResourceRecord; open: (gate: string) => void }> {
  await h!.applyVolume('gate')
  const r = await h!.apply(workflow(name, steps.map((s) => ({ ...s, volumes: ['gate'] }))))
  return { r, open: (gate) => fs.writeFileSync(`${h!.volume('gate')}/${gate}`, '') }
}

async function runOf(resourceId: string): Promise<RunRecord> {
  return waitFor('the run', async () => (await h!.store.listRuns({ resourceId }))[0])
}

async function stepState(runId: string, step: string): Promise<string | undefined> {
  const attempts = byStep(await h!.store.listStepRuns(runId))[step] ?? []
  return attempts[attempts.length - 1]?.state
}

async function waitStep(runId: string, step: string, state: string): Promise<void> {
  await waitFor(`${step} ${state}`, async () => (await stepState(runId, step)) === state)
}

describe('suspend and resume', () => {
  it('a → b → c: suspended while a runs, a ends and is recorded, b does not start; resumed, the run succeeds', async () => {
    h = await harness()
    const { r, open } = await setUp([
      { name: 'a', script: gated('a', 'echo a done') },
      { name: 'b', script: 'echo b', depends: ['a'] },
      { name: 'c', script: 'echo c', depends: ['b'] },
    ])
    const run = await runOf(r.id)
    await waitStep(run.id, 'a', 'running')

    const held = await h.engine.suspendRuns(r, 'bob')
    expect(held.map((x) => [x.id, x.state])).toEqual([[run.id, 'suspended']])
    expect(await h.engine.runtimeSummary(r)).toBe('suspended')
    // Suspending again is a no-op answer, by id or not.
    expect((await h.engine.suspendRuns(r, 'bob')).map((x) => x.state)).toEqual(['suspended'])
    expect((await h.engine.suspendRuns(r, 'bob', run.id)).map((x) => x.state)).toEqual(['suspended'])
    // retry refuses a run that is not over.
    await expect(h.engine.retryRun(r, 'bob', run.id)).rejects.toMatchObject({ code: 'E_CONFLICT' })

    open('a')
    await waitStep(run.id, 'a', 'succeeded')
    // a's end was advanced (the scheduler is idle only once it has), and still nothing started.
    await h.engine.idle()
    expect(await stepState(run.id, 'b')).toBe('pending')
    expect(await stepState(run.id, 'c')).toBe('pending')
    expect((await h.store.getRun(run.id))?.state).toBe('suspended')
    expect((await h.engine.runDetail(run.id))?.progress).toBe('1 succeeded, 0 failed, 0 skipped of 3 steps')

    const resumed = await h.engine.resumeRuns(r, 'bob')
    expect(resumed.map((x) => [x.id, x.state])).toEqual([[run.id, 'running']])
    await h.engine.idle()
    const end = (await h.store.getRun(run.id))!
    expect(end.state).toBe('succeeded')
    const s = byStep(await h.store.listStepRuns(run.id))
    expect(s.a![0]!.finishedAt! <= s.b![0]!.startedAt!).toBe(true)
    expect([s.a, s.b, s.c].map((x) => x!.map((a) => a.state))).toEqual([['succeeded'], ['succeeded'], ['succeeded']])
    // Nothing left to resume.
    expect(await h.engine.resumeRuns(r, 'bob')).toEqual([])
  })

  it('a retry whose time comes does not start while suspended; a held run whose steps all end completes', async () => {
    h = await harness()
    // Fails its first attempt once the gate opens, succeeds the second.
    const flaky = gated('x', '[ -f /data/gate/second ] && exit 0; touch /data/gate/second; exit 1')
    const { r, open } = await setUp([{ name: 'x', script: flaky, retry: { count: 1, strategy: 'OnFailure' } }], 'flaky')
    const run = await runOf(r.id)
    await waitStep(run.id, 'x', 'running')
    await h.engine.suspendRuns(r, 'bob', run.id)
    open('x')
    // Attempt 2 exists (no backoff) but is not started while the run is held.
    await waitFor('attempt 2', async () => (await h!.store.listStepRuns(run.id)).length === 2)
    await h.engine.idle()
    expect((await h.store.listStepRuns(run.id)).map((a) => [a.attempt, a.state])).toEqual([[1, 'failed'], [2, 'pending']])
    expect((await h.store.getRun(run.id))?.state).toBe('suspended')
    await h.engine.resumeRuns(r, 'bob', run.id)
    await h.engine.idle()
    expect((await h.store.getRun(run.id))?.state).toBe('succeeded')

    // One step, held while it runs: once it ends there is nothing left, and the run completes as usual.
    const { r: single, open: openSingle } = await setUp([{ name: 'only', script: gated('only') }], 'single')
    const one = await runOf(single.id)
    await waitStep(one.id, 'only', 'running')
    await h.engine.suspendRuns(single, 'bob')
    openSingle('only')
    await h.engine.idle()
    expect((await h.store.getRun(one.id))?.state).toBe('succeeded')
    // An ended run can be neither suspended nor resumed by id.
    const suspendEnded = await h.engine.suspendRuns(single, 'bob', one.id).catch((e: CtlError) => e)
    expect(suspendEnded).toMatchObject({ code: 'E_CONFLICT', message: expect.stringContaining('only a pending or running run can be suspended') })
    await expect(h.engine.resumeRuns(single, 'bob', one.id)).rejects.toMatchObject({ code: 'E_CONFLICT' })
    expect(await h.engine.suspendRuns(single, 'bob')).toEqual([])
  })

  it('stop kills a suspended run: its running step killed, pending ones cancelled', async () => {
    h = await harness()
    const { r } = await setUp([
      { name: 'a', script: gated('never') },
      { name: 'b', script: 'true', depends: ['a'] },
    ])
    const run = await runOf(r.id)
    await waitStep(run.id, 'a', 'running')
    await h.engine.suspendRuns(r, 'bob')
    const stopped = await h.engine.stopRuns(r, 'bob')
    expect(stopped.map((x) => [x.id, x.state])).toEqual([[run.id, 'killed']])
    await h.engine.idle()
    expect(await stepState(run.id, 'a')).toBe('cancelled')
    expect(await stepState(run.id, 'b')).toBe('cancelled')
  })

  it('a suspended run stays suspended across a restart; its running step is reattached and recorded', async () => {
    h = await harness()
    const { r, open } = await setUp([
      { name: 'a', script: gated('a', 'echo a done') },
      { name: 'b', script: 'echo b', depends: ['a'] },
    ])
    const run = await runOf(r.id)
    await waitStep(run.id, 'a', 'running')
    await h.engine.suspendRuns(r, 'bob')
    await h.engine.stop() // lets go without killing

    const b = h.newEngine()
    await b.start()
    expect((await h.store.getRun(run.id))?.state).toBe('suspended')
    open('a')
    await waitStep(run.id, 'a', 'succeeded')
    await b.idle()
    expect(await stepState(run.id, 'b')).toBe('pending')
    expect((await h.store.getRun(run.id))?.state).toBe('suspended')

    expect((await b.resumeRuns(r, 'bob')).map((x) => x.state)).toEqual(['running'])
    await b.idle()
    expect((await h.store.getRun(run.id))?.state).toBe('succeeded')
    expect((await h.store.listStepRuns(run.id)).map((a) => [a.step, a.attempt, a.state])).toEqual([['a', 1, 'succeeded'], ['b', 1, 'succeeded']])
  })
})
