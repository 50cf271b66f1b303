// Issue 12 on the Kubernetes runtime (fake API server): trigger rules, an allowed failure and the finally
// steps run as Pods, the finally step reading how the DAG ended. A real control plane driven by the real client.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import type { ApplyDocument } from '../../src/api/types.js'
import type { StepRunRecord } from '../../src/store/types.js'
import { offlineManifestContext } from '../../src/cli/offline.js'
import { lintSources } from '../../src/manifest/index.js'
import { startControlPlane, type ControlPlane } from '../../src/controlplane/control-plane.js'
import { defaultBehaviour, startFakeKube, type FakeKube, type KubeObject } from '../support/fake-kube/index.js'
import { waitForRunEnd } from './helpers.js'

const manifest = `
version: v2alpha
name: rules
type: workflow
spec:
  dag:
    - name: main
      spec: {stack: script, stackSpec: {interpreter: sh, script: "echo main; exit 3"}}
    - name: optional
      allowFailure: true
      spec: {stack: script, stackSpec: {interpreter: sh, script: "exit 1"}}
    - name: fallback
      depends: [main]
      runIf: anyFailed
      handles: [main]
      spec: {stack: script, stackSpec: {interpreter: sh, script: "echo falling back"}}
    - name: skipped
      depends: [main]
      spec: {stack: script, stackSpec: {interpreter: sh, script: "echo never"}}
    - name: cleanup
      depends: [main, optional, fallback]
      runIf: allDone
      spec: {stack: script, stackSpec: {interpreter: sh, script: "echo cleanup"}}
  finally:
    - name: report
      spec: {stack: script, stackSpec: {interpreter: sh, script: "echo status={{.workflow.status}}"}}
`

describe('trigger rules and finally on the Kubernetes runtime (fake cluster)', () => {
  let fake: FakeKube
  let plane: ControlPlane
  let client: CtlClient
  let dataDir: string
  const played: KubeObject[] = []
  const ref = { workspace: 'public', type: 'workflow', name: 'rules' }

  beforeAll(async () => {
    fake = await startFakeKube()
    fake.kubelet.behaviour = (pod) => {
      played.push(structuredClone(pod))
      return defaultBehaviour(pod)
    }
    dataDir = mkdtempSync(join(tmpdir(), 'ctl-k8s-rules-'))
    plane = await startControlPlane({ dataDir, port: 0, runtime: 'kubernetes', kubernetes: { kubeconfigPath: fake.kubeconfigPath, manageNamespaces: true } })
    client = new CtlClient({ baseUrl: plane.url, apiKey: plane.adminToken! })
    const lint = lintSources([{ file: 'rules.yaml', text: manifest }], offlineManifestContext(), { interpolate: false, env: {} })
    expect(lint.issues).toEqual([])
    const documents: ApplyDocument[] = lint.documents.map((d) => ({ source: { file: d.doc.file, index: d.doc.index }, manifest: d.doc.value }))
    expect((await client.apply('public', documents)).results[0]?.outcome).toBe('created')
  }, 30_000)

  afterAll(async () => {
    await plane?.close()
    expect(fake?.validationFailures ?? []).toEqual([])
    await fake?.close()
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  })

  it('the fallback handles the failure, the allowed failure is allowed, cleanup and finally run: the run succeeds', async () => {
    const runs = await client.runs(ref, { limit: 1 })
    const end = await waitForRunEnd(client, runs[0]!.id)
    const latest = new Map<string, StepRunRecord>()
    for (const s of end.steps) if (!latest.has(s.step) || latest.get(s.step)!.attempt < s.attempt) latest.set(s.step, s)
    expect(Object.fromEntries([...latest].map(([n, s]) => [n, s.state]))).toEqual({
      main: 'failed', optional: 'failed', fallback: 'succeeded', skipped: 'skipped', cleanup: 'succeeded', report: 'succeeded',
    })
    expect(end.run.state).toBe('succeeded')
    expect(end.allowedFailures).toEqual(['optional'])
    expect(end.finally).toEqual(['report'])
    expect((await client.logPage(end.run.id, { step: 'report' })).map((l) => l.text)).toContain('status=Succeeded')
    // Every step that ran is a Pod, the finally step last.
    const pods = played.filter((p) => p.metadata?.labels?.['ctl.dev/workflow'] === 'rules').map((p) => p.metadata?.labels?.['ctl.dev/step'])
    expect(pods.sort()).toEqual(['cleanup', 'fallback', 'main', 'optional', 'report'])
    expect(played.at(-1)?.metadata?.labels?.['ctl.dev/step']).toBe('report')
  }, 60_000)
})
