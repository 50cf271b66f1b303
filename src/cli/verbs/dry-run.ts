// `ctl resource apply --dry-run` (client side): lint, then resolve every step
// of every workflow into the exact Pod it becomes, with the ConfigMap and
// Secret shapes it references. Secret values are never read: references only.
import type { V1ConfigMap, V1Pod, V1Secret } from '@kubernetes/client-node'
import { CtlError } from '../../errors.js'
import type { ComputeSpec, NormalizedDocument, WorkflowResource } from '../../manifest/model.js'
import { InMemorySecretProvider } from '../../projection/index.js'
import { BUILTIN_COMPUTES, resolveWorkflowPods } from '../../stack/pod.js'
import { StackRegistry } from '../../stack/registry.js'
import type { Io } from '../io.js'
import { offlineManifestContext } from '../offline.js'
import { renderTable, toJson, toYaml, type OutputFormat } from '../output.js'
import { describeResource, lintManifests, type LintOptions } from './lint.js'
import { dryRunParams, dryRunSteps } from './dry-run-steps.js'
import { formatParams, hasParamFlags, paramsFromFlags, type ParamFlags } from './run-params.js'

export interface DryRunOptions extends LintOptions {
  output: OutputFormat
  /** `--param` / `--params-file`: rendered into the Pods shown. */
  params?: ParamFlags
}

export interface ResolvedWorkflow {
  workflow: WorkflowResource
  /** The params the Pods are rendered with (required ones not given read `<param:NAME>`). */
  params: Record<string, unknown>
  /** Required params not given. */
  missing: string[]
  /** `step`: the declared step; `instance`: the example instance's name for a fanned-out step. */
  steps: { step: string; instance?: string; note?: string; pod: V1Pod; configMap?: V1ConfigMap; secret?: V1Secret }[]
}

/** Lints and resolves; the objects a dry run shows. */
export async function resolveDryRun(options: LintOptions & { params?: ParamFlags }): Promise<{ documents: NormalizedDocument[]; workflows: ResolvedWorkflow[] }> {
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
  const all = documents.filter((d) => d.resource.meta.type === 'workflow').map((d) => d.resource as WorkflowResource)
  if (options.params && hasParamFlags(options.params) && all.length !== 1) {
    throw new CtlError('E_USAGE', `--param and --params-file go to the run of one workflow; these files hold ${all.length === 0 ? 'none' : `${all.length} (${all.map((w) => w.meta.name).join(', ')})`}`)
  }
  const workflows: ResolvedWorkflow[] = []
  for (const declared of all) {
    const workspace = declared.meta.workspace ?? options.workspace
    const given = options.params ? await paramsFromFlags(options.params, declared.workflow.params) : undefined
    const params = dryRunParams(declared.workflow.params, given ?? {})
    const steps = dryRunSteps(declared, params.values, workspace)
    const workflow: WorkflowResource = { ...declared, workflow: { ...declared.workflow, dag: steps.map((s) => s.step) } }
    const resolved = await resolveWorkflowPods(workflow, {
      stacks,
      computes,
      run: { runId: 'dry-run', revision: 0, runStartTime: new Date(0).toISOString(), owner: workflow.meta.owner ?? 'you', workspace, dryRun: true },
      secrets,
      mode: 'references',
    })
    workflows.push({
      workflow: declared,
      params: params.values,
      missing: params.missing,
      steps: resolved.map((r, i) => {
        const s = steps[i]!
        return {
          step: s.declared.name, ...(s.step.name !== s.declared.name ? { instance: s.step.name } : {}), ...(s.note ? { note: s.note } : {}),
          pod: r.pod, configMap: r.configMap, secret: r.secret,
        }
      }),
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
    if (Object.keys(w.params).length > 0) io.out(`params: ${formatParams(w.params)}`)
    if (w.missing.length > 0) io.out(`required params not given (shown as <param:NAME>): ${w.missing.join(', ')}`)
    const noted = w.steps.some((s) => s.note)
    io.out(
      renderTable(
        ['STEP', 'POD', 'IMAGE', 'DEPENDS', ...(noted ? ['NOTE'] : [])],
        w.steps.map((s, i) => [
          s.instance ? `${s.step} (${s.instance})` : s.step, s.pod.metadata?.name, s.pod.spec?.containers[0]?.image, w.workflow.workflow.dag[i]!.depends.join(', '),
          ...(noted ? [s.note ?? ''] : []),
        ]),
      ).trimEnd(),
    )
  }
  io.out('apply...complete (dry run: nothing was sent; -o yaml shows the Pods)')
}
