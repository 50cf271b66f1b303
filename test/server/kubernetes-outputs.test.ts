// Step outputs through a control plane on the fake Kubernetes cluster: the Pod builder points the termination
// message at $CTL_OUTPUTS, the kubelet hands the file back in the Pod's status, and the attempt stores it.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CtlClient } from '../../src/client/client.js'
import type { ControlPlane } from '../../src/controlplane/control-plane.js'
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.js'
import { KubeletScripts, startKubePlane } from './kube-plane.js'
import { doc, waitForRunEnd, workflow } from './helpers.js'

describe('outputs on the Kubernetes runtime through the control plane', () => {
  let fake: FakeKube
  let kubelet: KubeletScripts
  let plane: ControlPlane
  let client: CtlClient
  let dataDir: string

  beforeAll(async () => {
    fake = await startFakeKube()
    kubelet = new KubeletScripts(fake)
    dataDir = mkdtempSync(join(tmpdir(), 'ctl-k8s-outputs-'))
    ;({ plane, client } = await startKubePlane(fake, dataDir))
  }, 30_000)

  afterAll(async () => {
    await plane?.close()
    expect(fake?.validationFailures).toEqual([])
    await fake?.close()
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  })

  it('stores what the step left in its termination message file, and fails one that reached 4 KiB', async () => {
    kubelet.script('kouts', (key) =>
      key.step === 'build'
        ? { lines: ['building'], terminationMessage: 'artifact=app-1.2.3.tar\nfiles=["a.csv","b.csv"]\n' }
        : { terminationMessage: 'k=' + 'x'.repeat(5000) + '\n' },
    )
    await client.apply('public', [doc(workflow('kouts', { build: 'echo scripted by the fake kubelet', big: 'echo scripted too' }))])
    const [run] = await client.runs({ workspace: 'public', type: 'workflow', name: 'kouts' })
    const detail = await waitForRunEnd(client, run!.id)
    const pod = kubelet.played.find((p) => p.metadata?.labels?.['ctl.dev/step'] === 'build')
    expect((pod?.spec as { containers: { terminationMessagePath?: string; env?: { name: string; value?: string }[] }[] }).containers[0]).toMatchObject({
      terminationMessagePath: '/ctl/outputs',
      terminationMessagePolicy: 'File',
      env: expect.arrayContaining([{ name: 'CTL_OUTPUTS', value: '/ctl/outputs' }]),
    })
    expect(detail.steps.find((s) => s.step === 'build')).toMatchObject({ state: 'succeeded', outputs: { artifact: 'app-1.2.3.tar', files: '["a.csv","b.csv"]' } })
    const big = detail.steps.find((s) => s.step === 'big')!
    expect(big).toMatchObject({ state: 'failed', reason: 'Error' })
    expect(big.message).toMatch(/^outputs: Kubernetes keeps at most 4096 bytes of \$CTL_OUTPUTS/)
  })
})
