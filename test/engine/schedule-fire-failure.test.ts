// A failed statement between a cron fire's claim and its run (a store blip on PostgreSQL) must neither lose the
// fire time (the claim is given back, so the next pass fires it) nor leave the schedule timer unarmed. From
// review 13, item 3: a store that fails one scheduled createRun, a fake clock, one replica.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { openStore } from '../../src/store/open.js'
import type { Store } from '../../src/store/types.js'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import { createEngine, type Engine } from '../../src/engine/index.js'
import { CtlError } from '../../src/errors.js'
import { waitFor, workflow } from './support.js'

const T0 = Date.parse('2030-01-01T00:00:00.000Z')
const at = (s: number) => new Date(T0 + s * 1000).toISOString()
let close: (() => Promise<void>) | undefined
afterEach(async () => {
  await close?.()
  close = undefined
})

it('a createRun that fails once after the fire claim: the same replica fires that time on its next pass', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-fire-fail-'))
  const store = await openStore(path.join(dir, 'ctl.db'))
  await store.createUser({ id: 'alice', name: 'Alice', type: 'person' })
  await store.addRoleBinding({ userId: 'alice', role: 'tenant-admin', workspace: null, createdBy: 'test' })
  let failSchedule = 0
  // The one stand-in: a real store whose next scheduled createRun throws as a dropped connection would.
  const blipping = new Proxy(store, {
    get(t, p) {
      if (p === 'createRun') {
        return async (input: Parameters<Store['createRun']>[0]) => {
          if (input.trigger === 'schedule' && failSchedule > 0) {
            failSchedule--
            throw new CtlError('E_UNAVAILABLE', 'simulated blip')
          }
          return t.createRun(input)
        }
      }
      const v: unknown = Reflect.get(t, p, t)
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v
    },
  }) as Store
  let clock = T0 + 500
  const runtime = createLocalRuntime({ stateDir: path.join(dir, 'state'), sandbox: 'none' })
  const engine: Engine = createEngine({ store: blipping, runtime, dataDir: dir, now: () => new Date(clock), maxTimerSleepMs: 50, replicaId: 'r-one' })
  close = async () => {
    await engine.stop()
    await store.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  const wf = workflow('sec', [{ name: 'work', script: 'true' }], { schedule: { crons: ['* * * * * *'], timezone: 'UTC', concurrencyPolicy: 'Allow' } })
  const applied = await store.applyResource({ workspace: 'public', type: 'workflow', name: 'sec', version: wf.meta.version, manifest: wf, owner: 'alice' })
  await engine.start()
  await engine.resourceApplied(applied.resource, applied.outcome)
  await engine.idle()
  const id = applied.resource.id
  failSchedule = 1
  clock = T0 + 1500
  // The failed pass re-arms the timer and gave its claim back: the next pass makes the run of :01.
  await waitFor('the fire at :01 made its run after the blip', async () => (await store.listRuns({ resourceId: id })).some((r) => r.scheduledAt === at(1)))
  expect(failSchedule).toBe(0)
  expect((await store.getSchedule(id))?.lastFireAt).toBe(at(1))
  clock = T0 + 2000
  await waitFor('the fire at :02 handled', async () => (await store.getSchedule(id))?.lastFireAt === at(2))
  await engine.idle()
  const times = (await store.listRuns({ resourceId: id })).map((r) => r.scheduledAt).sort()
  expect(times).toEqual([at(1), at(2)])
}, 60_000)
