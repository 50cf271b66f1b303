// Resolves a workflow step into the Kubernetes objects that run it: a Pod, a
// ConfigMap of config files, a per-run Secret of projected secret values and
// the registry credentials its imagePullSecrets name. Built as objects, never
// as YAML text. No secret value ever lands in the Pod or the ConfigMap:
// sensitive values travel through the Secrets only.

import type { V1ConfigMap, V1Container, V1EnvVar, V1KeyToPath, V1Pod, V1Secret, V1Volume, V1VolumeMount } from '@kubernetes/client-node'
import { CtlError } from '../errors.js'
import { formatPath, resourceId, type ComputeSpec, type StackDefinition, type StepModel, type WorkflowResource } from '../manifest/model.js'
import { defaultProjectionValues } from '../projection/check.js'
import { renderProjection, type ProjectionMode, type RenderedProjection } from '../projection/render.js'
import type { SecretValueProvider } from '../projection/secrets.js'
import { copyPlain, dataKey, deepMerge, dnsLabel, EnvList, escapeExpansion, isRecord, labelValue, shortRunId } from './pod-parts.js'
import type { StackRegistry } from './registry.js'
import type { RunContext } from '../template/run-context.js'
import { renderStackPart, reusableStackPart } from './stack-part.js'

export type { RunContext } from '../template/run-context.js'

export const CONFIG_DIR = '/etc/ctl/config'
export const TEMP_DIR = '/tmp'
export const SECRET_DIR = '/etc/ctl/secrets'
/**
 * Where a step writes its outputs ($CTL_OUTPUTS): the container's terminationMessagePath, so that on Kubernetes the
 * kubelet mounts the file and hands back its content (at most 4 KiB) as the termination message, with no sidecar;
 * the local runtime binds a per-attempt file there.
 */
export const OUTPUTS_FILE = '/ctl/outputs'
/** Label and annotation of a Pod whose step has `network: none`. */
export const NETWORK_KEY = 'ctl.dev/network'

export const BUILTIN_COMPUTES: Map<string, ComputeSpec> = new Map([
  ['runnable-default', { purpose: 'runnable', nodeSelector: {}, tolerations: [] }],
])

export interface PodTemplateInput {
  workflow: WorkflowResource
  step: StepModel
  stack: StackDefinition
  compute: ComputeSpec
  run: RunContext
  projection: RenderedProjection
  /** volume id → PVC claim name; default `ctl-vol-<workspace>-<id>`. */
  claimNameFor?: (volumeId: string) => string
  /**
   * What of the stack's part of the Pod may stay in memory (stack-part.ts). `step`: the step is the stored workflow's
   * own (no run value rendered into it): the part is kept and reused by later steps with the same stack and inputs.
   * `nothing`: run values are rendered into the step (a param may be secret): nothing of it is kept, not even a
   * template's render. Default: the template renders are kept, the part is not.
   */
  keep?: 'step' | 'nothing'
}

export interface ResolvedStep {
  step: string
  pod: V1Pod
  /** Config files of the stack (configFileTemplate) and non-sensitive projected files. */
  configMap?: V1ConfigMap
  /** The per-run projection Secret: sensitive values (placeholders in references mode). */
  secret?: V1Secret
  /**
   * Name of each Secret in pod.spec.imagePullSecrets → its Docker config JSON (a placeholder in
   * references mode); absent when the step references no cloud-kernel-image-pull secret.
   */
  pullSecrets?: Record<string, string>
}

interface FileGroup { config: V1KeyToPath[]; secret: V1KeyToPath[]; paths: Set<string> }

