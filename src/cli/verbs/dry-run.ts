// `ctl resource apply --dry-run` (client side): lint, then resolve every step
// of every workflow into the exact Pod it becomes, with the ConfigMap and
// Secret shapes it references. Secret values are never read: references only.
import type { V1Pod } from '@kubernetes/client-node'
import { CtlError } from '../../errors.js'
import type { NormalizedDocument, WorkflowResource } from '../../manifest/model.js'
import { InMemorySecretProvider } from '../../projection/index.js'
import { Catalog } from '../../stack/catalog.js'
import type { Io } from '../io.js'
import { offlineManifestContext } from '../offline.js'
import { renderTable, toJson, toYaml, type OutputFormat } from '../output.js'
import { describeResource, lintManifests, type LintOptions } from './lint.js'
import { resolveDryRunWorkflow, type DryRunResolved } from '../../engine/dry-run.js'
import { formatParams, hasParamFlags, paramsFromFlags, type ParamFlags } from './run-params.js'

export interface DryRunOptions extends LintOptions {
  output: OutputFormat
  /** `--param` / `--params-file`: rendered into the Pods shown. */
  params?: ParamFlags
}

/** What printDryRunWorkflow needs: a client dry run's resolution, or a server dry run's answer. */
export interface DryRunShown {
  params: Record<string, unknown>
  missing: string[]
  steps: { step: string; instance?: string; note?: string; pod: V1Pod }[]
}

export interface ResolvedWorkflow extends DryRunResolved {
  workflow: WorkflowResource
}

/** Lints and resolves; the objects a dry run shows. */
export async function resolveDryRun(options: LintOptions & { params?: ParamFlags }): Promise<{ documents: NormalizedDocument[]; workflows: ResolvedWorkflow[] }> {
  const documents = await lintManifests(options, offlineManifestContext())
  const catalog = Catalog.builtin(documents.map((d) => d.resource))
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
    workflows.push({ workflow: declared, ...(await resolveDryRunWorkflow(declared, given ?? {}, { catalog, secrets, workspace })) })
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
  for (const w of workflows) printDryRunWorkflow(io, w.workflow, w)
  io.out('apply...complete (dry run: nothing was sent; -o yaml shows the Pods)')
}

/** One workflow of a dry run as a table: its params, then a row per step (an example instance for a fanned-out one). */
export function printDryRunWorkflow(io: Io, workflow: WorkflowResource, w: DryRunShown): void {
  io.out('')
  io.out(`workflow ${workflow.meta.name}: ${w.steps.length} step${w.steps.length === 1 ? '' : 's'}`)
  if (Object.keys(w.params).length > 0) io.out(`params: ${formatParams(w.params)}`)
  if (w.missing.length > 0) io.out(`required params not given (shown as <param:NAME>): ${w.missing.join(', ')}`)
  const noted = w.steps.some((s) => s.note)
  io.out(
    renderTable(
      ['STEP', 'POD', 'IMAGE', 'DEPENDS', ...(noted ? ['NOTE'] : [])],
      w.steps.map((s, i) => [
        s.instance ? `${s.step} (${s.instance})` : s.step, s.pod.metadata?.name, s.pod.spec?.containers[0]?.image, workflow.workflow.dag[i]?.depends.join(', ') ?? '',
        ...(noted ? [s.note ?? ''] : []),
      ]),
    ).trimEnd(),
  )
}
