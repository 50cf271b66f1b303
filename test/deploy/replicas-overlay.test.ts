// The deploy/kubernetes-replicas overlay (issue 13): three replicas on PostgreSQL. Its files are read as YAML and
// checked for what matters (3 replicas, the store URL from a Secret, readiness on /readyz and liveness on
// /healthz, a PodDisruptionBudget keeping 2, anti-affinity across nodes, no PVC); where kubectl is installed the
// overlay is also rendered (`kubectl kustomize`, offline) and the result validated against the Kubernetes schema,
// with the base still the single-replica SQLite layout.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Deployment } from 'kubernetes-models/apps/v1'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1'
import { describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const overlay = join(root, 'deploy', 'kubernetes-replicas')
const base = join(root, 'deploy', 'kubernetes')

// Parsed YAML, navigated by the paths the assertions name.
type Obj = Record<string, any>

function docs(text: string, what: string): Obj[] {
  return parseAllDocuments(text).map((d) => {
    if (d.errors.length > 0) throw new Error(`${what}: ${d.errors.map((e) => e.message).join('; ')}`)
    return d.toJS() as Obj
  }).filter((o) => o !== null)
}
const file = (name: string): Obj => {
  const all = docs(readFileSync(join(overlay, name), 'utf8'), name)
  expect(all, name).toHaveLength(1)
  return all[0]!
}

const POD_LABELS = { 'app.kubernetes.io/name': 'ctl', 'app.kubernetes.io/component': 'control-plane' }

describe('deploy/kubernetes-replicas: the files', () => {
  const k = file('kustomization.yaml')
  const patch = file('deployment-patch.yaml')
  const container = (patch.spec.template.spec.containers as Obj[]).find((c) => c.name === 'control-plane')!

  it('is an overlay of the base: the base, the PodDisruptionBudget, and patches that exist', () => {
    expect(k.kind).toBe('Kustomization')
    expect(k.resources).toEqual(['../kubernetes', 'pdb.yaml'])
    for (const p of k.patches as { path: string }[]) expect(existsSync(join(overlay, p.path)), p.path).toBe(true)
    expect((k.patches as { path: string }[]).map((p) => p.path).sort()).toEqual(['deployment-patch.yaml', 'pvc-delete.yaml'])
  })

  it('runs 3 replicas, rolled one at a time, spread over nodes', () => {
    expect(patch).toMatchObject({ kind: 'Deployment', metadata: { name: 'ctl-control-plane', namespace: 'ctl-system' }, spec: { replicas: 3, strategy: { type: 'RollingUpdate' } } })
    const terms = patch.spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution as Obj[]
    expect(terms.map((t) => t.podAffinityTerm)).toEqual([{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: POD_LABELS } }])
  })

  it('takes the store URL (and an optional password) from the ctl-store Secret', () => {
    const env = new Map((container.env as Obj[]).map((e) => [e.name, e]))
    expect(env.get('CTL_STORE')).toEqual({ name: 'CTL_STORE', valueFrom: { secretKeyRef: { name: 'ctl-store', key: 'url' } } })
    expect(env.get('PGPASSWORD')).toEqual({ name: 'PGPASSWORD', valueFrom: { secretKeyRef: { name: 'ctl-store', key: 'password', optional: true } } })
    // The first admin key from a Secret, not from one Pod's scratch folder (review 13, item 14).
    expect(env.get('CTL_ADMIN_KEY_FILE')).toEqual({ name: 'CTL_ADMIN_KEY_FILE', value: '/etc/ctl/admin/key' })
    expect(container.volumeMounts).toEqual([{ name: 'admin-key', mountPath: '/etc/ctl/admin', readOnly: true }])
    expect((patch.spec.template.spec.volumes as Obj[]).find((v) => v.name === 'admin-key')).toEqual({ name: 'admin-key', secret: { secretName: 'ctl-admin-key', defaultMode: 288 } })
  })

  it('is ready on /readyz, alive on /healthz', () => {
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' })
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' })
  })

  it('has no PVC: the claim is deleted and the data volume is scratch', () => {
    expect(file('pvc-delete.yaml')).toEqual({ $patch: 'delete', apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'ctl-data', namespace: 'ctl-system' } })
    const data = (patch.spec.template.spec.volumes as Obj[]).find((v) => v.name === 'data')!
    expect(data.persistentVolumeClaim).toBeNull()
    expect(data.emptyDir).toBeDefined()
  })

  it('keeps 2 replicas through voluntary disruptions', () => {
    const pdb = file('pdb.yaml')
    new PodDisruptionBudget(pdb as never).validate()
    expect(pdb.metadata.namespace).toBe('ctl-system')
    expect(pdb.spec).toEqual({ minAvailable: 2, selector: { matchLabels: POD_LABELS } })
  })
})

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0

function render(dir: string): Obj[] {
  const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`kubectl kustomize ${dir}: ${r.stderr}`)
  return docs(r.stdout, dir)
}

describe.skipIf(!kubectl)('deploy/kubernetes-replicas: rendered by kubectl kustomize', () => {
  it('renders 3 replicas on the ctl-store Secret with a PDB and no PVC; the base stays one replica on its PVC', () => {
    const objects = render(overlay)
    expect(objects.filter((o) => o.kind === 'PersistentVolumeClaim')).toEqual([])
    const deployments = objects.filter((o) => o.kind === 'Deployment')
    expect(deployments).toHaveLength(1)
    const d = deployments[0]!
    new Deployment(d as never).validate()
    expect(d.spec.replicas).toBe(3)
    expect(d.spec.strategy.type).toBe('RollingUpdate')
    const pod = d.spec.template.spec
    expect((pod.volumes as Obj[]).some((v) => v.persistentVolumeClaim !== undefined)).toBe(false)
    const c = (pod.containers as Obj[])[0]!
    expect(c.readinessProbe.httpGet.path).toBe('/readyz')
    expect(c.livenessProbe.httpGet.path).toBe('/healthz')
    const env = (c.env as Obj[]).map((e) => e.name)
    // The base's settings stay (the master key from its Secret), the store is added.
    expect(env).toEqual(expect.arrayContaining(['CTL_HOME', 'CTL_MASTER_KEY', 'CTL_ADVERTISE_URL', 'CTL_STORE']))
    const pdb = objects.filter((o) => o.kind === 'PodDisruptionBudget')
    expect(pdb).toHaveLength(1)
    expect(pdb[0]!.spec.selector.matchLabels).toEqual(d.spec.template.metadata.labels)

    const single = render(base)
    const baseDeployment = single.find((o) => o.kind === 'Deployment')!
    expect(baseDeployment.spec.replicas).toBe(1)
    expect(baseDeployment.spec.strategy.type).toBe('Recreate')
    expect(single.filter((o) => o.kind === 'PersistentVolumeClaim')).toHaveLength(1)
  }, 60_000)
})
