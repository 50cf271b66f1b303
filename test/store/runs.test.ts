import { describe, expect, it } from 'vitest'
import { freshStore, seedRun } from './helpers.js'

describe('runs and step runs', () => {
  it('creates a run with attempt 1 of every step, pending', async () => {
    const { store } = freshStore()
    const { resource, run, steps } = await seedRun(store, ['extract', 'load'])
    expect(run).toMatchObject({
      resourceId: resource.id,
      workspace: 'public',
      resourceName: 'wf',
      revision: 1,
      trigger: 'apply',
      state: 'pending',
    })
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
    const { store } = freshStore()
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

  it('refuses a run of a missing revision or with duplicate steps', async () => {
    const { store } = freshStore()
    const { resource } = await seedRun(store)
    await expect(store.createRun({ resourceId: resource.id, revision: 9, trigger: 'manual', steps: [] })).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    })
    await expect(
      store.createRun({ resourceId: resource.id, revision: 1, trigger: 'manual', steps: ['a', 'a'] }),
    ).rejects.toMatchObject({ code: 'E_DUPLICATE_STEP' })
  })

  it('keeps scheduling facts and lists newest first with filters', async () => {
    const { store } = freshStore()
    const { resource, run: first } = await seedRun(store)
    const second = await store.createRun({
      resourceId: resource.id,
      revision: 1,
      trigger: 'schedule',
      scheduledAt: '2024-01-01T00:00:00.000Z',
      lateBySeconds: 1.5,
      steps: ['a'],
    })
    const third = await store.createRun({ resourceId: resource.id, revision: 1, trigger: 'retry', retryOf: first.id, steps: ['a'] })
    expect(second.run).toMatchObject({ scheduledAt: '2024-01-01T00:00:00.000Z', lateBySeconds: 1.5 })
    expect(third.run.retryOf).toBe(first.id)
    const ids = [first.id, second.run.id, third.run.id]
    expect([...ids].sort()).toEqual(ids) // ids sort by creation time

    expect((await store.listRuns({})).map((r) => r.id)).toEqual([...ids].reverse())
    expect((await store.listRuns({ resourceId: resource.id, limit: 2 })).map((r) => r.id)).toEqual([third.run.id, second.run.id])
    expect(await store.listRuns({ resourceId: 'res-other' })).toEqual([])
    await store.updateRun(second.run.id, { state: 'running' })
    expect((await store.listRuns({ states: ['running'] })).map((r) => r.id)).toEqual([second.run.id])
    expect(await store.listRuns({ states: [] })).toEqual([])
  })

  it('updateRun is a compare-and-set on state', async () => {
    const { store } = freshStore()
    const { run } = await seedRun(store)
    const t = '2024-05-01T10:00:00.000Z'
    expect(await store.updateRun(run.id, { state: 'running', startedAt: t }, ['pending'])).toBe(true)
    // a second engine loop racing for the same transition loses
    expect(await store.updateRun(run.id, { state: 'running' }, ['pending'])).toBe(false)
    // user kill vs. engine finish: the first to land wins, the other sees false
    expect(await store.updateRun(run.id, { state: 'killed', reason: 'by alice', finishedAt: t }, ['pending', 'running'])).toBe(true)
    expect(await store.updateRun(run.id, { state: 'succeeded', finishedAt: t }, ['running'])).toBe(false)
    expect(await store.getRun(run.id)).toMatchObject({ state: 'killed', reason: 'by alice', startedAt: t, finishedAt: t })
    expect(await store.updateRun(run.id, { reason: 'unconditional' })).toBe(true)
    expect(await store.updateRun('r-missing', { state: 'failed' })).toBe(false)
    expect(await store.updateRun(run.id, {}, ['killed'])).toBe(true)
    expect(await store.updateRun(run.id, {}, ['running'])).toBe(false)
  })

  it('step attempts: CAS updates, retries, runtime handles, active listing', async () => {
    const { store } = freshStore()
    const { run, steps } = await seedRun(store, ['b', 'a'])
    const a1 = steps.find((s) => s.step === 'a')!
    expect(await store.updateStepRun(a1.id, { state: 'running', startedAt: 'T1', runtimeHandle: { pid: 42, host: 'x' } }, ['pending'])).toBe(true)
    expect(await store.updateStepRun(a1.id, { state: 'running' }, ['pending'])).toBe(false)
    expect((await store.listActiveStepRuns()).map((s) => s.id)).toEqual([a1.id])
    expect(await store.getStepRun(a1.id)).toMatchObject({ runtimeHandle: { pid: 42, host: 'x' }, startedAt: 'T1' })

    expect(
      await store.updateStepRun(a1.id, { state: 'failed', exitCode: 3, reason: 'Error', message: 'boom', finishedAt: 'T2' }, ['running']),
    ).toBe(true)
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
})

describe('schedules and meta', () => {
  it('puts, replaces, lists and deletes schedules', async () => {
    const { store } = freshStore()
    const { resource } = await seedRun(store)
    expect(await store.getSchedule(resource.id)).toBeUndefined()
    await store.putSchedule({ resourceId: resource.id, revision: 1, nextFireAt: '2030-01-01T00:00:00.000Z' })
    expect(await store.getSchedule(resource.id)).toMatchObject({ revision: 1, nextFireAt: '2030-01-01T00:00:00.000Z' })
    await store.putSchedule({
      resourceId: resource.id,
      revision: 2,
      nextFireAt: '2030-01-01T00:05:00.000Z',
      lastFireAt: '2030-01-01T00:00:00.000Z',
    })
    const s = await store.getSchedule(resource.id)
    expect(s).toMatchObject({ revision: 2, nextFireAt: '2030-01-01T00:05:00.000Z', lastFireAt: '2030-01-01T00:00:00.000Z' })
    expect(s!.updatedAt).toMatch(/Z$/)
    expect(await store.listSchedules()).toEqual([s])
    await store.deleteSchedule(resource.id)
    expect(await store.getSchedule(resource.id)).toBeUndefined()
    await expect(store.putSchedule({ resourceId: 'res-missing', revision: 1 })).rejects.toMatchObject({ code: 'E_NOT_FOUND' })
  })

  it('stores meta values and overwrites them', async () => {
    const { store } = freshStore()
    expect(await store.getMeta('admin.keyHash')).toBeUndefined()
    await store.setMeta('admin.keyHash', 'h1')
    await store.setMeta('admin.keyHash', 'h2')
    expect(await store.getMeta('admin.keyHash')).toBe('h2')
  })
})
