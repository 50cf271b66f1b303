// The Kubernetes runtime: each step attempt is the Pod the manifest core resolved, created in the
// workspace's namespace with the Secret and ConfigMap it references. follow() watches the Pod and
// streams its main container's log; everything needed to reattach after a control-plane restart
// is in the handle (namespace, pod name, uid). The client library is loaded on first use (it is
// slow to load), so importing this module stays cheap.

import type { CoreV1Api, KubeConfig, V1Pod } from '@kubernetes/client-node'
import { CtlError } from '../../errors.js'
import { labelValue } from '../../stack/pod-parts.js'
import { createRedactor, redactionForms } from '../../logs/redact.mjs'
import type { LogBatch, Runtime, RuntimeHandle, RuntimeInfo, StepDescription, StepExit, StepKey, StepLaunch } from '../types.js'
import { describePod, podPhase } from './describe.js'
import { createAttemptObjects } from './attempt-objects.js'
import { buildPullSecrets } from './pull-secrets.js'
import { dockerConfigSecretValues } from '../../manifest/pull-secret.js'
import { buildClaims, buildStepObjects, namespaceFor, referencedNames, workspaceOf } from './objects.js'
import { apiError, isTransient, statusOf, withRetry } from './retry.js'
import { NamespacePodInformer } from './informer.js'
import { followPod } from './follow.js'
import { PodCollector, type PodRef } from './pod-gc.js'
import { coreApiOf, countRequestsOf } from './http.js'
import type { Metrics } from '../../metrics/metrics.js'

export { namespaceFor } from './objects.js'

export interface KubernetesRuntimeOptions {
  kubeConfig: KubeConfig
  /** Namespace of a workspace = prefix + workspace name. Default 'ctl-'. */
  namespacePrefix?: string
  /** Create missing namespaces (needs the cluster-wide right to). Default false. */
  manageNamespaces?: boolean
  /** How long an image pull may fail (ErrImagePull / ImagePullBackOff) before the step fails. Default 120 s. */
  imagePullGraceSeconds?: number
  /** How long API calls are retried on 429 / 5xx / broken connections. Default 60 s. */
  retryForSeconds?: number
  /** Grace period of the Pod deletion in kill(). Default 2 s. */
  killGraceSeconds?: number
  /** Delete a step's Pod once its attempt ended and its log is stored. Default true; false keeps every Pod
      (and, through its owner reference, its Secret and ConfigMap) for inspection. */
  gcWhenComplete?: boolean
  /** With gcWhenComplete: keep a finished Pod this long before deleting it. Default 0 (at once). */
  podTtlSeconds?: number
  /** How often finished Pods past the TTL are looked for (what a restart left). Default the TTL, at least a minute. */
  sweepEverySeconds?: number
  /** Storage class of the claims of volumes that name none. Default: the cluster's default class. */
  defaultStorageClass?: string
  /** Where requests to the API server are counted (by verb and status code). */
  metrics?: Metrics
}

export interface KubernetesHandleData {
  namespace: string
  podName: string
  uid: string
  container: string
  image: string | null
  secretName: string | null
}

type Redactor = (text: string) => string

function handleData(handle: RuntimeHandle): KubernetesHandleData {
  const d = handle.data as Partial<KubernetesHandleData>
  if (handle.runtime !== 'kubernetes' || typeof d.namespace !== 'string' || typeof d.podName !== 'string' || typeof d.uid !== 'string') {
    throw new CtlError('E_INTERNAL', `not a Kubernetes runtime handle: ${JSON.stringify(handle)}`)
  }
  return { container: '', image: null, secretName: null, ...d } as KubernetesHandleData
}

function handleOf(pod: V1Pod, secretName: string | undefined): RuntimeHandle {
  const meta = pod.metadata ?? {}
  const data: KubernetesHandleData = {
    namespace: meta.namespace ?? '',
    podName: meta.name ?? '',
    uid: meta.uid ?? '',
    container: pod.spec?.containers?.[0]?.name ?? '',
    image: pod.spec?.containers?.[0]?.image ?? null,
    secretName: secretName ?? null,
  }
  return { runtime: 'kubernetes', id: data.podName, data: { ...data } }
}

/** The Pod found under our name is this attempt's (same run, step and attempt labels), not an older one's. */
function isSameAttempt(found: V1Pod, wanted: V1Pod): boolean {
  const a = found.metadata?.labels ?? {}
  const b = wanted.metadata?.labels ?? {}
  return !found.metadata?.deletionTimestamp && ['ctl.dev/run', 'ctl.dev/step', 'ctl.dev/attempt'].every((k) => a[k] !== undefined && a[k] === b[k])
}

