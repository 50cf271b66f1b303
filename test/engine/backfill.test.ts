// runtime backfill with the real engine: one run per fire time (trigger backfill, its scheduled time),
// at most --parallel at once, one at a time under Forbid, a dry run that stores nothing, and a restart
// of the control plane during a backfill that loses no fire time and starts none twice.
import { afterEach, describe, expect, it } from 'vitest'
import type { ConcurrencyPolicy } from '../../src/manifest/model.js'
import type { ResourceRecord, RunRecord } from '../../src/store/types.js'
import { harness, waitFor, workflow, type Harness } from './support.js'
import { overlapProbe } from './overlap.js'

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

// The schedule's next fire time is far away: only the backfill makes runs here.
const NOW = Date.parse('2030-06-01T12:00:30.000Z')
const hourly = (name: string, script: string, policy: ConcurrencyPolicy = 'Allow') =>
  workflow(name, [{ name: 'work', script }], { schedule: { crons: ['0 * * * *'], timezone: 'UTC', concurrencyPolicy: policy } })
const hour = (h: number) => `2030-01-01T${String(h).padStart(2, '0')}:00:00.000Z`

async function allEnded(hh: Harness, r: ResourceRecord, n: number, timeoutMs = 30_000): Promise<RunRecord[]> {
  return waitFor(`${n} backfill runs to end`, async () => {
    const list = await hh.store.listRuns({ resourceId: r.id })
    return list.length >= n && list.every((x) => ['succeeded', 'failed', 'cancelled', 'killed'].includes(x.state)) ? list : undefined
  }, timeoutMs)
}

