// Approval steps on the Kubernetes runtime (fake API server): no Pod exists for a step while it waits;
// approved, its Pod runs once; rejected, no Pod is ever made and its dependents are skipped.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { startControlPlane, type ControlPlane } from '../../src/controlplane/control-plane.js'
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.js'
import { KubeletScripts } from './kube-plane.js'
import { doc, waitFor, waitForRunEnd, workflow } from './helpers.js'

describe('approval steps on the Kubernetes runtime (fake cluster)', () => {
  let fake: FakeKube
  let plane: ControlPlane
  let client: CtlClient
  let kubelet: KubeletScripts
  let dataDir: string

  beforeAll(async () => {
    fake = await startFakeKube()
    kubelet = new KubeletScripts(fake)
    dataDir = mkdtempSync(join(tmpdir(), 'ctl-k8s-approvals-'))
    plane = await startControlPlane({ dataDir, port: 0, runtime: 'kubernetes', kubernetes: { kubeconfigPath: fake.kubeconfigPath, manageNamespaces: true } })
    client = new CtlClient({ baseUrl: plane.url, apiKey: plane.adminToken! })
  }, 30_000)

  afterAll(async () => {
    await plane?.close()
    expect(fake?.validationFailures ?? []).toEqual([])
    await fake?.close()
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  })

  function gated(name: string): Record<string, unknown> {
    const wf = workflow(name, { build: 'echo build', deploy: 'echo deploy', after: 'echo after' })
    const dag = (wf.spec as { dag: Record<string, unknown>[] }).dag
    dag[1]!.depends = ['build']
    dag[1]!.approval = { required: true, message: 'Ship {{.params.v}}?' }
    dag[2]!.depends = ['deploy']
    ;(wf.spec as Record<string, unknown>).params = [{ name: 'v', type: 'string', default: '7' }]
    return wf
  }

  async function waiting(name: string): Promise<string> {
    const ref = { workspace: 'public', type: 'workflow', name }
    const runs = await waitFor(`a run of ${name}`, () => client.runs(ref), (r) => r.length > 0)
    await waitFor('deploy to wait', () => client.run(runs[0]!.id), (d) => d.steps.some((s) => s.step === 'deploy' && s.state === 'waiting'))
    return runs[0]!.id
  }

  it('approve: the waiting step gets its Pod only once approved, and the run succeeds', async () => {
    await client.apply('public', [doc(gated('ship'))])
    const runId = await waiting('ship')
    const detail = await client.run(runId)
    expect(detail.run.state).toBe('running')
    expect(detail.steps.find((s) => s.step === 'deploy')?.approval?.message).toBe('Ship 7?')
    expect(kubelet.podsOf('ship').map((p) => p.key.step)).toEqual(['build'])

    await client.decide({ workspace: 'public', type: 'workflow', name: 'ship' }, 'approve', { step: 'deploy', comment: 'go' })
    const end = await waitForRunEnd(client, runId)
    expect(end.run.state).toBe('succeeded')
    expect(kubelet.podsOf('ship').map((p) => p.key.step)).toEqual(['build', 'deploy', 'after'])
  }, 60_000)

  it('reject: no Pod for the step, its dependents are skipped, the run fails', async () => {
    await client.apply('public', [doc(gated('hold'))])
    const runId = await waiting('hold')
    await client.decide({ workspace: 'public', type: 'workflow', name: 'hold' }, 'reject', { step: 'deploy', runId, comment: 'no' })
    const end = await waitForRunEnd(client, runId)
    expect(end.run.state).toBe('failed')
    expect(end.steps.map((s) => [s.step, s.state])).toEqual([['after', 'skipped'], ['build', 'succeeded'], ['deploy', 'failed']])
    expect(end.steps.find((s) => s.step === 'deploy')).toMatchObject({ reason: 'Rejected', message: 'Rejected by admin: no' })
    expect(kubelet.podsOf('hold').map((p) => p.key.step)).toEqual(['build'])
  }, 60_000)
})
