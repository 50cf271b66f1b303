import { describe, expect, it } from 'vitest'
import { freshStore, seedRun } from './helpers.js'

describe('instances of a fanned-out step', () => {
  it('are step runs pointing at their step, with their values; later attempts keep both', async () => {
    const { store } = freshStore()
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
    // A plain step's later attempt has neither.
    const plain = await store.createStepAttempt(run.id, 'shard', 2)
    expect(plain.parent).toBeUndefined()
    expect(plain.instance).toBeUndefined()
    const listed = await store.listStepRuns(run.id)
    expect(listed.filter((s) => s.parent === 'shard').map((s) => `${s.step}#${s.attempt}`)).toEqual(['shard-0#1', 'shard-1#1', 'shard-1#2'])
  })

  it('refuses an instance twice, all or nothing', async () => {
    const { store } = freshStore()
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
