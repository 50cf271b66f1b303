// Pure builders of the objects the Kubernetes runtime creates for a step attempt: the namespace
// name of a workspace, and the Secret / ConfigMap / Pod moved into that namespace. Kept apart from
// the API calls so they can be tested without a cluster.

import { createHash } from 'node:crypto'
import type { V1ConfigMap, V1PersistentVolumeClaim, V1Pod, V1Secret } from '@kubernetes/client-node'
import type { VolumeClaimSpec } from '../types.js'
import { CtlError } from '../../errors.js'

const MAX_LABEL = 63

/** The namespace of a workspace: prefix + workspace, made a DNS label (a hash keeps cut or changed names distinct). */
export function namespaceFor(prefix: string, workspace: string): string {
  const raw = `${prefix}${workspace}`
  let name = raw.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '')
  if (name !== raw || name.length > MAX_LABEL) {
    const hash = createHash('sha256').update(raw).digest('hex').slice(0, 8)
    name = `${name.slice(0, MAX_LABEL - 9).replace(/-+$/, '')}-${hash}`.replace(/^-+/, '')
  }
  if (!name) throw new CtlError('E_NAME', `workspace ${JSON.stringify(workspace)} gives no usable namespace name`)
  return name
}

/** The workspace a resolved Pod belongs to (label set by src/stack/pod.ts; its namespace as a fallback). */
export function workspaceOf(pod: V1Pod): string {
  const ws = pod.metadata?.annotations?.['ctl.dev/workspace'] ?? pod.metadata?.labels?.['ctl.dev/workspace'] ?? pod.metadata?.namespace
  if (!ws) throw new CtlError('E_INTERNAL', `pod ${pod.metadata?.name ?? '?'} names no workspace (label ctl.dev/workspace or namespace)`)
  return ws
}

export interface References {
  secrets: string[]
  configMaps: string[]
}

/** Secret and ConfigMap names the Pod reads data from (env, envFrom, volumes, projected volumes; not imagePullSecrets). */
export function referencedNames(pod: V1Pod): References {
  const secrets = new Set<string>()
  const configMaps = new Set<string>()
  const spec = pod.spec
  for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
    for (const e of c.env ?? []) {
      if (e.valueFrom?.secretKeyRef?.name) secrets.add(e.valueFrom.secretKeyRef.name)
      if (e.valueFrom?.configMapKeyRef?.name) configMaps.add(e.valueFrom.configMapKeyRef.name)
    }
    for (const e of c.envFrom ?? []) {
      if (e.secretRef?.name) secrets.add(e.secretRef.name)
      if (e.configMapRef?.name) configMaps.add(e.configMapRef.name)
    }
  }
  for (const v of spec?.volumes ?? []) {
    if (v.secret?.secretName) secrets.add(v.secret.secretName)
    if (v.configMap?.name) configMaps.add(v.configMap.name)
    for (const s of v.projected?.sources ?? []) {
      if (s.secret?.name) secrets.add(s.secret.name)
      if (s.configMap?.name) configMaps.add(s.configMap.name)
    }
  }
  return { secrets: [...secrets], configMaps: [...configMaps] }
}

export interface StepObjects {
  namespace: string
  pod: V1Pod
  secret?: V1Secret
  configMap?: V1ConfigMap
}

function single(kind: string, names: string[], podName: string): string | undefined {
  if (names.length > 1) throw new CtlError('E_INTERNAL', `pod ${podName} references ${names.length} ${kind}s (${names.join(', ')}); the runtime creates one`)
  return names[0]
}

/**
 * The objects of one step attempt in `namespace`. The Secret and ConfigMap exist when the Pod references them
 * (even empty: a Pod waits forever for a missing one). `timeoutSeconds` overrides activeDeadlineSeconds.
 */
export function buildStepObjects(
  namespace: string,
  launch: { pod: V1Pod; secretData: Record<string, string>; configData: Record<string, string>; timeoutSeconds?: number },
): StepObjects {
  const src = launch.pod
  const podName = src.metadata?.name
  if (!podName) throw new CtlError('E_INTERNAL', 'the resolved pod has no name')
  if (!src.spec?.containers?.length) throw new CtlError('E_INTERNAL', `pod ${podName} has no container`)
  const labels = { ...(src.metadata?.labels ?? {}) }
  const annotations = { ...(src.metadata?.annotations ?? {}) }
  const meta = (name: string) => ({ name, namespace, labels: { ...labels }, annotations: { ...annotations } })
  const pod: V1Pod = {
    ...src,
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...src.metadata, namespace, labels, annotations },
    spec: {
      ...src.spec,
      containers: src.spec.containers,
      ...(launch.timeoutSeconds !== undefined ? { activeDeadlineSeconds: launch.timeoutSeconds } : {}),
    },
  }
  delete pod.status
  const refs = referencedNames(src)
  const out: StepObjects = { namespace, pod }
  const secretName = single('Secret', refs.secrets, podName)
  if (secretName) out.secret = { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: meta(secretName), stringData: { ...launch.secretData } }
  const configName = single('ConfigMap', refs.configMaps, podName)
  if (configName) out.configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(configName), data: { ...launch.configData } }
  return out
}

/**
 * The PersistentVolumeClaims of the `type: volume` resources the Pod mounts, in `namespace`. A claim the Pod
 * mounts without a spec in `volumes` is left alone (it must exist already: the Pod waits for it otherwise).
 * Labelled but not owned by the run: a volume outlives the runs that use it.
 */
export function buildClaims(namespace: string, pod: V1Pod, volumes: Record<string, VolumeClaimSpec> | undefined, defaultStorageClass?: string): V1PersistentVolumeClaim[] {
  const out: V1PersistentVolumeClaim[] = []
  const seen = new Set<string>()
  for (const v of pod.spec?.volumes ?? []) {
    const name = v.persistentVolumeClaim?.claimName
    const spec = name ? volumes?.[name] : undefined
    if (!name || !spec || seen.has(name)) continue
    seen.add(name)
    const workspace = pod.metadata?.labels?.['ctl.dev/workspace']
    out.push({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'ctl', ...(workspace ? { 'ctl.dev/workspace': workspace } : {}) } },
      spec: {
        accessModes: [spec.accessMode],
        resources: { requests: { storage: spec.size } },
        // The volume's own class, else the server's default, else none: the cluster's default class applies.
        ...(spec.storageClass ?? defaultStorageClass ? { storageClassName: spec.storageClass ?? defaultStorageClass } : {}),
      },
    })
  }
  return out
}
