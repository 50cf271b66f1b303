// `ctl server start` settings of the Kubernetes runtime, in flag form and already merged with the server config
// file (config-file.ts) → KubernetesServerOptions, and the environment a detached control plane reads them back
// from (it is started with the core flags only).
import { resolve } from 'node:path'
import { MS, parseDuration } from '../duration.js'
import type { KubernetesServerOptions } from './control-plane.js'

export interface KubeStartFlags {
  kubeconfig?: string
  'kube-context'?: string
  'namespace-prefix': string
  'manage-namespaces': boolean
  'image-pull-grace': string
  'gc-when-complete': boolean
  'pod-ttl': string
  'storage-class'?: string
}

/**
 * The bound on `--image-pull-grace` and `--pod-ttl`: a bare number is seconds, 0 is allowed (no grace, delete at
 * once). 24 days: the Pod TTL is a Node timer, and Node fires anything above 2^31-1 ms (~24.8 days) at once.
 */
export const KUBE_DURATION = { maxMs: 24 * MS.d, allowZero: true, bareSeconds: true } as const

function seconds(flag: string, text: string): number {
  return parseDuration(text, { ...KUBE_DURATION, what: `--${flag}` }) / 1000
}

export function kubernetesOptionsOf(flags: KubeStartFlags): KubernetesServerOptions {
  return {
    kubeconfigPath: flags.kubeconfig,
    context: flags['kube-context'],
    namespacePrefix: flags['namespace-prefix'],
    manageNamespaces: flags['manage-namespaces'],
    imagePullGraceSeconds: seconds('image-pull-grace', flags['image-pull-grace']),
    gcWhenComplete: flags['gc-when-complete'],
    podTtlSeconds: seconds('pod-ttl', flags['pod-ttl']),
    defaultStorageClass: flags['storage-class'] || undefined,
  }
}

/** The variables the flags also read (their `env`), so a detached child sees the same choices. */
export function kubernetesEnvOf(flags: KubeStartFlags): Record<string, string> {
  kubernetesOptionsOf(flags) // refuse bad values here, not in the child's log
  return {
    CTL_NAMESPACE_PREFIX: flags['namespace-prefix'],
    CTL_MANAGE_NAMESPACES: String(flags['manage-namespaces']),
    CTL_IMAGE_PULL_GRACE: flags['image-pull-grace'],
    CTL_GC_WHEN_COMPLETE: String(flags['gc-when-complete']),
    CTL_POD_TTL: flags['pod-ttl'],
    ...(flags.kubeconfig ? { CTL_KUBECONFIG: resolve(flags.kubeconfig) } : {}),
    ...(flags['kube-context'] ? { CTL_KUBE_CONTEXT: flags['kube-context'] } : {}),
    ...(flags['storage-class'] ? { CTL_STORAGE_CLASS: flags['storage-class'] } : {}),
  }
}
