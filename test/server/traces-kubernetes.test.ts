// Traces on the Kubernetes runtime (fake API server): each step's Pod carries TRACEPARENT naming its attempt's span
// in the run's trace, and the spans reach the in-test OTLP receiver when the control plane stops.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { startControlPlane, type ControlPlane } from '../../src/controlplane/control-plane.js'
import { attemptSpanId, runSpanId } from '../../src/engine/trace-ids.js'
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.js'
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js'
import { KubeletScripts } from './kube-plane.js'
import { doc, waitForRunEnd, workflow } from './helpers.js'

describe('traces on the Kubernetes runtime (fake cluster)', () => {
  let fake: FakeKube
  let receiver: OtlpReceiver
  let plane: ControlPlane | undefined
  let client: CtlClient
  let kubelet: KubeletScripts
  let dataDir: string

  beforeAll(async () => {
    fake = await startFakeKube()
    receiver = await startOtlpReceiver()
    kubelet = new KubeletScripts(fake)
    dataDir = mkdtempSync(join(tmpdir(), 'ctl-k8s-traces-'))
    plane = await startControlPlane({
      dataDir, port: 0, runtime: 'kubernetes', kubernetes: { kubeconfigPath: fake.kubeconfigPath, manageNamespaces: true }, otlpEndpoint: receiver.endpoint,
    })
    client = new CtlClient({ baseUrl: plane.url, apiKey: plane.adminToken! })
  }, 30_000)

  afterAll(async () => {
    await plane?.close()
    expect(fake?.validationFailures ?? []).toEqual([])
    await fake?.close()
    await receiver?.close()
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  })

  it('gives each Pod TRACEPARENT of its attempt, and exports the run with its attempts', async () => {
    const wf = workflow('kube-traced', { build: 'echo build', ship: 'echo ship' })
    ;(wf.spec as { dag: Record<string, unknown>[] }).dag[1]!.depends = ['build']
    const answer = await client.apply('public', [doc(wf)])
    const runId = answer.results[0]!.runId!
    const detail = await waitForRunEnd(client, runId)
    expect(detail.run.state).toBe('succeeded')
    const traceId = detail.run.traceId!
    expect(traceId).toMatch(/^[0-9a-f]{32}$/)

    const pods = kubelet.played.filter((p) => p.metadata?.labels?.['ctl.dev/workflow'] === 'kube-traced')
    expect(pods).toHaveLength(2)
    for (const pod of pods) {
      const container = (pod as { spec: { containers: { env?: { name: string; value?: string }[] }[] } }).spec.containers[0]!
      const step = container.env?.find((e) => e.name === 'CTL_STEP_NAME')?.value
      expect(container.env?.find((e) => e.name === 'TRACEPARENT')?.value).toBe(`00-${traceId}-${attemptSpanId(runId, step!, 1)}-01`)
    }

    await plane!.close()
    plane = undefined
    const ofRun = receiver.spans.filter((s) => s.traceId === traceId)
    expect(ofRun.map((s) => s.name).sort()).toEqual(['run kube-traced', 'step build', 'step ship'])
    for (const s of ofRun.filter((x) => x.name.startsWith('step '))) expect(s.parentSpanId).toBe(runSpanId(runId))
  })
})
