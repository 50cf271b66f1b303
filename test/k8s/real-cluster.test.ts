// Opt-in: the same scenarios on a REAL cluster (`npm run test:k8s` with KUBECONFIG set, e.g. a kind
// or k3d cluster). Skipped in `npm test`: no cluster runs on the machines where the suite normally runs.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import type { ApplyDocument } from '../../src/api/types.js'
import { offlineManifestContext } from '../../src/cli/offline.js'
import { lintFiles } from '../../src/manifest/index.js'
import { startControlPlane, type ControlPlane } from '../../src/controlplane/control-plane.js'
import { repoRoot } from '../cli/helpers.js'

const enabled = process.env.CTL_TEST_K8S === '1' && Boolean(process.env.KUBECONFIG)
const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'killed'])

describe.skipIf(!enabled)('examples/ on a real Kubernetes cluster (KUBECONFIG)', () => {
  let plane: ControlPlane
  let client: CtlClient
  let dataDir: string

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'ctl-k8s-real-'))
    plane = await startControlPlane({
      dataDir, port: 0, runtime: 'kubernetes',
      kubernetes: { kubeconfigPath: process.env.KUBECONFIG, namespacePrefix: `ctl-test-${Date.now().toString(36)}-`, manageNamespaces: true },
    })
    client = new CtlClient({ baseUrl: plane.url, apiKey: plane.adminToken })
  })

  afterAll(async () => {
    await plane?.close()
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  })

  it('runs every example workflow to succeeded', async () => {
    const linted = await lintFiles([join(repoRoot, 'examples')], offlineManifestContext(), { interpolate: true, env: {}, recursive: true })
    expect(linted.issues).toEqual([])
    const documents: ApplyDocument[] = linted.documents.map((d) => ({ source: { file: d.doc.file, index: d.doc.index }, manifest: d.doc.value }))
    await client.apply('public', documents)
    const workflows = linted.documents.filter((d) => d.resource.meta.type === 'workflow').map((d) => d.resource)
    for (const wf of workflows) {
      const ref = { workspace: 'public', type: 'workflow', name: wf.meta.name }
      if ('workflow' in wf && wf.workflow.schedule) await client.runNow(ref)
    }
    const deadline = Date.now() + 10 * 60_000
    for (const wf of workflows) {
      const ref = { workspace: 'public', type: 'workflow', name: wf.meta.name }
      for (;;) {
        const [run] = await client.runs(ref, { limit: 1 })
        if (run && FINAL.has(run.state)) {
          expect(`${wf.meta.name}: ${run.state}`).toBe(`${wf.meta.name}: succeeded`)
          break
        }
        if (Date.now() > deadline) throw new Error(`${wf.meta.name} did not finish on the cluster in 10 minutes`)
        await new Promise((resolve) => setTimeout(resolve, 1000))
      }
    }
  }, 15 * 60_000)
})
