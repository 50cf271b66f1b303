// Two followers of one attempt (a stalled owner that keeps following after its lease was taken, and the run's
// new owner) must not both store its lines (review of issue 13, item 2): log appends are a compare-and-set on
// the attempt's stored offset, and the follower refused lets go without ending the step.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { openTestStore } from '../support/store.js'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import { createEngine } from '../../src/engine/index.js'
import { CtlError } from '../../src/errors.js'
import type { Store } from '../../src/store/types.js'
import { logText, waitFor, workflow } from './support.js'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

it('a stalled owner and the replica that took its run over do not both store the step lines', async () => {
  const TTL = 1_000
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-fence-'))
  const store = await openTestStore(dir)
  await store.createUser({ id: 'alice', name: 'Alice', type: 'person' })
  await store.addRoleBinding({ userId: 'alice', role: 'tenant-admin', workspace: null, createdBy: 'test' })
  // A cannot reach the lease table any more (its renewals fail) but still follows its step and appends.
  let stalled = false
  const storeA = new Proxy(store, {
    get(t, p) {
      const v = Reflect.get(t, p, t)
      if (typeof v !== 'function') return v
      return (...args: unknown[]) => {
        if (stalled && (p === 'renewRunLeases' || p === 'acquireRunLease' || p === 'listRunLeases')) return Promise.reject(new CtlError('E_UNAVAILABLE', 'stalled'))
        return (v as (...a: unknown[]) => unknown).apply(t, args)
      }
    },
  }) as Store
  const runtime = createLocalRuntime({ stateDir: path.join(dir, 'state'), sandbox: 'none' })
  const a = createEngine({ store: storeA, runtime, dataDir: dir, replicaId: 'replica-a', leaseTtlMs: TTL })
  const b = createEngine({ store, runtime, dataDir: dir, replicaId: 'replica-b', leaseTtlMs: TTL })
  cleanups.push(async () => {
    await a.stop()
    await b.stop()
    await store.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })
  await a.start()
  const wf = workflow('fenced', [{ name: 'long', script: 'i=1; while [ $i -le 60 ]; do echo line-$i; i=$((i+1)); sleep 0.05; done' }])
  const res = await store.applyResource({ workspace: 'public', type: 'workflow', name: 'fenced', version: wf.meta.version, manifest: wf, owner: 'alice' })
  a.resourceApplied(res.resource, res.outcome)
  const run = await waitFor('the step running with output', async () => {
    const r = (await store.listRuns({ resourceId: res.resource.id }))[0]
    const s = r ? (await store.listStepRuns(r.id))[0] : undefined
    return r && s && s.state === 'running' && s.logSeq > 0 ? r : undefined
  })
  stalled = true
  await b.start()
  await waitFor('B to adopt the run', async () => (b.ownedRuns().includes(run.id) ? true : undefined))
  const end = await waitFor('the run to end', async () => {
    const r = await store.getRun(run.id)
    return r && ['succeeded', 'failed'].includes(r.state) ? r : undefined
  }, 30_000)
  expect(end.state).toBe('succeeded')
  expect((await store.listStepRuns(run.id)).map((s) => `${s.step}#${s.attempt} ${s.state}`)).toEqual(['long#1 succeeded'])
  expect(await logText(store, run.id, 'long')).toEqual(Array.from({ length: 60 }, (_, i) => `line-${i + 1}`))
}, 60_000)
