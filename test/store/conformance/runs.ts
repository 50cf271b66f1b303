// RunStore: runs, step attempts (compare-and-set), fanned-out instances, outputs.
import { describe, expect, it } from 'vitest'
import { seedRun, type StoreHarness } from './harness.js'

export function runContract(h: StoreHarness): void {
  describe('runs and step runs', () => {
    it('creates a run with attempt 1 of every step, pending', async () => {
      const store = await h.store()
      const { resource, run, steps } = await seedRun(store, ['extract', 'load'])
      expect(run).toMatchObject({ resourceId: resource.id, workspace: 'public', resourceName: 'wf', revision: 1, trigger: 'apply', state: 'pending' })
      expect(run.id).toMatch(/^r-/)
      expect(run.startedAt).toBeUndefined()
      expect(steps.map((s) => [s.step, s.attempt, s.state, s.logOffset, s.logSeq])).toEqual([
        ['extract', 1, 'pending', 0, 0],
        ['load', 1, 'pending', 0, 0],
      ])
      expect(await store.getRun(run.id)).toEqual(run)
      expect(await store.getRun('r-missing')).toBeUndefined()
    })

    it('keeps a run\'s params as given (typed JSON), and none when empty', async () => {
      const store = await h.store()
      const { resource, run: plain } = await seedRun(store)
      expect(plain.params).toBeUndefined()
      const params = { version: '1.2.3', replicas: 3, ratio: 0.5, dry: false, regions: ['eu', 'us'], cfg: { a: { b: null } }, token: 's3cr3t' }
      const { run } = await store.createRun({ resourceId: resource.id, revision: 1, trigger: 'manual', params, steps: ['a'] })
      expect(run.params).toEqual(params)
      expect((await store.getRun(run.id))!.params).toEqual(params)
      expect((await store.listRuns({ resourceId: resource.id }))[0]!.params).toEqual(params)
      expect((await store.listLatestRuns([resource.id]))[0]!.params).toEqual(params)
      const empty = await store.createRun({ resourceId: resource.id, revision: 1, trigger: 'manual', params: {}, steps: ['a'] })
      expect(empty.run.params).toBeUndefined()
    })

    it('keeps a run\'s trace id, and none when not given; refuses one that is not 32 hex digits', async () => {
      const store = await h.store()
      const { resource, run: plain } = await seedRun(store)
      expect(plain.traceId).toBeUndefined()
      expect('traceId' in (await store.getRun(plain.id))!).toBe(false)
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
      const { run } = await store.createRun({ resourceId: resource.id, revision: 1, trigger: 'manual', traceId, steps: ['a'] })
      expect(run.traceId).toBe(traceId)
      expect((await store.getRun(run.id))!.traceId).toBe(traceId)
      expect((await store.listRuns({ resourceId: resource.id }))[0]!.traceId).toBe(traceId)
      expect((await store.listLatestRuns([resource.id]))[0]!.traceId).toBe(traceId)
      expect(await store.updateRun(run.id, { state: 'succeeded' }, ['pending'])).toBe(true)
      expect((await store.getRun(run.id))!.traceId).toBe(traceId)
      for (const bad of ['4BF92F3577B34DA6A3CE929D0E0E4736', '0'.repeat(32), 'abc', `${traceId}00`]) {
        await expect(store.createRun({ resourceId: resource.id, revision: 1, trigger: 'manual', traceId: bad, steps: [] })).rejects.toMatchObject({ code: 'E_USAGE' })
      }
    })

    it('refuses a run of a missing revision or with duplicate steps', async () => {
      const store = await h.store()
      const { resource } = await seedRun(store)
      await expect(store.createRun({ resourceId: resource.id, revision: 9, trigger: 'manual', steps: [] })).rejects.toMatchObject({ code: 'E_NOT_FOUND' })
      await expect(store.createRun({ resourceId: 'res-missing', revision: 1, trigger: 'manual', steps: [] })).rejects.toMatchObject({ code: 'E_NOT_FOUND' })
      await expect(store.createRun({ resourceId: resource.id, revision: 1, trigger: 'manual', steps: ['a', 'a'] })).rejects.toMatchObject({
        code: 'E_DUPLICATE_STEP',
      })
    })

    it('keeps scheduling facts and lists newest first with filters', async () => {
      const store = await h.store()
      const { resource, run: first } = await seedRun(store)
      const second = await store.createRun({
        resourceId: resource.id, revision: 1, trigger: 'schedule', scheduledAt: '2024-01-01T00:00:00.000Z', lateBySeconds: 1.5, steps: ['a'],
      })
      const third = await store.createRun({ resourceId: resource.id, revision: 1, trigger: 'retry', retryOf: first.id, steps: ['a'] })
      const hook = await store.createRun({ resourceId: resource.id, revision: 1, trigger: 'webhook:deploy', steps: [] })
      expect(second.run).toMatchObject({ scheduledAt: '2024-01-01T00:00:00.000Z', lateBySeconds: 1.5 })
      expect(third.run.retryOf).toBe(first.id)
      expect(hook.run.trigger).toBe('webhook:deploy')
      const ids = [first.id, second.run.id, third.run.id, hook.run.id]
      expect([...ids].sort()).toEqual(ids) // ids sort by creation time

      expect((await store.listRuns({})).map((r) => r.id)).toEqual([...ids].reverse())
      expect((await store.listRuns({ resourceId: resource.id, limit: 2 })).map((r) => r.id)).toEqual([hook.run.id, third.run.id])
      expect(await store.listRuns({ resourceId: 'res-other' })).toEqual([])
      await store.updateRun(second.run.id, { state: 'running' })
      expect((await store.listRuns({ states: ['running'] })).map((r) => r.id)).toEqual([second.run.id])
      expect(await store.listRuns({ states: [] })).toEqual([])
    })

    it('updateRun is a compare-and-set on state', async () => {
      const store = await h.store()
      const { run } = await seedRun(store)
      const t = '2024-05-01T10:00:00.000Z'
      expect(await store.updateRun(run.id, { state: 'running', startedAt: t }, ['pending'])).toBe(true)
      expect(await store.updateRun(run.id, { state: 'running' }, ['pending'])).toBe(false)
      expect(await store.updateRun(run.id, { state: 'killed', reason: 'by alice', finishedAt: t }, ['pending', 'running'])).toBe(true)
      expect(await store.updateRun(run.id, { state: 'succeeded', finishedAt: t }, ['running'])).toBe(false)
      expect(await store.getRun(run.id)).toMatchObject({ state: 'killed', reason: 'by alice', startedAt: t, finishedAt: t })
      expect(await store.updateRun(run.id, { reason: 'unconditional' })).toBe(true)
      expect(await store.updateRun('r-missing', { state: 'failed' })).toBe(false)
      expect(await store.updateRun(run.id, {}, ['killed'])).toBe(true)
      expect(await store.updateRun(run.id, {}, ['running'])).toBe(false)
    })

    it('step attempts: CAS updates, retries, runtime handles, active listing', async () => {
      const store = await h.store()
      const { run, steps } = await seedRun(store, ['b', 'a'])
      const a1 = steps.find((s) => s.step === 'a')!
      expect(await store.updateStepRun(a1.id, { state: 'running', startedAt: 'T1', runtimeHandle: { pid: 42, host: 'x' } }, ['pending'])).toBe(true)
      expect(await store.updateStepRun(a1.id, { state: 'running' }, ['pending'])).toBe(false)
      expect((await store.listActiveStepRuns()).map((s) => s.id)).toEqual([a1.id])
      expect(await store.getStepRun(a1.id)).toMatchObject({ runtimeHandle: { pid: 42, host: 'x' }, startedAt: 'T1' })

      expect(await store.updateStepRun(a1.id, { state: 'failed', exitCode: 3, reason: 'Error', message: 'boom', finishedAt: 'T2' }, ['running'])).toBe(true)
      const a2 = await store.createStepAttempt(run.id, 'a', 2, '2024-05-01T10:00:10.000Z')
      expect(a2).toMatchObject({ runId: run.id, step: 'a', attempt: 2, state: 'pending', notBefore: '2024-05-01T10:00:10.000Z', logSeq: 0 })
      await expect(store.createStepAttempt(run.id, 'a', 2)).rejects.toMatchObject({ code: 'E_CONFLICT' })
      await expect(store.createStepAttempt('r-missing', 'a', 1)).rejects.toMatchObject({ code: 'E_NOT_FOUND' })

      const all = await store.listStepRuns(run.id)
      expect(all.map((s) => `${s.step}#${s.attempt}:${s.state}`)).toEqual(['a#1:failed', 'a#2:pending', 'b#1:pending'])
      expect(all[0]).toMatchObject({ exitCode: 3, reason: 'Error', message: 'boom', finishedAt: 'T2' })
      expect(await store.listActiveStepRuns()).toEqual([])
      expect(await store.updateStepRun(a2.id, { state: 'skipped' }, [])).toBe(false)
      expect(await store.getStepRun('s-missing')).toBeUndefined()
    })

    it('keeps an approval request and its decision on the step run', async () => {
      const store = await h.store()
      const { steps } = await seedRun(store, ['gate'])
      const approval = { message: 'ship?', approvers: ['roles:id:operator'], requestedAt: '2024-05-01T10:00:00.000Z', deadline: '2024-05-02T10:00:00.000Z' }
      expect(await store.updateStepRun(steps[0]!.id, { state: 'waiting', approval }, ['pending'])).toBe(true)
      expect((await store.getStepRun(steps[0]!.id))!.approval).toEqual(approval)
      const decided = { ...approval, decision: 'approved' as const, by: 'jane', comment: 'ok', decidedAt: '2024-05-01T11:00:00.000Z' }
      expect(await store.updateStepRun(steps[0]!.id, { state: 'succeeded', approval: decided }, ['waiting'])).toBe(true)
      expect((await store.getStepRun(steps[0]!.id))!.approval).toEqual(decided)
    })

    it('listLatestRuns: the newest run of each resource, leaving out resources without runs', async () => {
      const store = await h.store()
      const ids: string[] = []
      for (const name of ['x', 'y', 'z']) {
        const { resource } = await store.applyResource({ workspace: 'public', type: 'workflow', name, version: 'v1', manifest: { name }, owner: 'a' })
        ids.push(resource.id)
      }
      const [a, b, c] = ids
      const first = await store.createRun({ resourceId: a!, revision: 1, trigger: 'apply', steps: ['s'] })
      const second = await store.createRun({ resourceId: a!, revision: 1, trigger: 'manual', steps: ['s'] })
      const onB = await store.createRun({ resourceId: b!, revision: 1, trigger: 'apply', steps: [] })
      await store.updateRun(first.run.id, { state: 'failed' })
      const latest = await store.listLatestRuns([a!, b!, c!, 'res-unknown'])
      expect(latest.map((r) => r.id).sort()).toEqual([second.run.id, onB.run.id].sort())
      expect(latest.find((r) => r.resourceId === a)).toEqual(second.run)
      expect(await store.listLatestRuns([])).toEqual([])
    })
  })

  describe('instances of a fanned-out step', () => {
    it('are step runs pointing at their step, with their values; later attempts keep both', async () => {
      const store = await h.store()
      const { run } = await seedRun(store, ['shard'])
      const made = await store.createStepInstances(run.id, 'shard', [
        { step: 'shard-0', values: { index: 0, item: 'a.csv' } },
        { step: 'shard-1', values: { index: 1, item: { n: 2 } } },
      ])
      expect(made.map((s) => [s.step, s.attempt, s.state, s.parent, s.instance])).toEqual([
        ['shard-0', 1, 'pending', 'shard', { index: 0, item: 'a.csv' }],
        ['shard-1', 1, 'pending', 'shard', { index: 1, item: { n: 2 } }],
      ])
      const again = await store.createStepAttempt(run.id, 'shard-1', 2, '2024-05-01T10:00:10.000Z')
      expect(again).toMatchObject({ step: 'shard-1', attempt: 2, parent: 'shard', instance: { index: 1, item: { n: 2 } }, notBefore: '2024-05-01T10:00:10.000Z' })
      const plain = await store.createStepAttempt(run.id, 'shard', 2)
      expect(plain.parent).toBeUndefined()
      expect(plain.instance).toBeUndefined()
      const listed = await store.listStepRuns(run.id)
      expect(listed.filter((s) => s.parent === 'shard').map((s) => `${s.step}#${s.attempt}`)).toEqual(['shard-0#1', 'shard-1#1', 'shard-1#2'])
    })

    it('refuses an instance twice, all or nothing', async () => {
      const store = await h.store()
      const { run } = await seedRun(store, ['t'])
      await store.createStepInstances(run.id, 't', [{ step: 't-debian', values: { index: 0, matrix: { os: 'debian' } } }])
      await expect(
        store.createStepInstances(run.id, 't', [
          { step: 't-alpine', values: { index: 1, matrix: { os: 'alpine' } } },
          { step: 't-debian', values: { index: 0, matrix: { os: 'debian' } } },
        ]),
      ).rejects.toMatchObject({ code: 'E_CONFLICT' })
      expect((await store.listStepRuns(run.id)).map((s) => s.step)).toEqual(['t', 't-debian'])
    })
  })

  describe('step outputs', () => {
    it('round-trip with the attempt, in the same update as its final state', async () => {
      const store = await h.store()
      const { run, steps } = await seedRun(store, ['build', 'test'])
      const outputs = { artifact: 'app-1.2.3.tar', notes: 'line one\nline two', empty: '', odd: 'é "quoted" \\ \u0000' }
      expect(await store.updateStepRun(steps[0]!.id, { state: 'succeeded', exitCode: 0, outputs }, ['pending'])).toBe(true)
      expect((await store.getStepRun(steps[0]!.id))?.outputs).toEqual(outputs)
      expect((await store.listStepRuns(run.id)).find((s) => s.step === 'build')?.outputs).toEqual(outputs)
      expect((await store.getStepRun(steps[1]!.id))?.outputs).toBeUndefined()
    })

    it('stepOutputs: the latest attempt of each succeeded step; failed and pending steps are left out', async () => {
      const store = await h.store()
      const { run, steps } = await seedRun(store, ['a', 'b', 'c'])
      const [a, b] = steps
      await store.updateStepRun(a!.id, { state: 'failed', outputs: { v: 'first' } })
      const a2 = await store.createStepAttempt(run.id, 'a', 2)
      await store.updateStepRun(a2.id, { state: 'succeeded', outputs: { v: 'second' } })
      await store.updateStepRun(b!.id, { state: 'succeeded' })
      expect(await store.stepOutputs(run.id)).toEqual(new Map([['a', { v: 'second' }], ['b', {}]]))
      const b2 = await store.createStepAttempt(run.id, 'b', 2)
      await store.updateStepRun(b2.id, { state: 'failed', outputs: { x: '1' } })
      expect([...(await store.stepOutputs(run.id)).keys()]).toEqual(['a'])
    })

    it('stepOutputs of a step a retry carried over: those of the run that ran it', async () => {
      const store = await h.store()
      const { resource, run, steps } = await seedRun(store, ['a', 'b'])
      await store.updateStepRun(steps[0]!.id, { state: 'succeeded', outputs: { artifact: 'x' } })
      await store.updateStepRun(steps[1]!.id, { state: 'failed' })
      const retry = await store.createRun({ resourceId: resource.id, revision: 1, trigger: 'retry', retryOf: run.id, steps: ['a', 'b'] })
      await store.updateStepRun(retry.steps[0]!.id, { state: 'succeeded', keptFrom: run.id })
      expect(await store.stepOutputs(retry.run.id)).toEqual(new Map([['a', { artifact: 'x' }]]))
      expect((await store.getStepRun(retry.steps[0]!.id))!.keptFrom).toBe(run.id)
    })
  })
}
