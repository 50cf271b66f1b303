// Shared set-up for the engine's integration tests: a real SQLite store and a
// real local runtime in temp folders, and small builders for workflows.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { openTestStore } from '../support/store.js'
import type { ResourceRecord, Store, StepRunRecord } from '../../src/store/types.js'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import type { Runtime } from '../../src/runtime/types.js'
import { createEngine, type Engine } from '../../src/engine/index.js'
import type { RetrySpec, ScheduleSpec, StepModel, WorkflowResource } from '../../src/manifest/model.js'
import type { Metrics } from '../../src/metrics/metrics.js'

export interface StepInput {
  name: string
  script: string
  depends?: string[]
  retry?: RetrySpec
  timeoutSeconds?: number
  /** Volume ids mounted at /data/<id>. */
  volumes?: string[]
}

export function workflow(name: string, steps: StepInput[], extra: { parallelism?: number; schedule?: ScheduleSpec } = {}): WorkflowResource {
  const dag: StepModel[] = steps.map((s, i) => ({
    name: s.name,
    depends: s.depends ?? [],
    retry: s.retry,
    timeoutSeconds: s.timeoutSeconds,
    spec: {
      stack: { name: 'script' },
      stackSpec: { interpreter: 'sh', script: s.script },
      compute: 'runnable-default',
      envs: {},
      volumes: (s.volumes ?? []).map((id) => ({ id, directory: `/data/${id}`, readOnly: false })),
      projection: { secrets: [], envVars: [], files: [], arguments: [], allKeysAsEnv: [] },
    },
    path: ['spec', 'dag', i],
  }))
  return {
    meta: { name, version: 'v2alpha', type: 'workflow', tags: [], layer: 'user', workspace: 'public' },
    workflow: { dag, ...(extra.parallelism !== undefined ? { parallelism: extra.parallelism } : {}), ...(extra.schedule ? { schedule: extra.schedule } : {}) },
  }
}

export interface Harness {
  dir: string
  store: Store
  runtime: Runtime
  engine: Engine
  /** A second engine on the same store and state folder (as after a restart). */
  newEngine(opts?: { now?: () => Date; replicaId?: string; leaseTtlMs?: number; metrics?: Metrics }): Engine
  apply(wf: WorkflowResource): Promise<ResourceRecord>
  applyVolume(id: string): Promise<ResourceRecord>
  /** Host folder of a volume. */
  volume(id: string): string
  close(): Promise<void>
}

export async function harness(opts: { maxParallelSteps?: number; now?: () => Date; start?: boolean; sandbox?: 'auto' | 'none'; maxTimerSleepMs?: number; replicaId?: string; leaseTtlMs?: number } = {}): Promise<Harness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-engine-'))
  const store = await openTestStore(dir)
  // alice, who applies the workflows here, exists: what the engine judges per request (a backfill's requester) finds her.
  await store.createUser({ id: 'alice', name: 'Alice', type: 'person' })
  await store.addRoleBinding({ userId: 'alice', role: 'tenant-admin', workspace: null, createdBy: 'test' })
  const runtime = createLocalRuntime({ stateDir: path.join(dir, 'state'), sandbox: opts.sandbox })
  const engines: Engine[] = []
  const newEngine = (o: { now?: () => Date; replicaId?: string; leaseTtlMs?: number; metrics?: Metrics } = {}) => {
    const e = createEngine({
      store, runtime, dataDir: dir, maxParallelSteps: opts.maxParallelSteps, now: o.now ?? opts.now, maxTimerSleepMs: opts.maxTimerSleepMs,
      replicaId: o.replicaId ?? opts.replicaId, leaseTtlMs: o.leaseTtlMs ?? opts.leaseTtlMs, metrics: o.metrics,
    })
    engines.push(e)
    return e
  }
  const engine = newEngine()
  if (opts.start !== false) await engine.start()
  const h: Harness = {
    dir,
    store,
    runtime,
    engine,
    newEngine,
    async apply(wf) {
      wf = structuredClone(wf)
      const res = await store.applyResource({ workspace: 'public', type: 'workflow', name: wf.meta.name, version: wf.meta.version, manifest: wf, owner: 'alice' })
      h.engine.resourceApplied(res.resource, res.outcome)
      return res.resource
    },
    async applyVolume(id) {
      // Mounting needs `use` on the volume (checked as each step starts): its owner alice, who owns the workflows too, must be a user of the workspace.
      if (!(await store.getUser('alice'))) {
        await store.createUser({ id: 'alice', name: 'Alice', type: 'person' })
        await store.addRoleBinding({ userId: 'alice', role: 'data-dev', workspace: 'public', createdBy: 'admin' })
      }
      const manifest = { meta: { name: id, version: 'v1beta', type: 'volume', tags: [], layer: 'user', workspace: 'public' }, volume: { size: '1Gi', accessMode: 'ReadWriteMany', type: 'temp' } }
      const res = await store.applyResource({ workspace: 'public', type: 'volume', name: id, version: 'v1beta', manifest, owner: 'alice' })
      h.engine.resourceApplied(res.resource, res.outcome)
      return res.resource
    },
    volume: (id) => path.join(dir, 'volumes', 'public', id),
    async close() {
      for (const e of engines) await e.stop()
      await store.close()
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
  return h
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined && v !== false) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

export function byStep(steps: StepRunRecord[]): Record<string, StepRunRecord[]> {
  const out: Record<string, StepRunRecord[]> = {}
  for (const s of steps) (out[s.step] ??= []).push(s)
  return out
}

export async function logText(store: Store, runId: string, step: string): Promise<string[]> {
  return (await store.readLogs({ runId, step })).map((l) => l.text)
}
