// Issue 11 acceptance on the Kubernetes runtime (fake API server): the example workflow with params,
// outputs passed through the Pods' termination messages, forEach and matrix instances as Pods, and the
// condition deciding deploy. A real control plane driven by the real client.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import type { ApplyDocument } from '../../src/api/types.js'
import type { StepRunRecord } from '../../src/store/types.js'
import { offlineManifestContext } from '../../src/cli/offline.js'
import { lintFiles } from '../../src/manifest/index.js'
import { startControlPlane, type ControlPlane } from '../../src/controlplane/control-plane.js'
import { defaultBehaviour, startFakeKube, type FakeKube, type KubeObject } from '../support/fake-kube/index.js'
import { repoRoot } from '../cli/helpers.js'
import { waitForRunEnd } from './helpers.js'

describe('the example workflow on the Kubernetes runtime (fake cluster)', () => {
  let fake: FakeKube
  let plane: ControlPlane
  let client: CtlClient
  let dataDir: string
  const played: KubeObject[] = []
  const ref = { workspace: 'public', type: 'workflow', name: 'data-flow' }

  beforeAll(async () => {
    fake = await startFakeKube()
    // The default kubelet plays the `echo` lines of the script (from the step's ConfigMap, as mounted) and
    // `echo … >> "$CTL_OUTPUTS"` into the termination message.
    fake.kubelet.behaviour = (pod) => {
      played.push(structuredClone(pod))
      return defaultBehaviour(pod)
    }
    dataDir = mkdtempSync(join(tmpdir(), 'ctl-k8s-fanout-'))
    plane = await startControlPlane({ dataDir, port: 0, runtime: 'kubernetes', kubernetes: { kubeconfigPath: fake.kubeconfigPath, manageNamespaces: true } })
    client = new CtlClient({ baseUrl: plane.url, apiKey: plane.adminToken! })
    const lint = await lintFiles([join(repoRoot, 'examples', 'data-flow.yaml')], offlineManifestContext(), { interpolate: true, env: {} })
    expect(lint.issues).toEqual([])
    const documents: ApplyDocument[] = lint.documents.map((d) => ({ source: { file: d.doc.file, index: d.doc.index }, manifest: d.doc.value }))
    const applied = await client.apply('public', documents, { params: { version: '1.2.3', environment: 'production' } })
    expect(applied.results[0]?.outcome).toBe('created')
  }, 30_000)

  afterAll(async () => {
    await plane?.close()
    expect(fake?.validationFailures ?? []).toEqual([])
    await fake?.close()
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  })

  const latestOf = (steps: StepRunRecord[]) => {
    const m = new Map<string, StepRunRecord>()
    for (const s of steps) if (!m.has(s.step) || m.get(s.step)!.attempt < s.attempt) m.set(s.step, s)
    return m
  }

  it('production: instances run as Pods, outputs come back through the termination message, deploy prints the artifact', async () => {
    const runs = await client.runs(ref, { limit: 1 })
    const end = await waitForRunEnd(client, runs[0]!.id)
    expect(end.run.state).toBe('succeeded')
    const latest = latestOf(end.steps)
    expect(latest.get('build')?.outputs).toEqual({ artifact: 'app-1.2.3.tar', files: '["a.csv","b.csv","c.csv"]' })
    expect(end.steps.filter((s) => s.parent === 'shard').map((s) => s.step)).toEqual(['shard-0', 'shard-1', 'shard-2'])
    expect(end.steps.filter((s) => s.parent === 'test').map((s) => s.step).sort()).toEqual(['test-alpine-3.12', 'test-debian-3.11', 'test-debian-3.12', 'test-debian-3.13'])
    expect(latest.get('deploy')?.state).toBe('succeeded')
    const deployLog = await client.logPage(end.run.id, { step: 'deploy' })
    expect(deployLog.map((l) => l.text)).toContain('deploy app-1.2.3.tar')
    const shard1 = await client.logPage(end.run.id, { step: 'shard-1' })
    expect(shard1.map((l) => l.text)).toContain('b.csv #1')
    // One Pod per instance, labelled with the instance's name.
    const steps = played.filter((p) => p.metadata?.labels?.['ctl.dev/workflow'] === 'data-flow').map((p) => p.metadata?.labels?.['ctl.dev/step'])
    expect(steps.sort()).toEqual(['build', 'deploy', 'shard-0', 'shard-1', 'shard-2', 'test-alpine-3.12', 'test-debian-3.11', 'test-debian-3.12', 'test-debian-3.13'])
  }, 60_000)

  it('staging: deploy is skipped by its condition, the run succeeds', async () => {
    const run = await client.runNow(ref, { version: '1.2.3', environment: 'staging' })
    const end = await waitForRunEnd(client, run.id)
    expect(end.run.state).toBe('succeeded')
    expect(latestOf(end.steps).get('deploy')).toMatchObject({ state: 'skipped', message: "condition false: params.environment == 'production' && steps.build.outputs.artifact != ''" })
  }, 60_000)
})
