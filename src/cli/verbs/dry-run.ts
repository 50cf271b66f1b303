// `ctl resource apply --dry-run` (client side): lint, then resolve every step
// of every workflow into the exact Pod it becomes, with the ConfigMap and
// Secret shapes it references. Secret values are never read: references only.
import type { V1ConfigMap, V1Pod, V1Secret } from '@kubernetes/client-node'
import type { ComputeSpec, NormalizedDocument, WorkflowResource } from '../../manifest/model.js'
import { InMemorySecretProvider } from '../../projection/index.js'
import { BUILTIN_COMPUTES, resolveWorkflowPods } from '../../stack/pod.js'
import { StackRegistry } from '../../stack/registry.js'
import type { Io } from '../io.js'
import { offlineManifestContext } from '../offline.js'
import { renderTable, toJson, toYaml, type OutputFormat } from '../output.js'
import { describeResource, lintManifests, type LintOptions } from './lint.js'

export interface DryRunOptions extends LintOptions {
  output: OutputFormat
}

export interface ResolvedWorkflow {
  workflow: WorkflowResource
  steps: { step: string; pod: V1Pod; configMap?: V1ConfigMap; secret?: V1Secret }[]
}

/** Lints and resolves; the objects a dry run shows. */
export async function resolveDryRun(options: LintOptions): Promise<{ documents: NormalizedDocument[]; workflows: ResolvedWorkflow[] }> {
  const stacks = StackRegistry.builtin().clone()
  const computes = new Map<string, ComputeSpec>(BUILTIN_COMPUTES)
  const documents = await lintManifests(options, offlineManifestContext(stacks))
  for (const { resource } of documents) {
    if (resource.meta.type === 'stack' && 'stack' in resource) stacks.add(resource.stack)
    if (resource.meta.type === 'compute' && 'compute' in resource) computes.set(resource.meta.name, resource.compute)
  }
  // Only the types of the secrets in the same files (a pull secret becomes imagePullSecrets, not env): never their values.
  const secrets = new InMemorySecretProvider()
  for (const { resource } of documents) {
    if (!('secret' in resource)) continue
    const ws = resource.meta.type === 'instance-secret' ? undefined : (resource.meta.workspace ?? options.workspace)
    secrets.set(resource.meta.name, {}, ws, resource.secret.type)
  }
  const workflows: ResolvedWorkflow[] = []
  for (const { resource } of documents) {
    if (resource.meta.type !== 'workflow') continue
    const workflow = resource as WorkflowResource
    const workspace = workflow.meta.workspace ?? options.workspace
    const resolved = await resolveWorkflowPods(workflow, {
      stacks,
      computes,
      run: { runId: 'dry-run', revision: 0, runStartTime: new Date(0).toISOString(), owner: workflow.meta.owner ?? 'you', workspace, dryRun: true },
      secrets,
      mode: 'references',
    })
    workflows.push({
      workflow,
      steps: resolved.map((r, i) => ({ step: workflow.workflow.dag[i]!.name, pod: r.pod, configMap: r.configMap, secret: r.secret })),
    })
  }
  return { documents, workflows }
}

export async function runDryRun(options: DryRunOptions, io: Io): Promise<void> {
  const { documents, workflows } = await resolveDryRun(options)
  const objects = workflows.flatMap((w) => w.steps.flatMap((s) => [s.pod, s.configMap, s.secret].filter((o) => o !== undefined)))
  if (options.output === 'yaml') {
    io.out(objects.map((o) => toYaml(o)).join('---\n'))
    return
  }
  if (options.output === 'json') {
    io.out(toJson({ apiVersion: 'v1', kind: 'List', items: objects }))
    return
  }
  for (const { resource } of documents) io.out(`applying${describeResource(resource.meta, options.workspace)}...valid (dry run)`)
  for (const w of workflows) {
    io.out('')
    io.out(`workflow ${w.workflow.meta.name}: ${w.steps.length} step${w.steps.length === 1 ? '' : 's'}`)
    io.out(
      renderTable(
        ['STEP', 'POD', 'IMAGE', 'DEPENDS'],
        w.steps.map((s, i) => [s.step, s.pod.metadata?.name, s.pod.spec?.containers[0]?.image, w.workflow.workflow.dag[i]!.depends.join(', ')]),
      ).trimEnd(),
    )
  }
  io.out('apply...complete (dry run: nothing was sent; -o yaml shows the Pods)')
}
