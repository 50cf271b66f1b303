// The deploy/kubernetes manifests, checked without a cluster: every object validates against the
// Kubernetes OpenAPI schema (kubernetes-models), the RBAC grants only what the runtime needs, and
// the Deployment, Service and Dockerfile agree with each other.
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Deployment } from 'kubernetes-models/apps/v1'
import { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1'
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1'
import { Namespace, PersistentVolumeClaim, Service, ServiceAccount } from 'kubernetes-models/v1'
import { describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { NETWORK_KEY } from '../../src/stack/pod.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const deployDir = join(root, 'deploy', 'kubernetes')

interface K8sObject {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string }
  [key: string]: unknown
}
interface PolicyRule { apiGroups?: string[]; resources?: string[]; verbs: string[]; resourceNames?: string[]; nonResourceURLs?: string[] }
interface Loaded { file: string; object: K8sObject }

// One validator per kind we ship; an object of any other kind fails the test, so a new file
// cannot slip past validation.
const models: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
}

// The least verbs the Kubernetes runtime needs, per core-group resource (issue 5, item 6).
// test/server/kubernetes-e2e.test.ts checks the other way round: every request the runtime makes is granted.
const runtimeVerbs: Record<string, string[]> = {
  pods: ['create', 'get', 'list', 'watch', 'delete'],
  'pods/log': ['get'],
  // delete: only what a Pod that could not be created would have owned.
  secrets: ['create', 'get', 'update', 'delete'],
  configmaps: ['create', 'update', 'delete'],
  persistentvolumeclaims: ['create'],
  events: ['list'],
}
const namespaceVerbs: Record<string, string[]> = { namespaces: ['create'] }

const yamlFiles = readdirSync(deployDir).filter((f) => /\.ya?ml$/.test(f)).sort()
const manifestFiles = yamlFiles.filter((f) => f !== 'kustomization.yaml')

