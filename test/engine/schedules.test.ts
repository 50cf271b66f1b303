// Scheduled workflows: fire times, missed fires after downtime, concurrency policies, deletion.
import { afterEach, describe, expect, it } from 'vitest'
import type { ConcurrencyPolicy } from '../../src/manifest/model.js'
import { harness, waitFor, workflow, type Harness } from './support.js'

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

const T0 = Date.parse('2030-01-01T00:00:00.000Z')
const at = (s: number) => new Date(T0 + s * 1000).toISOString()

function scheduled(name: string, script: string, policy: ConcurrencyPolicy, crons = ['*/5 * * * * *']) {
  return workflow(name, [{ name: 'work', script }], { schedule: { crons, timezone: 'UTC', concurrencyPolicy: policy } })
}

describe('schedules', () => {
  it('apply stores the next fire time and starts no run; after downtime only the latest missed time runs; restart keeps it', async () => {
    let clock = T0 + 4_900
    h = await harness({ now: () => new Date(clock), maxTimerSleepMs: 50 })
    const r = await h.apply(scheduled('every-five', 'echo tick', 'Allow'))
    await h.engine.idle()
    expect((await h.store.getResourceById(r.id))?.status).toBe('active')
    expect(await h.store.listRuns({ resourceId: r.id })).toHaveLength(0)
    expect((await h.store.getSchedule(r.id))?.nextFireAt).toBe(at(5))
    expect(await h.engine.runtimeSummary(r)).toBe('next:2030-01-01T00:00:05Z')
    expect(await h.engine.nextFireTime(r)).toBe('2030-01-01T00:00:05Z')

    // Fires at :05, :10, :15 and :20 were missed; only :20 runs, 3.5 s late.
    clock = T0 + 23_500
    const first = await waitFor('a scheduled run', async () => (await h!.store.listRuns({ resourceId: r.id }))[0])
    expect(first).toMatchObject({ trigger: 'schedule', scheduledAt: at(20), lateBySeconds: 3 })
    await h.engine.idle()
    expect((await h.store.getRun(first.id))?.state).toBe('succeeded')
    expect(await h.store.getSchedule(r.id)).toMatchObject({ lastFireAt: at(20), nextFireAt: at(25) })
    expect(await h.engine.runtimeSummary(r)).toBe('next:2030-01-01T00:00:25Z')

    // The control plane goes away; a new engine after :40 runs :40 once.
    await h.engine.stop()
    clock = T0 + 41_200
    const b = h.newEngine({ now: () => new Date(clock) })
    await b.start()
    const runs = await waitFor('the run after restart', async () => {
      const list = await h!.store.listRuns({ resourceId: r.id })
      return list.length >= 2 ? list : undefined
    })
    await b.idle()
    expect(runs).toHaveLength(2)
    expect(runs[0]).toMatchObject({ trigger: 'schedule', scheduledAt: at(40), lateBySeconds: 1 })
    expect(await h.store.getSchedule(r.id)).toMatchObject({ lastFireAt: at(40), nextFireAt: at(45) })
  })

  it('Forbid skips while a run is active; Replace cancels it and starts a new one; delete cancels and unschedules', async () => {
    let clock = T0 + 4_950
    h = await harness({ now: () => new Date(clock), maxTimerSleepMs: 50, sandbox: 'none' })
    const r1 = await h.apply(scheduled('guarded', 'sleep 30', 'Forbid'))
    await h.engine.idle()
    clock = T0 + 5_000
    const run1 = await waitFor('the first run', async () => (await h!.store.listRuns({ resourceId: r1.id, states: ['running'] }))[0])
    clock = T0 + 10_000
    await waitFor('the :10 fire to pass', async () => (await h!.store.getSchedule(r1.id))?.lastFireAt === at(10))
    expect((await h.store.listRuns({ resourceId: r1.id })).map((x) => x.id)).toEqual([run1.id])

    clock = T0 + 14_950
    const r2 = await h.apply(scheduled('guarded', 'sleep 30', 'Replace'))
    expect(r2.revision).toBe(2)
    await waitFor('the re-armed schedule', async () => (await h!.store.getSchedule(r1.id))?.revision === 2)
    clock = T0 + 15_000
    const run2 = await waitFor('the replacing run', async () => {
      const list = await h!.store.listRuns({ resourceId: r1.id })
      return list.length === 2 ? list[0] : undefined
    })
    expect(run2).toMatchObject({ trigger: 'schedule', scheduledAt: at(15), revision: 2 })
    const replaced = await h.store.getRun(run1.id)
    expect(replaced?.state).toBe('cancelled')
    expect(replaced?.reason).toMatch(/replaced by the run scheduled at/)

    await h.engine.resourceDeleted(r2)
    await h.engine.idle()
    expect((await h.store.getRun(run2.id))?.state).toBe('cancelled')
    expect(await h.store.getSchedule(r1.id)).toBeUndefined()
    for (const s of await h.store.listStepRuns(run2.id)) expect(s.state).toBe('cancelled')
  })

  it('a cron firing every second runs on the real clock', async () => {
    h = await harness()
    const r = await h.apply(scheduled('each-second', 'true', 'Allow', ['* * * * * *']))
    const run = await waitFor('a scheduled run', async () => (await h!.store.listRuns({ resourceId: r.id }))[0], 5_000)
    expect(run.trigger).toBe('schedule')
    await h.engine.resourceDeleted(r)
    expect(await h.store.getSchedule(r.id)).toBeUndefined()
  })
})
