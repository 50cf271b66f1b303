// Issue 5 acceptance: every workflow in examples/ runs to `succeeded` on the fake Kubernetes cluster,
// through a real control plane started with the Kubernetes runtime and driven by the real client, and
// every object ctl created there passed the fake's OpenAPI validation.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { parseAllDocuments } from 'yaml'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import type { ApplyDocument, ResourceRef, RunRecord } from '../../src/api/types.js'
import { CtlError } from '../../src/errors.js'
import { offlineManifestContext } from '../../src/cli/offline.js'
import { lintFiles } from '../../src/manifest/index.js'
import { startControlPlane, type ControlPlane } from '../../src/controlplane/control-plane.js'
import { defaultBehaviour, startFakeKube, type FakeKube, type KubeObject, type RequestRecord } from '../support/fake-kube/index.js'
import { repoRoot } from '../cli/helpers.js'
import { waitFor, waitForRunEnd } from './helpers.js'

const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'killed'])

interface PolicyRule { apiGroups?: string[]; resources?: string[]; verbs: string[] }

/** Requests (as `VERB resource`) that the ClusterRoles in deploy/kubernetes do not grant: the RBAC must cover the runtime. */
function ungranted(requests: readonly RequestRecord[]): string[] {
  const granted = new Set<string>()
  for (const file of ['rbac.yaml', 'rbac-namespaces.yaml']) {
    for (const doc of parseAllDocuments(readFileSync(join(repoRoot, 'deploy', 'kubernetes', file), 'utf8'))) {
      const o = doc.toJS() as { kind?: string; rules?: PolicyRule[] }
      if (o.kind !== 'ClusterRole' && o.kind !== 'Role') continue
      for (const r of o.rules ?? []) for (const res of r.resources ?? []) for (const v of r.verbs) granted.add(`${v} ${res}`)
    }
  }
  const missing = new Set<string>()
  for (const q of requests) {
    if (!q.path.startsWith('/api/v1/')) continue
    const parts = q.path.slice('/api/v1/'.length).split('/')
    const [resource, name, sub] = parts[0] === 'namespaces' && parts.length >= 3 ? parts.slice(2) : parts
    const verb =
      q.method === 'GET' ? (q.kind === 'watch' ? 'watch' : name ? 'get' : 'list')
      : q.method === 'POST' ? 'create' : q.method === 'PUT' ? 'update' : q.method === 'DELETE' ? 'delete' : q.method.toLowerCase()
    const what = `${verb} ${sub ? `${resource}/${sub}` : resource}`
    if (!granted.has(what)) missing.add(what)
  }
  return [...missing].sort()
}

