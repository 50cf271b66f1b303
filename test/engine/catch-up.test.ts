// schedule.catchUp after downtime, with a fake clock: none, latest (the default), all with maxCatchUp, and
// all under Forbid (queued, one run at a time); each run carries its fire time (workflow.scheduledTime).
import { afterEach, describe, expect, it } from 'vitest'
import type { CatchUpPolicy, ConcurrencyPolicy } from '../../src/manifest/model.js'
import type { ResourceRecord } from '../../src/store/types.js'
import { harness, waitFor, workflow, type Harness } from './support.js'
import { overlapProbe } from './overlap.js'

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

const T0 = Date.parse('2030-01-01T00:00:00.000Z')
const at = (s: number) => new Date(T0 + s * 1000).toISOString()

function scheduled(name: string, script: string, catchUp: CatchUpPolicy | undefined, extra: { maxCatchUp?: number; policy?: ConcurrencyPolicy } = {}) {
  return workflow(name, [{ name: 'work', script }], {
    schedule: {
      crons: ['*/5 * * * * *'], timezone: 'UTC', concurrencyPolicy: extra.policy ?? 'Allow',
      ...(catchUp ? { catchUp } : {}), ...(extra.maxCatchUp ? { maxCatchUp: extra.maxCatchUp } : {}),
    },
  })
}

/** Applies at 4.9 s (next fire :05), stops the control plane, and starts a new one at 23.5 s: :05 to :20 were missed. */
async function downtime(hh: Harness, wf: ReturnType<typeof scheduled>): Promise<{ r: ResourceRecord; setClock: (ms: number) => void }> {
  let clock = T0 + 4_900
  const r = await hh.apply(wf)
  await hh.engine.idle()
  expect((await hh.store.getSchedule(r.id))?.nextFireAt).toBe(at(5))
  await hh.engine.stop()
  clock = T0 + 23_500
  const b = hh.newEngine({ now: () => new Date(clock) })
  await b.start()
  return { r, setClock: (ms) => (clock = ms) }
}

describe('catch-up after downtime', () => {
  it('none: nothing missed runs; the next fire time does', async () => {
    h = await harness({ now: () => new Date(T0 + 4_900), maxTimerSleepMs: 50 })
    const { r, setClock } = await downtime(h, scheduled('none', 'true', 'none'))
    await waitFor('the schedule to move on', async () => (await h!.store.getSchedule(r.id))?.nextFireAt === at(25))
    expect(await h.store.getSchedule(r.id)).toMatchObject({ lastFireAt: at(20), nextFireAt: at(25) })
    expect(await h.store.listRuns({ resourceId: r.id })).toHaveLength(0)
    setClock(T0 + 25_000)
    const run = await waitFor('the :25 run', async () => (await h!.store.listRuns({ resourceId: r.id }))[0])
    expect(run).toMatchObject({ trigger: 'schedule', scheduledAt: at(25) })
  })

  it('latest (the default, stated or not): only the latest missed time runs', async () => {
    for (const catchUp of [undefined, 'latest'] as const) {
      h = await harness({ now: () => new Date(T0 + 4_900), maxTimerSleepMs: 50 })
      const { r } = await downtime(h, scheduled(`latest-${catchUp ?? 'default'}`, 'true', catchUp))
      const run = await waitFor('the catch-up run', async () => (await h!.store.listRuns({ resourceId: r.id }))[0])
      await waitFor('the schedule to move on', async () => (await h!.store.getSchedule(r.id))?.nextFireAt === at(25))
      expect(await h.store.listRuns({ resourceId: r.id })).toHaveLength(1)
      expect(run).toMatchObject({ trigger: 'schedule', scheduledAt: at(20), lateBySeconds: 3 })
      await h.close()
      h = undefined
    }
  })

  it('all with maxCatchUp 3: the three most recent missed times run, oldest first, each with its scheduled time', async () => {
    h = await harness({ now: () => new Date(T0 + 4_900), maxTimerSleepMs: 50 })
    const wf = scheduled('all', 'true', 'all', { maxCatchUp: 3 })
    // Only the run standing for :10 passes this condition: each run reads its own fire time.
    wf.workflow.dag[0]!.when = `workflow.scheduledTime == '2030-01-01T00:00:10Z'`
    const { r } = await downtime(h, wf)
    const runs = await waitFor('three catch-up runs', async () => {
      const list = await h!.store.listRuns({ resourceId: r.id })
      return list.length >= 3 && list.every((x) => ['succeeded', 'failed'].includes(x.state)) ? list : undefined
    })
    expect(runs).toHaveLength(3)
    // Newest first from the store: created oldest fire time first.
    expect(runs.map((x) => x.scheduledAt).reverse()).toEqual([at(10), at(15), at(20)])
    expect(runs.every((x) => x.trigger === 'schedule' && x.state === 'succeeded')).toBe(true)
    expect(runs.map((x) => x.lateBySeconds).reverse()).toEqual([13, 8, 3])
    const ran = await Promise.all(runs.map(async (x) => [x.scheduledAt, (await h!.store.listStepRuns(x.id))[0]?.state]))
    expect(Object.fromEntries(ran)).toEqual({ [at(10)]: 'succeeded', [at(15)]: 'skipped', [at(20)]: 'skipped' })
    expect(await h.store.getSchedule(r.id)).toMatchObject({ lastFireAt: at(20), nextFireAt: at(25) })
  })

  it('all under Forbid: the missed times run one after the other, never two at once', async () => {
    h = await harness({ now: () => new Date(T0 + 4_900), maxTimerSleepMs: 50, sandbox: 'none' })
    const { script, overlaps } = overlapProbe(1)
    const { r } = await downtime(h, scheduled('forbid', script, 'all', { policy: 'Forbid' }))
    const runs = await waitFor('four catch-up runs', async () => {
      const list = await h!.store.listRuns({ resourceId: r.id })
      return list.length === 4 && list.every((x) => x.state === 'succeeded') ? list : undefined
    }, 30_000).catch(async (e) => {
      const list = await h!.store.listRuns({ resourceId: r.id })
      throw new Error(`${(e as Error).message}: ${JSON.stringify(list)} ${JSON.stringify(await h!.store.listBackfills({}))} ${JSON.stringify(await Promise.all(list.map((x) => h!.store.listStepRuns(x.id))))}`)
    })
    expect(runs.map((x) => x.scheduledAt).reverse()).toEqual([at(5), at(10), at(15), at(20)])
    expect(overlaps()).toEqual([])
  }, 40_000)
})