function loadAll(): Loaded[] {
  const out: Loaded[] = []
  for (const file of manifestFiles) {
    for (const doc of parseAllDocuments(readFileSync(join(deployDir, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`)
      const object = doc.toJS() as K8sObject | null
      if (object !== null) out.push({ file, object })
    }
  }
  return out
}
const loaded = loadAll()
const objects = loaded.map((l) => l.object)

function one(kind: string, name: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name)
  expect(found, `${kind}/${name}`).toHaveLength(1)
  return found[0]!
}
function rulesOf(kind: string, name: string): PolicyRule[] {
  return (one(kind, name).rules as PolicyRule[] | undefined) ?? []
}
/** resource → verbs granted, failing on anything but plain core-group resource rules. */
function grants(rules: PolicyRule[]): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const rule of rules) {
    expect(rule.apiGroups).toEqual([''])
    expect(rule.nonResourceURLs).toBeUndefined()
    for (const resource of rule.resources ?? []) out[resource] = [...(out[resource] ?? []), ...rule.verbs].sort()
  }
  return out
}
const sorted = (m: Record<string, string[]>): Record<string, string[]> =>
  Object.fromEntries(Object.entries(m).map(([k, v]) => [k, [...v].sort()]))

interface Container {
  name: string
  image: string
  ports?: { name?: string; containerPort: number }[]
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[]
  readinessProbe?: { httpGet?: { path: string; port: string | number } }
  livenessProbe?: { httpGet?: { path: string; port: string | number } }
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> }
  securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; runAsNonRoot?: boolean }
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[]
}
interface PodSpec {
  serviceAccountName?: string
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; fsGroup?: number }
  containers: Container[]
  volumes?: { name: string; persistentVolumeClaim?: { claimName: string }; emptyDir?: object }[]
}
interface DeploymentSpec {
  replicas: number
  strategy?: { type: string }
  selector: { matchLabels: Record<string, string> }
  template: { metadata: { labels: Record<string, string> }; spec: PodSpec }
}
const deployment = one('Deployment', 'ctl-control-plane')
const dspec = deployment.spec as DeploymentSpec
const pod = dspec.template.spec
const container = pod.containers[0]!

describe('deploy/kubernetes manifests', () => {
  it('has every piece the deployment needs', () => {
    expect(manifestFiles.length).toBeGreaterThan(0)
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'ClusterRole/ctl-namespace-manager', 'ClusterRole/ctl-runtime',
      'ClusterRoleBinding/ctl-namespace-manager', 'ClusterRoleBinding/ctl-runtime',
      'Deployment/ctl-control-plane', 'Namespace/ctl-system', 'PersistentVolumeClaim/ctl-data',
      'Service/ctl-control-plane', 'ServiceAccount/ctl-control-plane',
    ])
  })

  it.each(loaded.map((l) => [`${l.file}: ${l.object.kind}/${l.object.metadata.name}`, l.object] as const))(
    'validates against the Kubernetes schema: %s', (_label, object) => {
      const Model = models[`${object.apiVersion}/${object.kind}`]
      expect(Model, `no validator for ${object.apiVersion} ${object.kind}`).toBeDefined()
      expect(() => new Model!(object as never).validate()).not.toThrow()
    })

  it('validation catches a broken object (the check is not a no-op)', () => {
    const broken = structuredClone(deployment) as K8sObject & { spec: { replicas: unknown } }
    broken.spec.replicas = 'one'
    expect(() => new Deployment(broken as never).validate()).toThrow()
    const noContainers = structuredClone(deployment) as K8sObject & { spec: DeploymentSpec }
    delete (noContainers.spec.template.spec as Partial<PodSpec>).containers
    expect(() => new Deployment(noContainers as never).validate()).toThrow()
  })

  it('puts every namespaced object in ctl-system', () => {
    for (const o of objects) {
      if (o.kind === 'Namespace' || o.kind.startsWith('Cluster')) expect(o.metadata.namespace, o.kind).toBeUndefined()
      else expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('ctl-system')
    }
  })

  it('kustomization.yaml lists exactly the manifest files', () => {
    const k = parseAllDocuments(readFileSync(join(deployDir, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as { kind: string; resources: string[] }
    expect(k.kind).toBe('Kustomization')
    expect([...k.resources].sort()).toEqual(manifestFiles)
  })
})

describe('RBAC: least privilege', () => {
  const roles = objects.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole')

  it('no wildcard verbs, resources or API groups, no resource-less rules', () => {
    expect(roles.length).toBeGreaterThan(0)
    for (const role of roles) {
      for (const rule of (role.rules as PolicyRule[] | undefined) ?? []) {
        expect(rule.verbs).not.toContain('*')
        expect(rule.resources ?? []).not.toContain('*')
        expect(rule.apiGroups ?? []).not.toContain('*')
        expect(rule.nonResourceURLs).toBeUndefined()
        expect(rule.resources?.length ?? 0).toBeGreaterThan(0)
      }
    }
  })

  it('the runtime role grants exactly the verbs the runtime needs', () => {
    expect(grants(rulesOf('ClusterRole', 'ctl-runtime'))).toEqual(sorted(runtimeVerbs))
  })

  it('namespaces are granted only by their own role, get and create only', () => {
    expect(grants(rulesOf('ClusterRole', 'ctl-namespace-manager'))).toEqual(sorted(namespaceVerbs))
    for (const role of roles) {
      if (role.metadata.name === 'ctl-namespace-manager') continue
      for (const rule of (role.rules as PolicyRule[] | undefined) ?? []) expect(rule.resources).not.toContain('namespaces')
    }
  })

  it('no role grants anything beyond the allowed lists', () => {
    const allowed: Record<string, string[]> = { ...runtimeVerbs, ...namespaceVerbs }
    for (const role of roles) {
      for (const [resource, verbs] of Object.entries(grants((role.rules as PolicyRule[] | undefined) ?? []))) {
        expect(allowed[resource], `${role.metadata.name}: ${resource}`).toBeDefined()
        for (const verb of verbs) expect(allowed[resource], `${role.metadata.name}: ${verb} ${resource}`).toContain(verb)
      }
    }
  })

  it('the namespace role ships exactly when the Deployment manages namespaces', () => {
    const manages = container.env?.find((e) => e.name === 'CTL_MANAGE_NAMESPACES')?.value === 'true'
    expect(roles.some((r) => r.metadata.name === 'ctl-namespace-manager')).toBe(manages)
  })

  it('every binding binds a shipped role to the control plane service account, and only to it', () => {
    const bindings = objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')
    expect(bindings.length).toBeGreaterThan(0)
    for (const b of bindings) {
      const ref = b.roleRef as { kind: string; name: string }
      expect(roles.some((r) => r.kind === ref.kind && r.metadata.name === ref.name), `${b.metadata.name} → ${ref.kind}/${ref.name}`).toBe(true)
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: 'ctl-control-plane', namespace: 'ctl-system' }])
    }
  })
})

describe('the Deployment', () => {
  it('runs one replica with Recreate (one SQLite writer)', () => {
    expect(dspec.replicas).toBe(1)
    expect(dspec.strategy?.type).toBe('Recreate')
  })

  it('uses the control plane ServiceAccount', () => {
    one('ServiceAccount', 'ctl-control-plane')
    expect(pod.serviceAccountName).toBe('ctl-control-plane')
  })

  it('probes /healthz on the serving port', () => {
    const port = container.ports?.find((p) => p.containerPort === 7419)
    expect(port).toBeDefined()
    for (const probe of [container.readinessProbe, container.livenessProbe]) {
      expect(probe?.httpGet?.path).toBe('/healthz')
      expect([port!.name, 7419]).toContain(probe?.httpGet?.port)
    }
  })

  it('runs as non-root on a read-only root filesystem, writing only to its volumes', () => {
    expect(pod.securityContext?.runAsNonRoot).toBe(true)
    expect(pod.securityContext?.runAsUser).toBeGreaterThan(0)
    expect(container.securityContext?.readOnlyRootFilesystem).toBe(true)
    expect(container.securityContext?.allowPrivilegeEscalation).toBe(false)
    const data = container.volumeMounts?.find((m) => m.mountPath === '/var/lib/ctl')
    expect(data?.readOnly).not.toBe(true)
    const volume = pod.volumes?.find((v) => v.name === data?.name)
    expect(volume?.persistentVolumeClaim?.claimName).toBe('ctl-data')
    one('PersistentVolumeClaim', 'ctl-data')
  })

  it('sets resources, CTL_HOME and the master key from the ctl-master-key Secret', () => {
    expect(container.resources?.requests?.cpu).toBeDefined()
    expect(container.resources?.requests?.memory).toBeDefined()
    expect(container.resources?.limits?.memory).toBeDefined()
    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e]))
    expect(env.CTL_HOME?.value).toBe('/var/lib/ctl')
    expect(env.CTL_MASTER_KEY?.valueFrom?.secretKeyRef).toEqual({ name: 'ctl-master-key', key: 'key' })
  })

  it('is selected by its own selector and by the Service, which exposes 7419 as ClusterIP', () => {
    const labels = dspec.template.metadata.labels
    for (const [k, v] of Object.entries(dspec.selector.matchLabels)) expect(labels[k]).toBe(v)
    const svc = one('Service', 'ctl-control-plane').spec as { type: string; selector: Record<string, string>; ports: { port: number; targetPort: string | number }[] }
    expect(svc.type).toBe('ClusterIP')
    for (const [k, v] of Object.entries(svc.selector)) expect(labels[k]).toBe(v)
    expect(svc.ports).toHaveLength(1)
    expect(svc.ports[0]!.port).toBe(7419)
    expect(['http', 7419]).toContain(svc.ports[0]!.targetPort)
  })
})

describe('the Dockerfile', () => {
  const dockerfile = readFileSync(join(deployDir, 'Dockerfile'), 'utf8')
  // Instructions with their continuation lines joined, comments dropped.
  const instructions = dockerfile.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
  const stages = instructions.filter((l) => /^FROM /i.test(l))
  const last = instructions.slice(instructions.lastIndexOf(stages.at(-1)!))

  it('builds on node:20-bookworm-slim in every stage', () => {
    expect(stages.length).toBeGreaterThan(1)
    for (const from of stages) expect(from).toMatch(/^FROM (node:20-bookworm-slim|toolchain)( AS \S+)?$/i)
    expect(stages.at(-1)).toMatch(/^FROM node:20-bookworm-slim/i)
  })

  it('builds with dev dependencies and ships production dependencies only', () => {
    expect(instructions.some((l) => /^RUN .*npm ci(?! .*--omit=dev)/.test(l))).toBe(true)
    expect(instructions.some((l) => /^RUN .*npm run build/.test(l))).toBe(true)
    expect(instructions.some((l) => /^RUN .*npm ci .*--omit=dev/.test(l))).toBe(true)
    const copied = last.filter((l) => /^COPY /i.test(l)).join('\n')
    for (const part of ['node_modules', 'dist', 'bin', 'schemas', 'stacks', 'oclif.manifest.json', 'package.json', 'package-lock.json']) expect(copied).toContain(part)
  })

  it('runs as a numeric non-root user with CTL_HOME and port 7419', () => {
    const user = last.find((l) => /^USER /i.test(l))
    expect(user).toMatch(/^USER [1-9]\d*(:\d+)?$/)
    expect(last.some((l) => /^ENV .*CTL_HOME=\/var\/lib\/ctl/.test(l))).toBe(true)
    expect(last).toContain('EXPOSE 7419')
    // The Deployment's pod securityContext runs the same uid the image chowns its data dir to.
    expect(user!.slice(5).split(':')[0]).toBe(String(pod.securityContext?.runAsUser))
  })

  it('starts the control plane: server start on 0.0.0.0:7419 with the kubernetes runtime', () => {
    const entry = last.find((l) => /^ENTRYPOINT /i.test(l))
    expect(entry).toBeDefined()
    const argv = JSON.parse(entry!.slice('ENTRYPOINT '.length)) as string[]
    expect(argv.slice(0, 4)).toEqual(['node', 'bin/run.js', 'server', 'start'])
    const flag = (name: string): string | undefined => argv[argv.indexOf(name) + 1]
    expect(flag('--host')).toBe('0.0.0.0')
    expect(flag('--port')).toBe('7419')
    expect(flag('--data-dir')).toBe('/var/lib/ctl/server')
    expect(flag('--runtime')).toBe('kubernetes')
  })

  it('is the image of the built-in ctl stack too: ctl on its PATH, and the tag the stack and the Deployment name', () => {
    expect(last.some((l) => /^RUN .*ln -s \/app\/bin\/run\.js \/usr\/local\/bin\/ctl/.test(l))).toBe(true)
    const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version
    const image = `ctl-control-plane:${version}`
    expect(readFileSync(join(root, 'stacks', 'ctl.yaml'), 'utf8')).toContain(`default "${image}"`)
    expect(pod.containers?.[0]?.image).toBe(image)
  })

  it('.dockerignore keeps local builds and dependencies out of the context', () => {
    const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim())
    for (const entry of ['node_modules', 'dist', '.git']) expect(ignored).toContain(entry)
  })
})

// Objects applied to each workspace namespace (ctl-<workspace>), not to ctl-system.
describe('deploy/kubernetes/workspace: per-workspace objects', () => {
  const dir = join(deployDir, 'workspace')
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()
  const docs = files.flatMap((file) => parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((d) => ({ file, object: d.toJS() as K8sObject })))

  it('validates against the Kubernetes schema and names no namespace (it is applied to each)', () => {
    expect(docs.map((d) => `${d.file}: ${d.object.kind}/${d.object.metadata.name}`)).toEqual(['network-none.yaml: NetworkPolicy/ctl-network-none'])
    for (const { object } of docs) {
      expect(object.apiVersion).toBe('networking.k8s.io/v1')
      expect(() => new NetworkPolicy(object as never).validate()).not.toThrow()
      expect(object.metadata.namespace).toBeUndefined()
    }
    const broken = structuredClone(docs[0]!.object) as K8sObject & { spec: { policyTypes: unknown } }
    broken.spec.policyTypes = 'Egress'
    expect(() => new NetworkPolicy(broken as never).validate()).toThrow()
  })

  it('denies every ingress and egress to the Pods of network: none steps', () => {
    const spec = docs[0]!.object.spec as { podSelector: { matchLabels?: Record<string, string>; matchExpressions?: unknown }; policyTypes: string[]; ingress?: unknown[]; egress?: unknown[] }
    expect(spec.podSelector).toEqual({ matchLabels: { [NETWORK_KEY]: 'none' } })
    expect([...spec.policyTypes].sort()).toEqual(['Egress', 'Ingress'])
    expect(spec.ingress ?? []).toEqual([])
    expect(spec.egress ?? []).toEqual([])
  })
})