export function createKubernetesRuntime(opts: KubernetesRuntimeOptions): Runtime {
  const kc = opts.kubeConfig
  const metrics = opts.metrics
  if (metrics) countRequestsOf(kc, (verb, code) => metrics.kubeRequest(verb, code))
  const prefix = opts.namespacePrefix ?? 'ctl-'
  const graceSeconds = opts.imagePullGraceSeconds ?? 120
  const retryForMs = (opts.retryForSeconds ?? 60) * 1000
  const killGrace = opts.killGraceSeconds ?? 2
  let corePromise: Promise<CoreV1Api> | undefined
  const core = (): Promise<CoreV1Api> =>
    (corePromise ??= import('@kubernetes/client-node').then((k8s) => coreApiOf(k8s, kc)))
  /** Namespaces known to exist: created or found once per runtime. */
  const namespaces = new Set<string>()
  /** Per Pod uid: its redactor (from start(); after a restart rebuilt from the Secret), the Pod start() created, a kill's reason. */
  const redactors = new Map<string, Redactor>()
  const created = new Map<string, V1Pod>()
  const killed = new Map<string, string>()
  const retry = <T>(fn: () => Promise<T>, signal?: AbortSignal) => withRetry(fn, { retryForMs, signal })
  const informers = new Map<string, NamespacePodInformer>()
  const informerFor = (api: CoreV1Api, namespace: string): NamespacePodInformer => {
    let inf = informers.get(namespace)
    if (!inf) informers.set(namespace, (inf = new NamespacePodInformer(kc, api, namespace, { retryForMs })))
    return inf
  }

  const info: RuntimeInfo = {
    name: 'kubernetes',
    sandbox: 'none',
    detail: `Pods on ${kc.getCurrentCluster()?.server ?? 'no cluster'} (context ${kc.getCurrentContext() || 'none'}), namespaces ${prefix}<workspace>; isolation is the cluster's`,
  }

  async function ensureNamespace(api: CoreV1Api, namespace: string): Promise<void> {
    if (!opts.manageNamespaces || namespaces.has(namespace)) return
    try {
      await retry(() => api.createNamespace({ body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'app.kubernetes.io/managed-by': 'ctl' } } } }))
    } catch (e) {
      if (statusOf(e) !== 409) throw apiError(`creating namespace ${namespace}`, e)
    }
    namespaces.add(namespace)
  }

  function missingNamespace(namespace: string, e: unknown, what: string): CtlError {
    if (statusOf(e) === 404 && !opts.manageNamespaces) {
      return new CtlError('E_NOT_FOUND', `${what}: namespace ${namespace} does not exist (create it, or let the runtime manage namespaces)`)
    }
    return apiError(what, e)
  }

  async function start(launch: StepLaunch): Promise<RuntimeHandle> {
    const api = await core()
    const namespace = namespaceFor(prefix, workspaceOf(launch.pod))
    const objs = buildStepObjects(namespace, launch)
    await ensureNamespace(api, namespace)
    const podName = objs.pod.metadata!.name!
    const owned = await createAttemptObjects(
      { api, namespace, retry, createError: (e, what) => missingNamespace(namespace, e, what) },
      { secret: objs.secret, configMap: objs.configMap, pullSecrets: buildPullSecrets(namespace, objs.pod, launch.pullSecrets) },
    )
    // Volumes before the Pod: created once, kept as they are afterwards (a claim's spec is mostly immutable).
    for (const body of buildClaims(namespace, objs.pod, launch.volumes, opts.defaultStorageClass)) {
      const name = body.metadata!.name!
      try {
        await retry(() => api.createNamespacedPersistentVolumeClaim({ namespace, body }))
      } catch (e) {
        if (statusOf(e) !== 409) throw missingNamespace(namespace, e, `creating persistent volume claim ${namespace}/${name}`)
      }
    }
    let pod: V1Pod
    // A create whose answer was lost (broken connection, 5xx) may have created the Pod: the retry then gets 409.
    let answerLost = false
    // No Pod will own what was created for it.
    const abandon = async (err: unknown): Promise<never> => {
      await owned.remove()
      throw err
    }
    try {
      pod = await retry(() =>
        api.createNamespacedPod({ namespace, body: objs.pod }).catch((e: unknown) => {
          if (isTransient(e)) answerLost = true
          throw e
        }),
      )
    } catch (e) {
      if (statusOf(e) !== 409) return abandon(missingNamespace(namespace, e, `creating pod ${namespace}/${podName}`))
      const existing = await retry(() => api.readNamespacedPod({ namespace, name: podName })).catch(() => undefined)
      if (answerLost && existing && isSameAttempt(existing, objs.pod)) {
        pod = existing
      } else {
        // details.handle lets an engine that crashed between start() and storing the handle reattach. That Pod
        // (this same attempt, started before) reads the objects just replaced: it owns them.
        if (existing && isSameAttempt(existing, objs.pod)) await owned.ownedBy(existing).catch(() => undefined)
        const k = launch.key
        throw new CtlError('E_CONFLICT', `step attempt ${k.runId}/${k.step}/${k.attempt} was already started (pod ${namespace}/${podName})`, existing ? { handle: handleOf(existing, objs.secret?.metadata?.name) } : undefined)
      }
    }
    const uid = pod.metadata?.uid ?? ''
    // The owner reference needs the Pod's uid, so it is added after the Pod exists. The Pod waits for nothing
    // meanwhile: what it reads exists already. Without it nothing would ever remove them: the start fails whole.
    try {
      await owned.ownedBy(pod)
    } catch (e) {
      await deletePod(api, handleData(handleOf(pod, undefined)), 0).catch(() => undefined)
      return abandon(e)
    }
    redactors.set(uid, createRedactor(redactionForms(Object.values(launch.secretData), launch.redact)))
    created.set(uid, pod)
    return handleOf(pod, objs.secret?.metadata?.name)
  }

  /** The decoded values of a Secret, or none when it is gone. */
  async function secretValues(api: CoreV1Api, namespace: string, name: string): Promise<string[]> {
    try {
      const secret = await retry(() => api.readNamespacedSecret({ namespace, name }))
      return Object.values(secret.data ?? {}).map((v) => Buffer.from(v, 'base64').toString('utf8'))
    } catch (e) {
      if (statusOf(e) === 404) return []
      throw apiError(`reading secret ${namespace}/${name} for redaction`, e)
    }
  }

  /**
   * After a restart the redaction forms are rebuilt from the Secrets (the handle never holds secret values): the
   * projection Secret, and the registry credentials of the image pull Secrets ctl created for the Pod.
   */
  async function redactorFor(api: CoreV1Api, d: KubernetesHandleData): Promise<Redactor> {
    const known = redactors.get(d.uid)
    if (known) return known
    const values = d.secretName ? await secretValues(api, d.namespace, d.secretName) : []
    const pod = await peekPod(api, d)
    for (const ref of pod?.spec?.imagePullSecrets ?? []) {
      if (!ref.name) continue
      for (const json of await secretValues(api, d.namespace, ref.name)) values.push(...dockerConfigSecretValues(json))
    }
    const r = createRedactor(redactionForms(values))
    redactors.set(d.uid, r)
    return r
  }

  async function deletePod(api: CoreV1Api, d: PodRef, grace: number): Promise<void> {
    try {
      await retry(() => api.deleteNamespacedPod({ namespace: d.namespace, name: d.podName, gracePeriodSeconds: grace, body: { preconditions: { uid: d.uid } } }))
    } catch (e) {
      // 404: already gone; 409: the uid precondition failed, the name belongs to another Pod now.
      const s = statusOf(e)
      if (s !== 404 && s !== 409) throw apiError(`deleting pod ${d.namespace}/${d.podName}`, e)
    }
  }

  async function follow(handle: RuntimeHandle, fromOffset: number, onLogs: (batch: LogBatch) => Promise<void>, signal?: AbortSignal): Promise<StepExit> {
    const d = handleData(handle)
    const api = await core()
    const redact = await redactorFor(api, d)
    const watcher = informerFor(api, d.namespace).follow(d.podName, d.uid, created.get(d.uid))
    return followPod({ kc, api, d, redact, watcher, created, killed, graceSeconds, deletePod }, fromOffset, onLogs, signal)
  }

  async function kill(handle: RuntimeHandle, reason?: string): Promise<void> {
    const d = handleData(handle)
    killed.set(d.uid, reason ?? 'killed on request')
    await deletePod(await core(), d, killGrace)
  }

  async function cleanup(handle: RuntimeHandle): Promise<void> {
    const d = handleData(handle)
    created.delete(d.uid)
    redactors.delete(d.uid)
    killed.delete(d.uid)
    await collector.collect(d)
  }

  /** ctl's Pods in our namespaces; bound to its namespaces only (RoleBindings, no cluster-wide list), those used since start. */
  async function listOurPods(): Promise<V1Pod[]> {
    const api = await core()
    let pods: V1Pod[]
    try {
      pods = (await retry(() => api.listPodForAllNamespaces({ labelSelector: 'ctl.dev/run' }))).items
    } catch (e) {
      if (statusOf(e) !== 403) throw e
      pods = []
      for (const namespace of new Set([...namespaces, ...informers.keys()])) {
        pods.push(...(await retry(() => api.listNamespacedPod({ namespace, labelSelector: 'ctl.dev/run' }))).items)
      }
    }
    return pods.filter((p) => (p.metadata?.namespace ?? '').startsWith(prefix))
  }

  const collector = new PodCollector({
    gcWhenComplete: opts.gcWhenComplete ?? true,
    ttlMs: (opts.podTtlSeconds ?? 0) * 1000,
    sweepEveryMs: opts.sweepEverySeconds !== undefined ? opts.sweepEverySeconds * 1000 : undefined,
    deletePod: async (ref) => deletePod(await core(), ref, 0),
    listPods: listOurPods,
    isFollowed: (uid) => created.has(uid),
  })

  async function peekPod(api: CoreV1Api, d: KubernetesHandleData): Promise<V1Pod | undefined> {
    const cached = informers.get(d.namespace)?.cached(d.podName)
    if (cached && cached.metadata?.uid === d.uid) return cached
    try {
      const pod = await retry(() => api.readNamespacedPod({ namespace: d.namespace, name: d.podName }))
      return pod.metadata?.uid === d.uid ? pod : undefined
    } catch (e) {
      if (statusOf(e) === 404) return undefined
      throw apiError(`reading pod ${d.namespace}/${d.podName}`, e)
    }
  }

  async function describe(handle: RuntimeHandle): Promise<StepDescription> {
    const d = handleData(handle)
    const api = await core()
    const [pod, events] = await Promise.all([
      peekPod(api, d),
      retry(() => api.listNamespacedEvent({ namespace: d.namespace, fieldSelector: `involvedObject.name=${d.podName}` })).then(
        (l) => l.items,
        (e) => {
          throw apiError(`listing the events of pod ${d.namespace}/${d.podName}`, e)
        },
      ),
    ])
    if (!pod) {
      const gone = describePod({ metadata: { name: d.podName, namespace: d.namespace, uid: d.uid }, spec: { containers: [] } }, events)
      return { ...gone, phase: 'Gone', message: 'the Pod was deleted (the runtime deletes Pods once their attempt ended)' }
    }
    return describePod(pod, events)
  }

  async function peek(handle: RuntimeHandle): Promise<{ phase: string; message?: string } | undefined> {
    const d = handleData(handle)
    const pod = await peekPod(await core(), d)
    return pod ? podPhase(pod) : undefined
  }

  async function find(key: StepKey): Promise<RuntimeHandle | undefined> {
    const api = await core()
    const labelSelector = [`ctl.dev/run=${labelValue(key.runId)}`, `ctl.dev/step=${labelValue(key.step)}`, `ctl.dev/attempt=${key.attempt}`].join(',')
    // In the run's namespace when the engine says which (the runtime may be bound to its namespaces only).
    const list = await retry(() =>
      key.workspace !== undefined
        ? api.listNamespacedPod({ namespace: namespaceFor(prefix, key.workspace), labelSelector })
        : api.listPodForAllNamespaces({ labelSelector }),
    ).catch((e) => {
      throw apiError(`listing pods of ${key.runId}/${key.step}/${key.attempt}`, e)
    })
    // Our namespaces only: the same labels in another namespace are not ours.
    const pod = list.items.find((p) => (p.metadata?.namespace ?? '').startsWith(prefix) && !p.metadata?.deletionTimestamp) ?? list.items.find((p) => (p.metadata?.namespace ?? '').startsWith(prefix))
    if (!pod) return undefined
    return handleOf(pod, referencedNames(pod).secrets[0])
  }

  async function close(): Promise<void> {
    collector.close()
    for (const inf of informers.values()) inf.close()
    informers.clear()
  }

  return { info: () => info, start, follow, kill, cleanup, find, describe, peek, close }
}