describe('examples/ on the Kubernetes runtime (fake cluster)', () => {
  let fake: FakeKube
  let plane: ControlPlane
  let client: CtlClient
  let dataDir: string
  let documents: ApplyDocument[]
  let workflows: { ref: ResourceRef; scheduled: boolean; required: string[] }[]
  const played: KubeObject[] = []

  beforeAll(async () => {
    // Only `default` exists: the runtime creates ctl-public itself (manageNamespaces).
    fake = await startFakeKube()
    // The default kubelet behaviour (echo lines of `sh -c`, exit 0 otherwise) fits every example; wrapped only
    // to keep each Pod it played, since the runtime deletes Pods after completion.
    fake.kubelet.behaviour = (pod) => {
      played.push(pod)
      return defaultBehaviour(pod)
    }
    dataDir = mkdtempSync(join(tmpdir(), 'ctl-k8s-e2e-'))
    plane = await startControlPlane({
      dataDir, port: 0, runtime: 'kubernetes',
      kubernetes: { kubeconfigPath: fake.kubeconfigPath, manageNamespaces: true },
    })
    client = new CtlClient({ baseUrl: plane.url, apiKey: plane.adminToken! })
    // What `ctl resource apply -f examples -R` sends: every document of examples/ (invalid/ is skipped by .ctlignore).
    const lint = await lintFiles([join(repoRoot, 'examples')], offlineManifestContext(), { recursive: true, interpolate: true, env: process.env })
    expect(lint.issues).toEqual([])
    expect(lint.documents.some((d) => d.doc.file.includes('/invalid/'))).toBe(false)
    documents = lint.documents.map((d) => ({ source: { file: d.doc.file, index: d.doc.index }, manifest: d.doc.value }))
    workflows = lint.documents
      .filter((d) => d.resource.meta.type === 'workflow')
      .map((d) => {
        const r = d.resource as { meta: { name: string }; workflow: { schedule?: unknown; params?: { name: string; required: boolean }[] } }
        // A workflow with a required param starts no run on apply: it is run with a value for each, as a user would.
        const required = (r.workflow.params ?? []).filter((p) => p.required).map((p) => p.name)
        return { ref: { workspace: 'public', type: 'workflow', name: r.meta.name }, scheduled: r.workflow.schedule !== undefined, required }
      })
  }, 30_000)

  afterAll(async () => {
    await plane?.close()
    await fake?.close()
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  })

  it('reports the Kubernetes runtime', async () => {
    const res = await fetch(`${plane.url}/api/v1/info`, { headers: { authorization: `Bearer ${plane.adminToken!}` } })
    const info = (await res.json()) as { runtime?: { name?: string } }
    expect(info.runtime?.name).toBe('kubernetes')
  })

  it('refuses a context the kubeconfig does not have, naming the known ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctl-k8s-ctx-'))
    try {
      const err = await startControlPlane({ dataDir: dir, runtime: 'kubernetes', kubernetes: { kubeconfigPath: fake.kubeconfigPath, context: 'nope' } }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(CtlError)
      expect((err as CtlError).code).toBe('E_USAGE')
      expect((err as CtlError).message).toContain('no context "nope" (known: fake)')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('runs every example workflow to succeeded, with objects the Kubernetes schema accepts', async () => {
    expect(workflows.length).toBeGreaterThanOrEqual(8)
    expect(workflows.filter((w) => w.scheduled).length).toBeGreaterThanOrEqual(1)
    const applied = await client.apply('public', documents)
    expect(applied.results.map((r) => r.outcome).every((o) => o === 'created')).toBe(true)
    // A scheduled workflow does not run on apply: run it now, as `ctl resource runtime run` would.
    for (const w of workflows.filter((w) => w.scheduled)) await client.runNow(w.ref)
    // Required params are strings in the examples (data-flow's version).
    for (const w of workflows.filter((w) => w.required.length > 0)) await client.runNow(w.ref, Object.fromEntries(w.required.map((n) => [n, '1.2.3'])))

    const latest = new Map<string, RunRecord>()
    for (const w of workflows) {
      const runs = await waitFor(`a run of ${w.ref.name}`, () => client.runs(w.ref, { limit: 1 }), (r) => r.length > 0, 30_000)
      const end = await waitForRunEnd(client, runs[0]!.id)
      if (!FINAL.has(end.run.state)) throw new Error(`run of ${w.ref.name} did not end`)
      latest.set(w.ref.name, end.run)
    }
    const states = Object.fromEntries([...latest].map(([name, run]) => [name, run.reason ? `${run.state}: ${run.reason}` : run.state]))
    expect(states).toEqual(Object.fromEntries(workflows.map((w) => [w.ref.name, 'succeeded'])))

    // Every step ran as a Pod in the workspace's namespace (deleted once done); volumes became claims there first.
    expect(fake.get('namespaces', undefined, 'ctl-public')).toBeDefined()
    expect(played.length).toBeGreaterThanOrEqual(workflows.length)
    expect(played.every((p) => p.metadata?.namespace === 'ctl-public')).toBe(true)
    const claims = fake.list('persistentvolumeclaims', 'ctl-public')
    expect(claims.map((c) => c.metadata?.name)).toContain('ctl-vol-public-customer-data')
    expect(claims.find((c) => c.metadata?.name === 'ctl-vol-public-customer-data')?.spec).toMatchObject({
      accessModes: ['ReadWriteMany'],
      resources: { requests: { storage: '1Gi' } },
    })
    const claim = claims.find((c) => c.metadata?.name === 'ctl-vol-public-customer-data')!
    const mounting = played.filter((p) => JSON.stringify(p.spec).includes('"claimName":"ctl-vol-public-customer-data"'))
    expect(mounting.length).toBe(3)
    // One counter orders every object: the claim existed before any Pod that mounts it.
    for (const p of mounting) expect(Number(claim.metadata!.resourceVersion)).toBeLessThan(Number(p.metadata!.resourceVersion))
    // Without an advertised URL (--advertise-url) a Kubernetes control plane tells its steps none.
    const envNames = (p: KubeObject) => ((p.spec as { containers?: { env?: { name: string }[] }[] }).containers?.[0]?.env ?? []).map((e) => e.name)
    expect(played.some((p) => envNames(p).includes('CTL_SERVER'))).toBe(false)
    expect(played.every((p) => envNames(p).includes('CTL_WORKSPACE'))).toBe(true)
    // The compute's node pool reached the Pod.
    const heavy = played.find((p) => p.metadata?.labels?.['ctl.dev/workflow'] === 'heavy-aggregation' || p.metadata?.name?.startsWith('heavy-aggregation-'))
    expect((heavy?.spec as { nodeSelector?: Record<string, string> } | undefined)?.nodeSelector).toEqual({ 'ctl.dev/pool': 'batch-large' })

    // The cloud-kernel-image-pull secret reached the Pod as imagePullSecrets (its Secret was created and validated first).
    const privatePod = played.find((p) => p.metadata?.labels?.['ctl.dev/workflow'] === 'private-image-workflow')
    expect((privatePod?.spec as { imagePullSecrets?: { name: string }[] } | undefined)?.imagePullSecrets).toHaveLength(1)

    expect(fake.validationFailures).toEqual([])
    expect(fake.validatedCount()).toBeGreaterThan(0)

    // `runtime get --node` reads the Pod's Events too; then every request the runtime made is one deploy/kubernetes grants.
    const someRun = [...latest.values()][0]!
    const node = await client.node(someRun.id, (await client.run(someRun.id)).steps[0]!.step)
    expect(node.description?.events.length).toBeGreaterThan(0)
    expect(ungranted(fake.requests)).toEqual([])
  }, 90_000)
})
