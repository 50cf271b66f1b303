// Several control planes on one store (issue 13): each cron fire time makes one run whatever the number of
// replicas, and a backfill time claimed by a replica that died is finished by another, once. Three engines, each
// with its own store handle on one SQLite file and its own replica id, share a fake clock that steps through the
// fire times, so that their three timers wake for every fire time together and race for it. On PostgreSQL the
// 20-run check fails without the fire claims (the three timers' runs overlap); on SQLite a claim taken elsewhere
// is what shows it.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/open.js'
import type { RunRecord, Store } from '../../src/store/types.js'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import { createEngine, type Engine } from '../../src/engine/index.js'
import { waitFor, workflow } from './support.js'
import { freshDatabase } from '../support/postgres.js'

const T0 = Date.parse('2030-01-01T00:00:00.000Z')
const at = (s: number) => new Date(T0 + s * 1000).toISOString()
const hour = (h: number) => `2030-01-01T${String(h).padStart(2, '0')}:00:00.000Z`

interface Fleet {
  stores: Store[]
  engines: Engine[]
  close(): Promise<void>
}

let fleet: Fleet | undefined
afterEach(async () => {
  await fleet?.close()
  fleet = undefined
})

/** `n` replicas on the store at `url` (opened once per replica); `setup` runs on the first store before any engine starts. */
async function startFleet(url: string, n: number, now: () => Date, dir: string): Promise<Fleet> {
  const stores: Store[] = []
  for (let i = 0; i < n; i++) stores.push(await openStore(url))
  await stores[0]!.createUser({ id: 'alice', name: 'Alice', type: 'person' })
  await stores[0]!.addRoleBinding({ userId: 'alice', role: 'tenant-admin', workspace: null, createdBy: 'test' })
  const runtime = createLocalRuntime({ stateDir: path.join(dir, 'state'), sandbox: 'none' })
  const engines = stores.map((store, i) => createEngine({ store, runtime, dataDir: dir, now, maxTimerSleepMs: 50, replicaId: `r-test-${i}` }))
  return {
    stores,
    engines,
    async close() {
      for (const e of engines) await e.stop()
      for (const s of stores) await s.close()
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function allRuns(store: Store, resourceId: string): Promise<RunRecord[]> {
  return store.listRuns({ resourceId })
}

async function cronOverTwentySeconds(url: string, dir: string): Promise<void> {
  let clock = T0 + 500
  fleet = await startFleet(url, 3, () => new Date(clock), dir)
  const [first] = fleet.stores
  const wf = workflow('every-second', [{ name: 'work', script: 'true' }], { schedule: { crons: ['* * * * * *'], timezone: 'UTC', concurrencyPolicy: 'Allow' } })
  const applied = await first!.applyResource({ workspace: 'public', type: 'workflow', name: wf.meta.name, version: wf.meta.version, manifest: wf, owner: 'alice' })
  // Applied through one replica, as the API does; the others find the schedule in the store.
  for (const e of fleet.engines) await e.start()
  await fleet.engines[0]!.resourceApplied(applied.resource, applied.outcome)
  for (const e of fleet.engines) await e.idle()
  const id = applied.resource.id
  expect((await first!.getSchedule(id))?.nextFireAt).toBe(at(1))
  for (let s = 1; s <= 20; s++) {
    clock = T0 + s * 1000
    // lastFireAt moves only when a timer handled the time (a re-arm moves nextFireAt alone).
    await waitFor(`the fire at :${s}`, async () => (await first!.getSchedule(id))?.lastFireAt === at(s))
  }
  for (const e of fleet.engines) await e.idle()
  const runs = await allRuns(first!, id)
  const times = runs.map((r) => r.scheduledAt).sort()
  expect(times).toEqual(Array.from({ length: 20 }, (_, i) => at(i + 1)))
}

describe('exactly-once fires across replicas', () => {
  it('three replicas on one SQLite file, a 1-second cron over 20 s: 20 runs, not 60', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-fires-'))
    await cronOverTwentySeconds(path.join(dir, 'ctl.db'), dir)
  }, 120_000)

  it('a fire time another replica claimed makes no run here, and the schedule moves on', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-fires-'))
    let clock = T0 + 500
    fleet = await startFleet(path.join(dir, 'ctl.db'), 1, () => new Date(clock), dir)
    const [store] = fleet.stores
    const wf = workflow('claimed', [{ name: 'work', script: 'true' }], { schedule: { crons: ['* * * * * *'], timezone: 'UTC', concurrencyPolicy: 'Allow' } })
    const applied = await store!.applyResource({ workspace: 'public', type: 'workflow', name: 'claimed', version: wf.meta.version, manifest: wf, owner: 'alice' })
    await fleet.engines[0]!.start()
    await fleet.engines[0]!.resourceApplied(applied.resource, applied.outcome)
    await fleet.engines[0]!.idle()
    const id = applied.resource.id
    expect((await store!.getSchedule(id))?.nextFireAt).toBe(at(1))
    // Another replica won :01 (its run is its business); this one must not make a second.
    expect(await store!.claimFire(`schedule:${id}`, at(1), 'r-elsewhere')).toBe(true)
    clock = T0 + 1000
    // lastFireAt moves only when the timer handled the time (a re-arm moves nextFireAt alone).
    await waitFor('the fire at :01 handled', async () => (await store!.getSchedule(id))?.lastFireAt === at(1))
    clock = T0 + 2000
    await waitFor('the fire at :02 handled', async () => (await store!.getSchedule(id))?.lastFireAt === at(2))
    await fleet.engines[0]!.idle()
    expect((await store!.listRuns({ resourceId: id })).map((r) => r.scheduledAt)).toEqual([at(2)])
  }, 60_000)

  it('the same on PostgreSQL', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-fires-'))
    await cronOverTwentySeconds(await freshDatabase(), dir)
  }, 120_000)

  it('a backfill time claimed by a replica that died is made by another, once; two replicas share a backfill without doubles', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-fires-'))
    const NOW = Date.parse('2030-06-01T12:00:30.000Z')
    fleet = await startFleet(path.join(dir, 'ctl.db'), 3, () => new Date(NOW), dir)
    const [store] = fleet.stores
    const wf = workflow('hourly', [{ name: 'work', script: 'true' }], { schedule: { crons: ['0 * * * *'], timezone: 'UTC', concurrencyPolicy: 'Allow' } })
    const { resource } = await store!.applyResource({ workspace: 'public', type: 'workflow', name: 'hourly', version: wf.meta.version, manifest: wf, owner: 'alice' })
    const b = await store!.createBackfill({ resourceId: resource.id, trigger: 'backfill', parallel: 2, createdBy: 'alice', times: [0, 1, 2, 3, 4, 5].map(hour) })
    // A replica that is gone claimed 00:00 (set it `starting`) and died before claiming its run.
    expect(await store!.updateBackfillTime(b.id, hour(0), { state: 'starting' }, ['pending'])).toBe(true)
    for (const e of fleet.engines) await e.start()
    const runs = await waitFor('six backfill runs ended', async () => {
      const list = await store!.listRuns({ resourceId: resource.id })
      return list.length >= 6 && list.every((r) => r.state === 'succeeded') ? list : undefined
    }, 60_000)
    for (const e of fleet.engines) await e.idle()
    const again = await store!.listRuns({ resourceId: resource.id })
    expect(again.map((r) => r.scheduledAt).sort()).toEqual([0, 1, 2, 3, 4, 5].map(hour))
    expect(runs.length).toBe(6)
    const times = await store!.listBackfillTimes(b.id)
    expect(times.map((t) => t.state)).toEqual(Array(6).fill('started'))
    expect(new Set(times.map((t) => t.runId)).size).toBe(6)
    expect((await store!.getBackfill(b.id))?.state).toBe('done')
    // Every time's claim is taken: no replica can make its run again.
    for (const t of times) expect(await store!.claimFire(`backfill:${b.id}`, t.fireAt, 'late')).toBe(false)
  }, 90_000)
})
