// Issue 13 acceptance, Kubernetes runtime on the fake API server: three control-plane replicas (real child
// processes, each with its own Pod watch) on ONE store. The replica that owns ten running runs is SIGKILLed;
// the others take its leases over when they expire, adopt the runs' Pods (found by their stored handles, the
// logs followed on from the stored offset) and finish every run: one Pod per step attempt (no step started
// twice), every log line once. The store is a parameter: one shared SQLite file, and a real PostgreSQL.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/open.js'
import type { Store } from '../../src/store/types.js'
import { startFakeKube, type FakeKube, type KubeObject } from '../support/fake-kube/index.js'
import { freshDatabase } from '../support/postgres.js'
import { doc, waitFor } from './helpers.js'
import { NAMESPACE } from './kube-plane.js'
import { builtDist, numbered, startReplicas, type Replica } from './replicas.js'

const RUNS = 10
const LINES = 30
const TTL_MS = 2_000
const FINAL = ['succeeded', 'failed', 'cancelled', 'killed']

const STORES: { name: string; url: (dataDir: string) => Promise<string> }[] = [
  { name: 'one shared SQLite file', url: async (dataDir) => join(dataDir, 'ctl.db') },
  { name: 'PostgreSQL', url: () => freshDatabase() },
]

describe.each(STORES)('three Kubernetes replicas on $name: the owner of ten running runs is SIGKILLed', ({ url }) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ctl-k8s-replicas-'))
  const logDir = mkdtempSync(join(tmpdir(), 'ctl-k8s-replicas-logs-'))
  let replicas: Replica[] = []
  let store: Store | undefined
  let fake: FakeKube | undefined
  /** Every Pod the kubelet was handed: one per step attempt started. */
  const played: KubeObject[] = []

  afterAll(async () => {
    for (const r of replicas) await r.stop()
    await store?.close()
    if (fake) expect(fake.validationFailures).toEqual([])
    await fake?.close()
    rmSync(dataDir, { recursive: true, force: true })
    rmSync(logDir, { recursive: true, force: true })
  })

  it('another replica finishes every run; one Pod per step; no log line lost or doubled', async () => {
    expect(builtDist(), 'npm test builds dist/ first').toBe(true)
    fake = await startFakeKube()
    // Each Pod prints numbered lines slowly and stays running until terminated (after the fault), then succeeds.
    fake.kubelet.behaviour = (pod) => {
      played.push(structuredClone(pod))
      return { lines: numbered('pod', LINES), delayMs: 100, hold: true }
    }
    const storeUrl = await url(dataDir)
    replicas = await startReplicas({
      dataDir, storeUrl, leaseTtlMs: TTL_MS, runtime: 'kubernetes',
      kubernetes: { kubeconfigPath: fake.kubeconfigPath, manageNamespaces: true, imagePullGraceSeconds: 1 },
    }, logDir, 'kube')
    store = await openStore(storeUrl)
    const [owner, ...others] = replicas as [Replica, Replica, Replica]

    const wf = {
      name: 'shared', version: 'v2alpha', type: 'workflow',
      spec: { dag: [{ name: 'work', spec: { stack: 'script', stackSpec: { interpreter: 'sh', script: 'echo played by the fake kubelet' } } }] },
    }
    await owner.client.apply('public', [doc(wf, 'shared.yaml')])
    const ref = { workspace: 'public', type: 'workflow', name: 'shared' }
    await waitFor('the applied run', () => owner.client.runs(ref), (runs) => runs.length === 1)
    for (let i = 1; i < RUNS; i++) await owner.client.runNow(ref)
    const ids = (await owner.client.runs(ref)).map((r) => r.id)
    expect(ids).toHaveLength(RUNS)

    // Compact rows (state, lines, why) so that a failed wait says what it saw.
    await waitFor('every step running with some lines stored', async () => (await Promise.all(ids.map((id) => store!.listStepRuns(id))))
      .map((steps) => steps.map((x) => ({ state: x.state, logSeq: x.logSeq, reason: x.reason, message: x.message }))),
      (all) => all.every((steps) => steps.length === 1 && steps[0]!.state === 'running' && steps[0]!.logSeq > 0), 60_000)
    expect((await store.listRunLeases()).filter((l) => ids.includes(l.runId)).map((l) => l.owner)).toEqual(ids.map(() => owner.id))

    await owner.kill()
    // The Pods write their lines while nobody, then their adopters, follow them, and end once they wrote them all.
    for (const pod of played) {
      const name = pod.metadata!.name!
      await waitFor(`pod ${name} to have written its lines`, async () => fake!.kubelet.held(NAMESPACE, name), (held) => held, 30_000)
      fake.kubelet.terminate(NAMESPACE, name, { exitCode: 0 })
    }
    const done = await waitFor('every run to end', () => Promise.all(ids.map((id) => others[1]!.client.run(id))),
      (all) => all.every((d) => FINAL.includes(d.run.state)), 120_000)

    for (const d of done) {
      expect(d.run.state, `run ${d.run.id}`).toBe('succeeded')
      expect(d.steps.map((s) => [s.attempt, s.state]), `run ${d.run.id} has one attempt`).toEqual([[1, 'succeeded']])
      const lines = await others[0]!.client.logPage(d.run.id, { step: 'work' })
      expect(lines.map((l) => l.text), `the log of run ${d.run.id}`).toEqual(numbered('pod', LINES))
      expect(lines.map((l) => l.seq)).toEqual(Array.from({ length: LINES }, (_, i) => i + 1))
    }
    // One Pod per run: no step attempt was started twice, by the dead replica or the adopters.
    const podRuns = played.map((p) => p.metadata?.labels?.['ctl.dev/run'])
    expect(podRuns).toHaveLength(RUNS)
    expect(new Set(podRuns).size).toBe(RUNS)
    await waitFor('the leases to go', () => store!.listRunLeases(), (all) => all.filter((l) => ids.includes(l.runId)).length === 0)
  }, 240_000)
})
