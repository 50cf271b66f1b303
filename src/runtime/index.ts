// The one place a runtime is chosen from configuration: the control plane (src/controlplane) asks for one
// by kind and gets the Runtime interface. client-node is loaded only for 'kubernetes' (it is slow to load).
import { CtlError } from '../errors.js'
import { createLocalRuntime, type LocalRuntimeOptions } from './local/index.js'
import type { Runtime } from './types.js'
import type { Metrics } from '../metrics/metrics.js'

export type RuntimeKind = 'local' | 'kubernetes'

export interface KubernetesServerOptions {
  /** A kubeconfig file; without it KUBECONFIG, ~/.kube/config or the in-cluster service account. */
  kubeconfigPath?: string
  /** A context of the kubeconfig; default its current context. */
  context?: string
  /** Namespace of a workspace = prefix + workspace. Default 'ctl-'. */
  namespacePrefix?: string
  /** Create missing namespaces (needs the cluster-wide right to). Default false. */
  manageNamespaces?: boolean
  /** How long an image may fail to pull before its step fails. Default 120 s. */
  imagePullGraceSeconds?: number
  /** Delete a step's Pod once it ended and its log is stored. Default true. */
  gcWhenComplete?: boolean
  /** Keep finished Pods this long before deleting them. Default 0. */
  podTtlSeconds?: number
  /** Storage class of volume claims whose volume names none. Default: the cluster's default. */
  defaultStorageClass?: string
}

export interface RuntimeConfig {
  /** Default 'local'. */
  kind?: RuntimeKind
  /** The local runtime's settings (used when kind is 'local'). */
  local: LocalRuntimeOptions
  /** The Kubernetes runtime's settings (used when kind is 'kubernetes'). */
  kubernetes?: KubernetesServerOptions
  /** Where the Kubernetes runtime counts its requests to the API server. */
  metrics?: Metrics
}

export async function createRuntime(config: RuntimeConfig): Promise<Runtime> {
  const kind = config.kind ?? 'local'
  if (kind === 'local') return createLocalRuntime(config.local)
  if (kind !== 'kubernetes') throw new CtlError('E_USAGE', `unknown runtime "${String(kind)}" (expected local or kubernetes)`)
  const k = config.kubernetes ?? {}
  const [{ KubeConfig }, { createKubernetesRuntime }] = await Promise.all([import('@kubernetes/client-node'), import('./kubernetes/index.js')])
  const kubeConfig = new KubeConfig()
  try {
    if (k.kubeconfigPath) kubeConfig.loadFromFile(k.kubeconfigPath)
    else kubeConfig.loadFromDefault()
  } catch (err) {
    throw new CtlError('E_USAGE', `cannot load the kubeconfig${k.kubeconfigPath ? ` ${k.kubeconfigPath}` : ''}: ${err instanceof Error ? err.message : String(err)}`)
  }
  if (k.context) {
    if (!kubeConfig.getContextObject(k.context)) {
      const known = kubeConfig.getContexts().map((c) => c.name)
      throw new CtlError('E_USAGE', `kubeconfig has no context "${k.context}"${known.length ? ` (known: ${known.join(', ')})` : ''}`)
    }
    kubeConfig.setCurrentContext(k.context)
  }
  if (!kubeConfig.getCurrentCluster()) throw new CtlError('E_USAGE', 'no Kubernetes cluster configured: give --kubeconfig, set KUBECONFIG, or run inside a cluster')
  return createKubernetesRuntime({
    kubeConfig,
    namespacePrefix: k.namespacePrefix,
    manageNamespaces: k.manageNamespaces,
    imagePullGraceSeconds: k.imagePullGraceSeconds,
    gcWhenComplete: k.gcWhenComplete,
    podTtlSeconds: k.podTtlSeconds,
    defaultStorageClass: k.defaultStorageClass,
    metrics: config.metrics,
  })
}
