// No step runs twice because of a restart: a new engine reattaches to what the old one started.
import { afterEach, describe, expect, it } from 'vitest'
import { createStoreLauncher } from '../../src/engine/index.js'
import { harness, waitFor, workflow, type Harness } from './support.js'

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

describe('restart', () => {
  it('a step started by engine A finishes once under engine B, with complete logs', async () => {
    h = await harness()
    await h.applyVolume('count')
    const script = 'echo run >> /data/count/starts; i=1; while [ $i -le 12 ]; do echo line-$i; i=$((i+1)); sleep 0.1; done'
    const r = await h.apply(workflow('long', [
      { name: 'long', script, volumes: ['count'] },
      { name: 'after', script: 'echo after', depends: ['long'] },
    ]))
    const step = await waitFor('some logs of the running step', async () => {
      const run = (await h!.store.listRuns({ resourceId: r.id }))[0]
      const s = run ? (await h!.store.listStepRuns(run.id)).find((x) => x.step === 'long') : undefined
      return s && s.state === 'running' && s.logSeq > 0 ? s : undefined
    })
    await h.engine.stop() // lets go without killing
    const still = await h.store.getStepRun(step.id)
    expect(still?.state).toBe('running')

    const b = h.newEngine()
    await b.start()
    await b.idle()
    const run = (await h.store.getRun(step.runId))!
    expect(run.state).toBe('succeeded')
    const attempts = await h.store.listStepRuns(run.id)
    expect(attempts.filter((a) => a.step === 'long').map((a) => [a.attempt, a.state])).toEqual([[1, 'succeeded']])
    const logs = await h.store.readLogs({ runId: run.id, step: 'long' })
    expect(logs.map((l) => l.text)).toEqual(Array.from({ length: 12 }, (_, i) => `line-${i + 1}`))
    expect(logs.map((l) => l.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1))
    const { readFileSync } = await import('node:fs')
    expect(readFileSync(`${h.volume('count')}/starts`, 'utf8')).toBe('run\n')
    expect(attempts.find((a) => a.step === 'after')?.state).toBe('succeeded')
  })

  it('an attempt marked running whose start never happened is Lost, and its retry policy decides', async () => {
    h = await harness({ start: false })
    const wf = workflow('crashed', [
      { name: 'once', script: 'true' },
      { name: 'retried', script: 'echo second try', retry: { count: 1, strategy: 'OnError' } },
    ])
    const { resource } = await h.store.applyResource({ workspace: 'public', type: 'workflow', name: 'crashed', version: 'v2alpha', manifest: wf, owner: 'alice' })
    await h.store.setResourceStatus(resource.id, 'active')
    const { run, steps } = await h.store.createRun({ resourceId: resource.id, revision: 1, trigger: 'apply', steps: ['once', 'retried'] })
    await h.store.updateRun(run.id, { state: 'running', startedAt: new Date().toISOString() })
    // As if the previous engine died between marking the attempts and runtime.start, longer ago than a launch may take.
    for (const s of steps) {
      await h.store.updateStepRun(s.id, { state: 'running', startedAt: new Date(Date.now() - 3_600_000).toISOString(), runtimeHandle: { launching: true, key: { runId: run.id, step: s.step, attempt: 1 } } })
    }
    await h.engine.start()
    await h.engine.idle()
    const attempts = await h.store.listStepRuns(run.id)
    expect(attempts.map((a) => [a.step, a.attempt, a.state, a.reason])).toEqual([
      ['once', 1, 'failed', 'Lost'],
      ['retried', 1, 'failed', 'Lost'],
      ['retried', 2, 'succeeded', 'Completed'],
    ])
    expect((await h.store.getRun(run.id))?.state).toBe('failed')
  })

  it('an attempt the runtime started before the crash, whose handle was never stored, is reattached (find), not Lost', async () => {
    h = await harness({ start: false })
    const wf = workflow('caught', [{ name: 'only', script: 'for i in 1 2 3; do echo line-$i; sleep 0.05; done' }])
    const { resource } = await h.store.applyResource({ workspace: 'public', type: 'workflow', name: 'caught', version: 'v2alpha', manifest: wf, owner: 'alice' })
    await h.store.setResourceStatus(resource.id, 'active')
    const { run, steps } = await h.store.createRun({ resourceId: resource.id, revision: 1, trigger: 'apply', steps: ['only'] })
    await h.store.updateRun(run.id, { state: 'running', startedAt: new Date().toISOString() })
    const key = { runId: run.id, step: 'only', attempt: 1 }
    await h.store.updateStepRun(steps[0]!.id, { state: 'running', startedAt: new Date().toISOString(), runtimeHandle: { launching: true, key } })
    // The previous engine got as far as runtime.start, then died before storing the handle.
    const launch = await createStoreLauncher({ store: h.store, dataDir: h.dir }).prepare(
      { run, resource, workflow: wf },
      wf.workflow.dag[0]!,
      1,
    )
    await h.runtime.start(launch)

    await h.engine.start()
    await h.engine.idle()
    const attempts = await h.store.listStepRuns(run.id)
    expect(attempts.map((a) => [a.attempt, a.state, a.reason])).toEqual([[1, 'succeeded', 'Completed']])
    expect(attempts[0]!.runtimeHandle).toMatchObject({ runtime: 'local', id: `${run.id}/only/1` })
    expect((await h.store.readLogs({ runId: run.id })).map((l) => l.text)).toEqual(['line-1', 'line-2', 'line-3'])
    expect((await h.store.getRun(run.id))?.state).toBe('succeeded')
  })

  it('a step of a run stopped just before the restart, gone when the new engine looks, ends cancelled, not Lost', async () => {
    h = await harness()
    const r = await h.apply(workflow('stopped', [{ name: 'long', script: 'echo started; sleep 30' }]))
    const step = await waitFor('the running step', async () => {
      const run = (await h!.store.listRuns({ resourceId: r.id }))[0]
      const s = run ? (await h!.store.listStepRuns(run.id)).find((x) => x.step === 'long') : undefined
      return s && s.state === 'running' && s.logSeq > 0 ? s : undefined
    })
    await h.engine.stop()
    // What engine A's stop did before it died: the run marked killed, the step killed and its traces removed
    // (as Kubernetes deletes a killed Pod), but the step's end never recorded.
    await h.store.updateRun(step.runId, { state: 'killed', finishedAt: new Date().toISOString() })
    const handle = (await h.store.getStepRun(step.id))!.runtimeHandle as Parameters<typeof h.runtime.kill>[0]
    await h.runtime.kill(handle, 'stopped')
    await h.runtime.cleanup(handle)

    const b = h.newEngine()
    await b.start()
    await b.idle()
    const after = await h.store.getStepRun(step.id)
    expect([after?.state, after?.reason]).toEqual(['cancelled', 'Killed'])
    expect((await h.store.getRun(step.runId))?.state).toBe('killed')
  })

  it('a resource left `creating` by a crash is reconciled on start, without a second run', async () => {
    h = await harness({ start: false })
    const wf = workflow('half-applied', [{ name: 'a', script: 'true' }])
    const { resource } = await h.store.applyResource({ workspace: 'public', type: 'workflow', name: 'half-applied', version: 'v2alpha', manifest: wf, owner: 'alice' })
    await h.engine.start()
    await h.engine.idle()
    expect((await h.store.getResourceById(resource.id))?.status).toBe('active')
    const runs = await h.store.listRuns({ resourceId: resource.id })
    expect(runs.map((x) => [x.trigger, x.state])).toEqual([['apply', 'succeeded']])
    // Another restart finds it active and leaves it alone.
    const b = h.newEngine()
    await b.start()
    await b.idle()
    expect(await h.store.listRuns({ resourceId: resource.id })).toHaveLength(1)
  })
})