describe('backfill', () => {
  it('dry run lists the fire times and stores nothing; refusals name the problem', async () => {
    h = await harness({ now: () => new Date(NOW) })
    const r = await h.apply(hourly('dry', 'true'))
    await h.engine.idle()
    const dry = await h.engine.backfill(r, 'alice', { from: '2030-01-01T00:00:00Z', to: '2030-01-01T03:00:00Z', dryRun: true })
    expect(dry).toEqual({ times: [hour(0), hour(1), hour(2), hour(3)], runs: [], dryRun: true })
    expect(await h.store.listBackfills({})).toEqual([])
    expect(await h.store.listRuns({ resourceId: r.id })).toEqual([])
    await expect(h.engine.backfill(r, 'alice', { from: '2030-01-01', to: '2030-03-01' })).rejects.toThrow('the range holds 1440 fire times; one backfill may run at most 1000')
    await expect(h.engine.backfill(r, 'alice', { from: '2030-01-01', to: '2030-01-02', parallel: 0 })).rejects.toMatchObject({ code: 'E_USAGE' })
    const plain = await h.apply(workflow('plain', [{ name: 'work', script: 'true' }]))
    await h.engine.idle()
    await expect(h.engine.backfill(plain, 'alice', { from: '2030-01-01', to: '2030-01-02' })).rejects.toThrow(/has no schedule/)
  })

  it('a requester who may no longer run the workflow starts nothing more: the backfill ends cancelled', async () => {
    h = await harness({ now: () => new Date(NOW), start: false })
    await h.store.createUser({ id: 'bob', name: 'Bob', type: 'person' })
    await h.store.addRoleBinding({ userId: 'bob', role: 'operator', workspace: 'public', createdBy: 'alice' })
    const r = await h.apply(hourly('revoked', 'true'))
    await h.engine.start()
    await h.engine.idle()
    const answer = await h.engine.backfill(r, 'bob', { from: '2030-01-01T00:00:00Z', to: '2030-01-01T03:00:00Z', parallel: 1 })
    expect(answer.runs).toHaveLength(1) // bob may run it now
    await h.store.removeRoleBinding('bob', 'operator', 'public')
    await waitFor('the backfill to be cancelled', async () => (await h!.store.getBackfill(answer.backfill!.id))?.state === 'cancelled')
    await h.engine.idle()
    expect((await h.store.listRuns({ resourceId: r.id })).length).toBe(1)
  }, 40_000)

  it('at most ten backfills of one workflow wait to start runs at once; one more is refused (E_LIMIT)', async () => {
    h = await harness({ now: () => new Date(NOW), start: false })
    // Forbid: one run at a time, and that one sleeps, so every backfill stays running while the next is asked for.
    const r = await h.apply(hourly('many', 'sleep 30', 'Forbid'))
    await h.engine.start()
    await h.engine.idle()
    // The first one's only time starts at once (that backfill is then done); the next ten wait behind its run.
    for (let i = 0; i < 11; i++) await h.engine.backfill(r, 'alice', { from: hour(i), to: hour(i) })
    await expect(h.engine.backfill(r, 'alice', { from: hour(11), to: hour(11) })).rejects.toMatchObject({ code: 'E_LIMIT', message: expect.stringMatching(/has 10 backfills going on; at most 10 at once/) })
    await h.engine.stopRuns(r, 'alice')
  }, 40_000)

  it('--parallel 2: one run per fire time, trigger backfill, never more than two at once', async () => {
    h = await harness({ now: () => new Date(NOW), sandbox: 'none' })
    const probe = overlapProbe(2)
    const r = await h.apply(hourly('par', probe.script))
    await h.engine.idle()
    const answer = await h.engine.backfill(r, 'alice', { from: '2030-01-01T00:00:00Z', to: '2030-01-01T04:00:00Z', parallel: 2 })
    expect(answer.times).toHaveLength(5)
    expect(answer.runs.map((x) => x.scheduledAt)).toEqual([hour(0), hour(1)])
    expect(answer.backfill).toMatchObject({ trigger: 'backfill', parallel: 2, createdBy: 'alice' })
    const runs = await allEnded(h, r, 5)
    expect(runs).toHaveLength(5)
    expect(runs.every((x) => x.trigger === 'backfill' && x.state === 'succeeded')).toBe(true)
    expect(runs.map((x) => x.scheduledAt).sort()).toEqual([0, 1, 2, 3, 4].map(hour))
    expect(probe.overlaps()).toEqual([])
    await waitFor('the backfill to be done', async () => (await h!.store.getBackfill(answer.backfill!.id))?.state === 'done')
  }, 40_000)

  it('Forbid: one run at a time whatever --parallel says', async () => {
    h = await harness({ now: () => new Date(NOW), sandbox: 'none' })
    const probe = overlapProbe(1)
    const r = await h.apply(hourly('forbid', probe.script, 'Forbid'))
    await h.engine.idle()
    const answer = await h.engine.backfill(r, 'alice', { from: '2030-01-01T00:00:00Z', to: '2030-01-01T03:00:00Z', parallel: 4 })
    expect(answer.runs).toHaveLength(1)
    const runs = await allEnded(h, r, 4)
    expect(runs.map((x) => x.scheduledAt).reverse()).toEqual([0, 1, 2, 3].map(hour))
    expect(probe.overlaps()).toEqual([])
  }, 40_000)

  it('a control-plane restart during a backfill goes on: no fire time lost, none started twice', async () => {
    h = await harness({ now: () => new Date(NOW), sandbox: 'none' })
    const r = await h.apply(hourly('restart', 'sleep 0.3'))
    await h.engine.idle()
    const answer = await h.engine.backfill(r, 'alice', { from: '2030-01-01T00:00:00Z', to: '2030-01-01T03:00:00Z' })
    const id = answer.backfill!.id
    expect(answer.runs).toHaveLength(1)
    // Down while the first run runs (its step is let go, not killed).
    await h.engine.stop()
    // As if the engine had claimed the next time and died before making its run.
    expect(await h.store.updateBackfillTime(id, hour(1), { state: 'starting' }, ['pending'])).toBe(true)
    const b = h.newEngine({ now: () => new Date(NOW) })
    await b.start()
    const runs = await allEnded(h, r, 4)
    await b.idle()
    expect((await h.store.listRuns({ resourceId: r.id })).map((x) => x.scheduledAt).sort()).toEqual([0, 1, 2, 3].map(hour))
    expect(runs.every((x) => x.state === 'succeeded')).toBe(true)
    const times = await h.store.listBackfillTimes(id)
    expect(times.map((t) => t.state)).toEqual(['started', 'started', 'started', 'started'])
    expect(new Set(times.map((t) => t.runId)).size).toBe(4)
    expect((await h.store.getBackfill(id))?.state).toBe('done')

    // A third engine finds nothing left to start.
    await b.stop()
    const c = h.newEngine({ now: () => new Date(NOW) })
    await c.start()
    await c.idle()
    expect(await h.store.listRuns({ resourceId: r.id })).toHaveLength(4)
  }, 40_000)

  it('runtime stop without a run ends the backfill too: nothing more starts', async () => {
    h = await harness({ now: () => new Date(NOW), sandbox: 'none' })
    const r = await h.apply(hourly('stopped', 'sleep 5'))
    await h.engine.idle()
    const answer = await h.engine.backfill(r, 'alice', { from: '2030-01-01T00:00:00Z', to: '2030-01-01T03:00:00Z' })
    expect(answer.runs).toHaveLength(1)
    const stopped = await h.engine.stopRuns(r, 'alice')
    expect(stopped.map((x) => x.state)).toEqual(['killed'])
    await h.engine.idle()
    expect((await h.store.getBackfill(answer.backfill!.id))?.state).toBe('cancelled')
    expect(await h.store.listRuns({ resourceId: r.id })).toHaveLength(1)
  }, 40_000)

  it('a claim whose run was made before the crash is linked to that run, not started again', async () => {
    h = await harness({ now: () => new Date(NOW), start: false })
    const r = await h.apply(hourly('linked', 'true'))
    const b = await h.store.createBackfill({ resourceId: r.id, trigger: 'backfill', parallel: 1, createdBy: 'alice', times: [hour(0), hour(1)] })
    // The crash came after the run of 00:00 was made, before the claim recorded it.
    expect(await h.store.updateBackfillTime(b.id, hour(0), { state: 'starting' }, ['pending'])).toBe(true)
    const { run } = await h.store.createRun({ resourceId: r.id, revision: r.revision, trigger: 'backfill', scheduledAt: hour(0), steps: ['work'] })
    const e = h.newEngine({ now: () => new Date(NOW) })
    await e.start()
    const runs = await allEnded(h, r, 2)
    await e.idle()
    expect(runs.map((x) => x.scheduledAt).sort()).toEqual([hour(0), hour(1)])
    expect((await h.store.listBackfillTimes(b.id)).map((t) => [t.fireAt, t.state, t.runId === run.id])).toEqual([[hour(0), 'started', true], [hour(1), 'started', false]])
  }, 40_000)
})