export function resolvePodTemplate(input: PodTemplateInput): ResolvedStep {
  const { workflow, step, stack, compute, run, projection } = input
  const wf = workflow.meta.name
  const attempt = run.attempt ?? 1
  const short = shortRunId(run.runId)
  const podName = dnsLabel(`${wf}-${step.name}-${short}-${attempt}`)
  const configMapName = dnsLabel(`${wf}-${short}-${step.name}-config`)
  const secretName = dnsLabel(`${wf}-${short}-${step.name}-projection`)
  const stackId = `${stack.name}:${stack.version}`
  const details = { step: step.name, path: formatPath(step.path), stack: stackId }
  const what = (part: string) => `step "${step.name}": stack "${stackId}" ${part}`
  // The stack's own templates: reused from an earlier step with the same stack and inputs when the step is as stored.
  const reused = input.keep === 'step'
  const part = reused ? reusableStackPart(input, what, details) : renderStackPart(input, what, details, input.keep !== 'nothing')
  // The Pod owns what it holds: a remembered part is never handed out (one rendered for this step is the Pod's already).
  const fields = { shaped: part.shaped, env: part.shapedEnv, mounts: part.shapedMounts }
  const own = reused ? copyPlain(fields) : fields

  // 1. Stack image / command / arguments, then the containerResourceTemplate on top.
  const containerName = dnsLabel(step.name)
  let container: Record<string, unknown> = { name: containerName }
  if (part.image) container.image = part.image
  if (part.command.length) container.command = [...part.command]
  if (part.args.length) container.args = [...part.args]
  container = deepMerge(container, own.shaped)
  container.name = containerName
  // Ours, whatever a stack's template says: the termination message carries the step's outputs (see OUTPUTS_FILE).
  container.terminationMessagePath = OUTPUTS_FILE
  container.terminationMessagePolicy = 'File'

  // 2. Environment: CTL_ facts, step envs, stack env, template env, projection.
  const env = new EnvList()
  const fact = (name: string, value: string) => env.value(name, escapeExpansion(value))
  fact('CTL_RUN_ID', run.runId)
  fact('CTL_RESOURCE_ID', resourceId({ ...workflow.meta, workspace: run.workspace }))
  fact('CTL_RESOURCE_TYPE', 'workflow')
  fact('CTL_RESOURCE_NAME', wf)
  fact('CTL_WORKSPACE', run.workspace)
  fact('CTL_STEP_NAME', step.name)
  fact('CTL_RUN_ATTEMPT', String(attempt))
  fact('CTL_TAGS', workflow.meta.tags.join(','))
  fact('CTL_DESCRIPTION', workflow.meta.description ?? '')
  fact('CTL_CONFIG_DIR', CONFIG_DIR)
  fact('CTL_TEMP_DIR', TEMP_DIR)
  fact('CTL_SECRET_DIR', SECRET_DIR)
  fact('CTL_OUTPUTS', OUTPUTS_FILE)
  if (step.spec.runAsUser !== undefined) fact('CTL_RUN_AS_USER', String(step.spec.runAsUser))
  fact('CTL_LOG_LEVEL', step.spec.logLevel ?? 'INFO')
  fact('CTL_DRY_RUN', run.dryRun ? 'true' : 'false')
  if (run.serverUrl) fact('CTL_SERVER', run.serverUrl)
  // Not reserved: set before the step's, the stack's and the projection's variables, so a TRACEPARENT of the user's
  // wins (an empty one opts the step out of the run's trace).
  if (run.traceparent) fact('TRACEPARENT', run.traceparent)
  for (const [k, v] of Object.entries(step.spec.envs)) env.value(k, v)
  for (const [k, v] of part.env) env.value(k, v)
  for (const e of (own.env ?? []) as unknown as V1EnvVar[]) {
    const value: unknown = e.value
    env.set(value === undefined ? e : { ...e, value: value === null ? '' : String(value) })
  }
  const stringData: Record<string, string> = {}
  const fromSecret = (envName: string, key: string, value: string) => {
    stringData[key] = value
    env.set({ name: envName, valueFrom: { secretKeyRef: { name: secretName, key } } })
  }
  for (const e of projection.envVars) {
    if (e.sensitive) fromSecret(e.key, dataKey(`${step.name}.env.${e.key}`), e.value)
    else env.value(e.key, escapeExpansion(e.value))
  }
  // Sensitive arguments stay out of the Pod: `$(VAR)` is expanded by the kubelet (and the local runtime).
  const projected = projection.arguments.map((a, i) => {
    if (!a.sensitive) return escapeExpansion(a.value)
    fromSecret(`CTL_PROJECTED_ARG_${i}`, dataKey(`${step.name}.arg.${i}`), a.value)
    return `$(CTL_PROJECTED_ARG_${i})`
  })
  if (projected.length) container.args = [...((container.args as string[] | undefined) ?? []), ...projected]
  container.env = env.toArray()

  // 3. Files: stack config files and projected files, one projected volume per directory.
  const configData: Record<string, string> = {}
  const groups = new Map<string, FileGroup>()
  const group = (dir: string) => {
    let g = groups.get(dir)
    if (!g) groups.set(dir, (g = { config: [], secret: [], paths: new Set() }))
    return g
  }
  const place = (dir: string, name: string, key: string, sensitive: boolean) => {
    const g = group(dir)
    if (g.paths.has(name)) throw new CtlError('E_PROJECTION', `step "${step.name}": two files named "${name}" in ${dir}`, details)
    g.paths.add(name)
    ;(sensitive ? g.secret : g.config).push({ key, path: name })
  }
  for (const [file, content] of part.files) {
    configData[file] = content
    place(CONFIG_DIR, file, file, false)
  }
  projection.files.forEach((f, i) => {
    if (f.sensitive) {
      const key = dataKey(`${step.name}.file.${i}.${f.name}`)
      stringData[key] = f.value
      place(f.directory, f.name, key, true)
    } else {
      const key = dataKey(`projection.${i}.${f.name}`)
      configData[key] = f.value
      place(f.directory, f.name, key, false)
    }
  })
  const volumes: V1Volume[] = []
  const mounts: V1VolumeMount[] = []
  let n = 0
  for (const [dir, g] of groups) {
    const name = dir === CONFIG_DIR ? 'ctl-config' : `ctl-files-${n++}`
    const sources: NonNullable<V1Volume['projected']>['sources'] = []
    if (g.config.length) sources.push({ configMap: { name: configMapName, items: g.config } })
    if (g.secret.length) sources.push({ secret: { name: secretName, items: g.secret } })
    volumes.push({ name, projected: { sources } })
    mounts.push({ name, mountPath: dir, readOnly: true })
  }
  const claims = new Map<string, string>()
  for (const v of step.spec.volumes) {
    const name = dnsLabel(`vol-${v.id}`)
    if (!claims.has(name)) {
      const claimName = input.claimNameFor?.(v.id) ?? dnsLabel(`ctl-vol-${run.workspace}-${v.id}`, 253)
      claims.set(name, claimName)
      volumes.push({ name, persistentVolumeClaim: { claimName } })
    }
    mounts.push({ name, mountPath: v.directory, readOnly: v.readOnly, ...(v.subPath ? { subPath: v.subPath } : {}) })
  }
  const allMounts = [...(Array.isArray(own.mounts) ? (own.mounts as V1VolumeMount[]) : []), ...mounts]
  const seen = new Set<string>()
  for (const m of allMounts) {
    if (seen.has(m.mountPath)) throw new CtlError('E_VOLUME', `step "${step.name}": two mounts at ${m.mountPath}`, details)
    seen.add(m.mountPath)
  }
  if (allMounts.length) container.volumeMounts = allMounts

  // 4. Resources and identity.
  const resources = deepMerge(isRecord(container.resources) ? container.resources : {}, { ...(step.spec.resources ?? {}) })
  if (Object.keys(resources).length) container.resources = resources
  if (step.spec.runAsUser !== undefined) {
    container.securityContext = { ...(isRecord(container.securityContext) ? container.securityContext : {}), runAsUser: step.spec.runAsUser }
  }

  // 5. Registry credentials: per run and step like the projection Secret, numbered in declaration order.
  const pullSecrets: Record<string, string> = {}
  const imagePullSecrets = projection.pullSecrets.map((p, i) => {
    const name = dnsLabel(`${wf}-${short}-${step.name}-pull-${i}`)
    pullSecrets[name] = p.dockerConfigJson
    return { name }
  })

  const labels: Record<string, string> = {
    'ctl.dev/workspace': labelValue(run.workspace),
    'ctl.dev/workflow': labelValue(wf),
    'ctl.dev/revision': String(run.revision),
    'ctl.dev/run': labelValue(run.runId),
    'ctl.dev/step': labelValue(step.name),
    'ctl.dev/attempt': String(attempt),
  }
  const annotations: Record<string, string> = {
    'ctl.dev/workspace': run.workspace,
    'ctl.dev/workflow': wf,
    'ctl.dev/revision': String(run.revision),
    'ctl.dev/run': run.runId,
    'ctl.dev/step': step.name,
    'ctl.dev/attempt': String(attempt),
    'ctl.dev/stack': stackId,
    // A non-empty string: renderStackPart refused any other.
    'ctl.dev/image': container.image as string,
  }
  const metaOf = (name: string) => ({ name, namespace: run.workspace, labels: { ...labels }, annotations: { ...annotations } })
  const podMeta = metaOf(podName)
  if (step.spec.network === 'none') {
    // The label selects the Pod for the deny-all NetworkPolicy (deploy/kubernetes/workspace/);
    // the local runtime reads the annotation and gives the sandbox no network.
    podMeta.labels[NETWORK_KEY] = 'none'
    podMeta.annotations[NETWORK_KEY] = 'none'
  }

  const pod: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: podMeta,
    spec: {
      restartPolicy: 'Never',
      containers: [container as unknown as V1Container],
      ...(imagePullSecrets.length ? { imagePullSecrets } : {}),
      ...(volumes.length ? { volumes } : {}),
      ...(Object.keys(compute.nodeSelector).length ? { nodeSelector: { ...compute.nodeSelector } } : {}),
      ...(compute.tolerations.length ? { tolerations: compute.tolerations.map((t) => ({ ...t })) } : {}),
      ...(step.spec.runAsUser !== undefined ? { securityContext: { runAsUser: step.spec.runAsUser } } : {}),
      ...(step.timeoutSeconds !== undefined ? { activeDeadlineSeconds: step.timeoutSeconds } : {}),
    },
  }
  const out: ResolvedStep = { step: step.name, pod }
  if (Object.keys(configData).length) out.configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: metaOf(configMapName), data: configData }
  if (Object.keys(stringData).length) {
    out.secret = { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: metaOf(secretName), stringData }
  }
  if (imagePullSecrets.length) out.pullSecrets = pullSecrets
  return out
}
