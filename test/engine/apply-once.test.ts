// One apply run per revision even when a replica starts while another reconciles the apply (review of issue 13,
// item 5). The window (between the `already ran` read and the run's commit) is widened with injected latency,
// as on a busy database.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { openTestStore } from '../support/store.js'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import { createEngine, type Engine } from '../../src/engine/index.js'
import type { Store } from '../../src/store/types.js'
import { workflow } from './support.js'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

for (const delay of [0, 50]) {
  it(`a replica starting ${delay} ms into another's reconcile of an apply makes no second apply run`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-apply-once-'))
    const rawA = await openTestStore(dir)
    const rawB = await openTestStore(dir)
    // A's store commits runs 300 ms late.
    const storeA = new Proxy(rawA, {
      get(t, p) {
        const v = Reflect.get(t, p, t)
        if (p === 'createRun') return async (...x: Parameters<Store['createRun']>) => (await new Promise((r) => setTimeout(r, 300)), t.createRun(...x))
        return typeof v === 'function' ? v.bind(t) : v
      },
    }) as Store
    const engines: Engine[] = []
    cleanups.push(async () => {
      for (const e of engines) await e.stop()
      await rawA.close()
      await rawB.close()
      fs.rmSync(dir, { recursive: true, force: true })
    })
    await storeA.createUser({ id: 'alice', name: 'Alice', type: 'person' })
    await storeA.addRoleBinding({ userId: 'alice', role: 'tenant-admin', workspace: null, createdBy: 'test' })
    const runtime = createLocalRuntime({ stateDir: path.join(dir, 'state'), sandbox: 'none' })
    const a = createEngine({ store: storeA, runtime, dataDir: dir, replicaId: 'r-a' })
    const b = createEngine({ store: rawB, runtime, dataDir: dir, replicaId: 'r-b' })
    engines.push(a, b)
    await a.start()
    const wf = workflow('once', [{ name: 'work', script: 'true' }])
    const applied = await storeA.applyResource({ workspace: 'public', type: 'workflow', name: 'once', version: wf.meta.version, manifest: wf, owner: 'alice' })
    await Promise.all([a.resourceApplied(applied.resource, applied.outcome), new Promise((r) => setTimeout(r, delay)).then(() => b.start())])
    await a.idle()
    await b.idle()
    const runs = await rawB.listRuns({ resourceId: applied.resource.id })
    expect(runs.map((r) => `${r.trigger} rev${r.revision} ${r.state}`)).toEqual(['apply rev1 succeeded'])
  }, 60_000)
}
