// Lease expiry does not depend on each replica's clock, and an attempt being launched is not judged lost by
// another replica (review of issue 13, item 6).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { createStoreLauncher, createEngine, type Engine } from '../../src/engine/index.js'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import { openStore } from '../../src/store/open.js'
import { freshDatabase } from '../support/postgres.js'
import type { Runtime } from '../../src/runtime/types.js'
import { harness, logText, waitFor, workflow, type Harness } from './support.js'

let h: Harness | undefined
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  await h?.close()
  h = undefined
  for (const c of cleanups.splice(0).reverse()) await c()
})

it('on PostgreSQL a replica whose clock is behind by more than the TTL keeps its runs: leases compare the database clock', async () => {
  const TTL = 1_500
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-clock-'))
  const store = await openStore(await freshDatabase())
  await store.createUser({ id: 'alice', name: 'Alice', type: 'person' })
  await store.addRoleBinding({ userId: 'alice', role: 'tenant-admin', workspace: null, createdBy: 'test' })
  const runtime = createLocalRuntime({ stateDir: path.join(dir, 'state'), sandbox: 'none' })
  const engines: Engine[] = []
  cleanups.push(async () => {
    for (const e of engines) await e.stop()
    await store.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })
  const a = createEngine({ store, runtime, dataDir: dir, replicaId: 'replica-a', leaseTtlMs: TTL, now: () => new Date(Date.now() - 10_000) })
  const b = createEngine({ store, runtime, dataDir: dir, replicaId: 'replica-b', leaseTtlMs: TTL })
  engines.push(a, b)
  await a.start()
  await b.start()
  const wf = workflow('skewed', [{ name: 'long', script: 'i=1; while [ $i -le 40 ]; do echo line-$i; i=$((i+1)); sleep 0.05; done' }])
  const res = await store.applyResource({ workspace: 'public', type: 'workflow', name: 'skewed', version: wf.meta.version, manifest: wf, owner: 'alice' })
  let taken = false
  const watch = setInterval(() => (taken ||= b.ownedRuns().length > 0), 50)
  a.resourceApplied(res.resource, res.outcome)
  const run = await waitFor('the run to end', async () => {
    const r = (await store.listRuns({ resourceId: res.resource.id }))[0]
    return r && ['succeeded', 'failed'].includes(r.state) ? r : undefined
  }, 30_000)
  clearInterval(watch)
  expect(taken).toBe(false)
  expect(run.state).toBe('succeeded')
  expect(await logText(store, run.id, 'long')).toEqual(Array.from({ length: 40 }, (_, i) => `line-${i + 1}`))
}, 60_000)

it('an attempt marked running whose handle is not stored yet is left to its launcher for a grace period, not marked Lost', async () => {
  h = await harness({ start: false })
  // As on Kubernetes before the Pod exists: find() sees nothing and does not keep a later start from happening.
  let launched = false
  const runtime: Runtime = { ...h.runtime, find: async (key) => (launched ? h!.runtime.find!(key) : undefined) }
  const engine = createEngine({ store: h.store, runtime, dataDir: h.dir, replicaId: 'replica-b', leaseTtlMs: 5_000 })
  cleanups.push(() => engine.stop())
  const wf = workflow('launching', [{ name: 'only', script: 'for i in 1 2 3; do echo line-$i; sleep 0.05; done' }])
  const { resource } = await h.store.applyResource({ workspace: 'public', type: 'workflow', name: 'launching', version: 'v2alpha', manifest: wf, owner: 'alice' })
  await h.store.setResourceStatus(resource.id, 'active')
  const { run, steps } = await h.store.createRun({ resourceId: resource.id, revision: 1, trigger: 'apply', steps: ['only'] })
  await h.store.updateRun(run.id, { state: 'running', startedAt: new Date().toISOString() })
  const key = { runId: run.id, step: 'only', attempt: 1 }
  // Another replica (alive, its lease just taken) marked the attempt and is about to start it.
  await h.store.updateStepRun(steps[0]!.id, { state: 'running', startedAt: new Date().toISOString(), runtimeHandle: { launching: true, key } })
  await engine.start()
  await waitFor('the adoption', async () => (engine.ownedRuns().includes(run.id) ? true : undefined))
  // This replica adopted the run and found no handle and no process: it must not write Lost. The launcher goes on.
  const launch = await createStoreLauncher({ store: h.store, dataDir: h.dir }).prepare({ run, resource, workflow: wf }, wf.workflow.dag[0]!, 1)
  const handle = await h.runtime.start(launch)
  launched = true
  await h.store.updateStepRun(steps[0]!.id, { runtimeHandle: handle })
  const end = await waitFor('the run to end', async () => {
    const r = await h!.store.getRun(run.id)
    return r && ['succeeded', 'failed'].includes(r.state) ? r : undefined
  }, 30_000)
  expect((await h.store.listStepRuns(run.id)).map((a) => [a.attempt, a.state, a.reason])).toEqual([[1, 'succeeded', 'Completed']])
  expect(end.state).toBe('succeeded')
}, 60_000)
