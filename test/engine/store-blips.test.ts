// A store error while an attempt is followed is not the step's end (review of issue 13, item 1): the write is
// retried while the run's lease is held, the attempt stays `running` and followed, and a `running` attempt
// nobody follows any more (an error path let it go) is reattached by its owner.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openTestStore } from '../support/store.js'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import { createEngine, type Engine } from '../../src/engine/index.js'
import { CtlError } from '../../src/errors.js'
import type { Store } from '../../src/store/types.js'
import { logText, waitFor, workflow } from './support.js'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A store whose next `failures[method]` calls throw E_UNAVAILABLE (a connection reset, a pool timeout). */
async function blippy(failures: Record<string, number>, code: 'E_UNAVAILABLE' | 'E_CONFLICT' = 'E_UNAVAILABLE') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-blip-'))
  const store = await openTestStore(dir)
  await store.createUser({ id: 'alice', name: 'Alice', type: 'person' })
  await store.addRoleBinding({ userId: 'alice', role: 'tenant-admin', workspace: null, createdBy: 'test' })
  const wrapped = new Proxy(store, {
    get(t, p) {
      const v = Reflect.get(t, p, t)
      if (typeof v !== 'function') return v
      return (...args: unknown[]) => {
        if (typeof p === 'string' && (failures[p] ?? 0) > 0) {
          failures[p]!--
          return Promise.reject(new CtlError(code, 'the database is unreachable: simulated blip'))
        }
        return (v as (...a: unknown[]) => unknown).apply(t, args)
      }
    },
  }) as Store
  const runtime = createLocalRuntime({ stateDir: path.join(dir, 'state'), sandbox: 'none' })
  const engine: Engine = createEngine({ store: wrapped, runtime, dataDir: dir })
  await engine.start()
  cleanups.push(async () => {
    await engine.stop()
    await store.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })
  const apply = async (script: string) => {
    const wf = workflow('blip', [{ name: 'long', script, retry: { count: 1, strategy: 'Always' as never } }])
    const res = await store.applyResource({ workspace: 'public', type: 'workflow', name: 'blip', version: wf.meta.version, manifest: wf, owner: 'alice' })
    engine.resourceApplied(res.resource, res.outcome)
    return waitFor('the step running with output', async () => {
      const run = (await store.listRuns({ resourceId: res.resource.id }))[0]
      const s = run ? (await store.listStepRuns(run.id))[0] : undefined
      return run && s && s.state === 'running' && s.logSeq > 0 ? run : undefined
    })
  }
  const ended = (runId: string) =>
    waitFor('the run to end', async () => {
      const r = await store.getRun(runId)
      return r && ['succeeded', 'failed', 'cancelled'].includes(r.state) ? r : undefined
    }, 30_000)
  return { store, apply, ended }
}

const LINES = `i=1; while [ $i -le 20 ]; do echo line-$i; i=$((i+1)); sleep 0.1; done`

describe('store errors while following an attempt', () => {
  it('failed log appends are retried: the step is not lost, not retried beside itself, and no line is lost or doubled', async () => {
    const failures: Record<string, number> = {}
    const t = await blippy(failures)
    const run = await t.apply(LINES)
    failures.appendLogs = 3 // several in a row, as during a failover
    const end = await t.ended(run.id)
    const rows = await t.store.listStepRuns(run.id)
    expect(rows.map((r) => `${r.step}#${r.attempt} ${r.state}`)).toEqual(['long#1 succeeded'])
    expect(end.state).toBe('succeeded')
    expect(await logText(t.store, run.id, 'long')).toEqual(Array.from({ length: 20 }, (_, i) => `line-${i + 1}`))
  }, 60_000)

  it('a failed write of the end is retried', async () => {
    const failures: Record<string, number> = {}
    const t = await blippy(failures)
    const run = await t.apply(`echo line-1; sleep 0.5`)
    failures.updateStepRun = 2
    expect((await t.ended(run.id)).state).toBe('succeeded')
    expect((await t.store.listStepRuns(run.id)).map((r) => `${r.step}#${r.attempt} ${r.state}`)).toEqual(['long#1 succeeded'])
  }, 60_000)

  it('a running attempt nobody follows any more (an error path let it go) is reattached by its owner and the run finishes', async () => {
    const failures: Record<string, number> = {}
    // A refusal is not retried: the task ends with the row still `running`.
    const t = await blippy(failures, 'E_CONFLICT')
    const run = await t.apply(`echo line-1; sleep 0.5`)
    failures.updateStepRun = 1
    expect((await t.ended(run.id)).state).toBe('succeeded')
    expect((await t.store.listStepRuns(run.id)).map((r) => `${r.step}#${r.attempt} ${r.state}`)).toEqual(['long#1 succeeded'])
  }, 60_000)
})
