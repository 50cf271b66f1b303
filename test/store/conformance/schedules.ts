// ScheduleStore: schedules, backfills and their fire times (compare-and-set), meta.
import { describe, expect, it } from 'vitest'
import { seedRun, type StoreHarness } from './harness.js'

export function scheduleContract(h: StoreHarness): void {
  describe('schedules and meta', () => {
    it('puts, replaces, lists and deletes schedules', async () => {
      const store = await h.store()
      const { resource } = await seedRun(store)
      expect(await store.getSchedule(resource.id)).toBeUndefined()
      await store.putSchedule({ resourceId: resource.id, revision: 1, nextFireAt: '2030-01-01T00:00:00.000Z' })
      expect(await store.getSchedule(resource.id)).toMatchObject({ revision: 1, nextFireAt: '2030-01-01T00:00:00.000Z' })
      await store.putSchedule({ resourceId: resource.id, revision: 2, nextFireAt: '2030-01-01T00:05:00.000Z', lastFireAt: '2030-01-01T00:00:00.000Z' })
      const s = await store.getSchedule(resource.id)
      expect(s).toMatchObject({ revision: 2, nextFireAt: '2030-01-01T00:05:00.000Z', lastFireAt: '2030-01-01T00:00:00.000Z' })
      expect(s!.updatedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      expect(await store.listSchedules()).toEqual([s])
      await store.deleteSchedule(resource.id)
      expect(await store.getSchedule(resource.id)).toBeUndefined()
      await store.deleteSchedule(resource.id)
      await expect(store.putSchedule({ resourceId: 'res-missing', revision: 1 })).rejects.toMatchObject({ code: 'E_NOT_FOUND' })
    })

    it('stores meta values and overwrites them', async () => {
      const store = await h.store()
      expect(await store.getMeta('admin.keyHash')).toBeUndefined()
      await store.setMeta('admin.keyHash', 'h1')
      await store.setMeta('admin.keyHash', 'h2')
      expect(await store.getMeta('admin.keyHash')).toBe('h2')
    })
  })

  describe('backfills', () => {
    it('creates a backfill with its fire times pending, oldest first, duplicates once', async () => {
      const store = await h.store()
      const { resource } = await seedRun(store)
      const times = ['2024-01-01T02:00:00.000Z', '2024-01-01T00:00:00.000Z', '2024-01-01T01:00:00.000Z', '2024-01-01T00:00:00.000Z']
      const bf = await store.createBackfill({ resourceId: resource.id, trigger: 'backfill', parallel: 2, createdBy: 'alice', times })
      expect(bf).toMatchObject({ resourceId: resource.id, trigger: 'backfill', parallel: 2, state: 'running', createdBy: 'alice' })
      expect(bf.finishedAt).toBeUndefined()
      expect(await store.getBackfill(bf.id)).toEqual(bf)
      expect(await store.getBackfill('bf-missing')).toBeUndefined()
      expect(await store.listBackfillTimes(bf.id)).toEqual([
        { backfillId: bf.id, fireAt: '2024-01-01T00:00:00.000Z', state: 'pending' },
        { backfillId: bf.id, fireAt: '2024-01-01T01:00:00.000Z', state: 'pending' },
        { backfillId: bf.id, fireAt: '2024-01-01T02:00:00.000Z', state: 'pending' },
      ])
    })

    it('moves fire times by compare-and-set and finishes once', async () => {
      const store = await h.store()
      const { resource, run } = await seedRun(store)
      const bf = await store.createBackfill({ resourceId: resource.id, trigger: 'backfill', parallel: 1, createdBy: 'a', times: ['2024-01-01T00:00:00.000Z'] })
      const t = '2024-01-01T00:00:00.000Z'
      expect(await store.updateBackfillTime(bf.id, t, { state: 'starting' }, ['pending'])).toBe(true)
      expect(await store.updateBackfillTime(bf.id, t, { state: 'starting' }, ['pending'])).toBe(false)
      expect(await store.updateBackfillTime(bf.id, t, { state: 'started', runId: run.id }, ['starting'])).toBe(true)
      expect(await store.listBackfillTimes(bf.id)).toEqual([{ backfillId: bf.id, fireAt: t, state: 'started', runId: run.id }])
      // runId stays when a patch leaves it out
      expect(await store.updateBackfillTime(bf.id, t, { state: 'started' }, ['started'])).toBe(true)
      expect((await store.listBackfillTimes(bf.id))[0]!.runId).toBe(run.id)
      expect(await store.updateBackfillTime(bf.id, '2030-01-01T00:00:00.000Z', { state: 'starting' }, ['pending'])).toBe(false)

      expect(await store.finishBackfill(bf.id, 'done')).toBe(true)
      expect(await store.finishBackfill(bf.id, 'cancelled')).toBe(false)
      expect(await store.getBackfill(bf.id)).toMatchObject({ state: 'done', finishedAt: expect.stringMatching(/Z$/) })
    })

    it('lists oldest first by resource and state', async () => {
      const store = await h.store()
      const { resource } = await seedRun(store)
      const other = await store.applyResource({ workspace: 'public', type: 'workflow', name: 'other', version: 'v1', manifest: {}, owner: 'a' })
      const one = await store.createBackfill({ resourceId: resource.id, trigger: 'backfill', parallel: 1, createdBy: 'a', times: [] })
      const two = await store.createBackfill({ resourceId: resource.id, trigger: 'schedule', parallel: 1, createdBy: 'a', times: [] })
      const three = await store.createBackfill({ resourceId: other.resource.id, trigger: 'backfill', parallel: 1, createdBy: 'a', times: [] })
      await store.finishBackfill(two.id, 'cancelled')
      expect((await store.listBackfills({})).map((b) => b.id)).toEqual([one.id, two.id, three.id])
      expect((await store.listBackfills({ resourceId: resource.id })).map((b) => b.id)).toEqual([one.id, two.id])
      expect((await store.listBackfills({ states: ['running'] })).map((b) => b.id)).toEqual([one.id, three.id])
      expect((await store.listBackfills({ resourceId: resource.id, states: ['cancelled'] })).map((b) => b.trigger)).toEqual(['schedule'])
    })
  })
}
