// Pure builder of the registry-credential Secrets a step's Pod names in imagePullSecrets (from
// `cloud-kernel-image-pull` secrets; see src/manifest/pull-secret.ts). Kept apart from the API calls
// so it can be tested without a cluster.

import type { V1Pod, V1Secret } from '@kubernetes/client-node'

export const DOCKER_CONFIG_JSON_TYPE = 'kubernetes.io/dockerconfigjson'

/**
 * One `kubernetes.io/dockerconfigjson` Secret per entry of `pullSecrets` (Secret name → Docker config
 * JSON) that the Pod names in imagePullSecrets, in the Pod's order, labelled with the Pod's `ctl.dev/*`
 * labels. An entry the Pod does not name is left out (nothing would read it); a name the Pod gives without
 * an entry is left alone, as for volume claims: it may be a Secret the cluster's operators keep there.
 */
export function buildPullSecrets(namespace: string, pod: V1Pod, pullSecrets: Record<string, string> | undefined): V1Secret[] {
  if (!pullSecrets) return []
  const labels: Record<string, string> = {}
  for (const [k, v] of Object.entries(pod.metadata?.labels ?? {})) if (k.startsWith('ctl.dev/')) labels[k] = v
  const out: V1Secret[] = []
  const seen = new Set<string>()
  for (const ref of pod.spec?.imagePullSecrets ?? []) {
    const name = ref.name
    if (!name || seen.has(name) || !Object.prototype.hasOwnProperty.call(pullSecrets, name)) continue
    seen.add(name)
    out.push({
      apiVersion: 'v1',
      kind: 'Secret',
      type: DOCKER_CONFIG_JSON_TYPE,
      metadata: { name, namespace, labels: { ...labels } },
      data: { '.dockerconfigjson': Buffer.from(pullSecrets[name]!, 'utf8').toString('base64') },
    })
  }
  return out
}
