// One apply: lint every document with the manifest core (the same code the CLI lints
// with), then store each one (dry run: the same path, nothing written), then tell the
// engine. Nothing is stored when any document has an issue.
import { CtlError, ManifestError, type ManifestIssue } from '../errors.js'
import { lintValue, type ManifestLimitSettings } from '../manifest/index.js'
import { formatPath, type NormalizedDocument, type Resource, type WorkflowResource } from '../manifest/model.js'
import { resolveParams } from '../manifest/params.js'
import { parseDependency } from '../manifest/dependencies.js'
import type { EngineApi } from '../engine/api.js'
import type { ResourceKey, Store } from '../store/types.js'
import type { ApiIssue, ApplyDocument, ApplyResponse, ApplyResultItem, Principal } from '../api/types.js'
import { decide, whatAllows } from '../access/policy.js'
import { requireOn } from '../access/targets.js'
import { buildManifestContext } from './manifest-context.js'
import { isInstanceLevel, maskSecrets } from '../http/keys.js'
import { sealForStore } from './secrets.js'
import { useIssues } from './use-issues.js'
import { secretIssues } from './secret-issues.js'
import { triggerSecretIssues } from './trigger-issues.js'
import type { SecretBox } from '../secrets/crypto.js'
import { givenParams, maskParams } from '../http/run-params.js'
import { resolveDryRunWorkflow } from '../engine/dry-run.js'
import { StoreSecretProvider } from '../engine/launch.js'
import { Catalog } from '../stack/catalog.js'

export interface ApplyDeps {
  store: Store
  engine: EngineApi
  /** Seals secret values before they are stored; without it secrets are refused (never stored in clear). */
  secrets?: SecretBox
  /** Bounds this server sets on manifests (steps per workflow). */
  limits?: ManifestLimitSettings
}

interface Linted {
  /** Index in the request's `documents`. */
  index: number
  doc: NormalizedDocument
  key: ResourceKey
  resource: Resource
}

/** Bare manifests and `{source, manifest}` wrappers are both accepted; a manifest never has a top-level `manifest` key. */
function unwrap(item: unknown): ApplyDocument {
  if (item && typeof item === 'object' && !Array.isArray(item) && 'manifest' in item) {
    const w = item as { manifest: unknown; source?: unknown }
    const s = w.source as { file?: unknown; index?: unknown } | undefined
    if (s && typeof s.file === 'string') {
      return { manifest: w.manifest, source: { file: s.file, index: typeof s.index === 'number' ? s.index : 0 } }
    }
    return { manifest: w.manifest }
  }
  return { manifest: item }
}

/** Stacks and computes are linted (and stored) first, so workflows of the same request can use them. */
function rank(manifest: unknown): number {
  const type = manifest && typeof manifest === 'object' ? (manifest as { type?: unknown }).type : undefined
  // Workflows last: applying one may start its run at once, whose steps then need the secrets and volumes of the
  // same request stored already.
  return type === 'stack' || type === 'compute' ? 0 : type === 'workflow' ? 2 : 1
}

function issue(doc: NormalizedDocument, index: number, code: ManifestIssue['code'], path: (string | number)[], message: string): ApiIssue {
  const { line, column } = doc.doc.locate(path)
  return { file: doc.doc.file, line, column, path: formatPath(path), code, message, document: index }
}

/** The owner a new resource gets: the caller, or the manifest's `owner` when a tenant-admin of the workspace applies it. */
function ownerFor(principal: Principal, key: ResourceKey, declared: string | undefined): string {
  if (declared === undefined || declared === principal.id) return principal.id
  const target = { workspace: key.workspace, type: 'user', name: declared }
  if (decide(principal, 'admin', target).allowed) return declared
  throw new CtlError('E_FORBIDDEN', `forbidden: user ${principal.id} may not apply ${key.type} ${key.name} on behalf of owner ${declared} `
    + `(needs ${whatAllows('admin', target)}; or leave "owner" out of the manifest)`)
}

export async function applyDocuments(
  deps: ApplyDeps,
  principal: Principal,
  workspace: string,
  items: unknown[],
  dryRun: boolean,
  paramsValue?: unknown,
): Promise<ApplyResponse> {
  // Checked before linting, so a typo in -w says so instead of listing manifest issues first.
  if (!(await deps.store.getWorkspace(workspace))) {
    throw new CtlError('E_NOT_FOUND', `workspace ${workspace} not found; create it with: ctl workspace create -n ${workspace}`)
  }
  const ctx = await buildManifestContext(deps.store, deps.limits)
  const docs = items.map(unwrap)
  const order = docs.map((_, i) => i).sort((a, b) => rank(docs[a]!.manifest) - rank(docs[b]!.manifest) || a - b)
  const issues: ApiIssue[] = []
  const linted: Linted[] = []
  const seen = new Map<string, number>()
  for (const index of order) {
    const { manifest, source } = docs[index]!
    const result = lintValue(manifest, ctx, { file: source?.file ?? '<request>' })
    for (const i of result.issues) issues.push({ ...i, document: index })
    for (const doc of result.documents) {
      const resource = doc.resource
      const meta = resource.meta
      ctx.add(resource)
      const instance = isInstanceLevel(meta.type)
      if (!instance && meta.workspace !== undefined && meta.workspace !== workspace) {
        issues.push(issue(doc, index, 'E_USAGE', ['workspace'],
          `manifest names workspace "${meta.workspace}" but is applied to workspace "${workspace}"`))
        continue
      }
      const key: ResourceKey = { workspace: instance ? null : workspace, type: meta.type, name: meta.name }
      const id = `${key.workspace ?? ''}/${key.type}/${key.name}`
      const first = seen.get(id)
      if (first !== undefined) {
        issues.push(issue(doc, index, 'E_DUPLICATE_RESOURCE', ['name'],
          `${meta.type} ${meta.name} appears twice in this apply (also document ${first + 1})`))
        continue
      }
      seen.set(id, index)
      // The stored manifest carries its workspace so the engine never has to guess it.
      const fixedMeta = { ...meta }
      if (instance) delete fixedMeta.workspace
      else fixedMeta.workspace = workspace
      linted.push({ index, doc, key, resource: { ...resource, meta: fixedMeta } as Resource })
    }
  }
  issues.push(...(await dependencyIssues(deps.store, linted, workspace)))
  if (issues.length > 0) {
    issues.sort((a, b) => (a.document ?? 0) - (b.document ?? 0) || a.line - b.line || a.column - b.column)
    throw new ManifestError(issues)
  }

  // A workflow may project a secret or mount a volume only if its owner and the caller may `use` it
  // (the engine checks the owner again as each step starts).
  const { issues: refused, checked } = await useIssues(deps.store, principal, linted, (l) => {
    try {
      return ownerFor(principal, l.key, l.resource.meta.owner)
    } catch {
      return undefined // refused below with 403
    }
  })
  if (refused.length > 0) throw new ManifestError(refused)
  // After the `use` check, and only for the workflows it checked: a caller who may not apply a workflow,
  // or not use a secret, learns nothing about the secret's keys.
  const unresolved = [...(await secretIssues(deps.store, linted, checked)), ...(await triggerSecretIssues(deps.store, linted, checked))]
  if (unresolved.length > 0) throw new ManifestError(unresolved)

  const runParams = paramsOfRuns(linted, givenParams(paramsValue))

  const results: { index: number; item: ApplyResultItem }[] = []
  for (const l of linted) {
    const current = await deps.store.getResource(l.key)
    await requireOn(deps.store, principal, 'apply', l.key, current)
    const owner = ownerFor(principal, l.key, l.resource.meta.owner)
    const sealed = sealForStore(deps.secrets, l.key.type, l.resource)
    const { outcome, resource } = await deps.store.applyResource({
      ...l.key,
      version: l.resource.meta.version,
      manifest: sealed.manifest,
      hashSource: sealed.hashSource,
      owner,
      dryRun,
    })
    const item: ApplyResultItem = {
      name: resource.name, version: resource.version, type: resource.type, workspace: resource.workspace, outcome,
      revision: resource.revision,
    }
    const planned = runParams.get(l)
    if (dryRun) {
      item.manifest = maskSecrets(l.key.type, l.resource)
      if (current) item.current = maskSecrets(l.key.type, current.manifest)
      if (planned?.resolved && (outcome !== 'unchanged' || planned.given !== undefined)) item.params = planned.shown
      if (planned?.given !== undefined) item.steps = await dryRunPods(deps.store, linted, l.resource as WorkflowResource, planned.given, workspace)
    } else {
      // Awaited so the answer names the run it started: `--wait` follows that run, it never searches for one.
      const started = await deps.engine.resourceApplied(resource, outcome, planned?.given)
      if (started) {
        item.runId = started.id
        if (planned?.resolved) item.params = planned.shown
      }
    }
    if (planned?.problem && outcome !== 'unchanged') item.note = planned.problem
    results.push({ index: l.index, item })
  }
  results.sort((a, b) => a.index - b.index)
  return { dryRun, results: results.map((r) => r.item) }
}

/**
 * `spec.dependencies` that exist neither in the store nor in this apply, each named at its entry. Only the
 * workflow's own workspace (and instance-level types) may be named, where the caller applies: another
 * workspace's names would otherwise be probed through this answer.
 */
export async function dependencyIssues(store: Store, linted: readonly Linted[], workspace: string): Promise<ApiIssue[]> {
  const batch = new Set(linted.map((l) => `${l.key.workspace ?? ''}/${l.key.type}/${l.key.name}`))
  const out: ApiIssue[] = []
  for (const l of linted) {
    if (l.key.type !== 'workflow') continue
    const deps = (l.resource as WorkflowResource).workflow.dependencies ?? []
    for (const [i, text] of deps.entries()) {
      const ref = parseDependency(text)
      if (typeof ref === 'string') continue // lint located it already
      const ws = isInstanceLevel(ref.type) ? null : ref.workspace ?? workspace
      const bodyKey = l.resource.meta.version === 'v1' ? 'workflow' : 'spec'
      if (ws !== null && ws !== workspace) {
        out.push(issue(l.doc, l.index, 'E_UNKNOWN_DEPENDENCY', [bodyKey, 'dependencies', i], `dependency "${text}": only resources of the workflow's own workspace (${workspace}) or instance-level ones can be named`))
        continue
      }
      if (batch.has(`${ws ?? ''}/${ref.type}/${ref.name}`) || (await store.getResource({ workspace: ws, type: ref.type, name: ref.name }))) continue
      const where = ws === null ? 'on this instance' : `in workspace ${ws}`
      out.push(issue(l.doc, l.index, 'E_UNKNOWN_DEPENDENCY', [bodyKey, 'dependencies', i],
        `dependency "${text}": ${ref.type} ${ref.name} does not exist ${where}; apply it first (or in the same apply)`))
    }
  }
  return out
}

interface PlannedParams {
  /** As the request gave them (the engine resolves them again, against the revision it stores). */
  given?: Record<string, unknown>
  resolved?: Record<string, unknown>
  /** Resolved, secret ones masked: what the answer shows. */
  shown?: Record<string, unknown>
  /** Why the apply starts no run: a required param without a default was not given. */
  problem?: string
}

/**
 * The params of the run each unscheduled workflow of the apply would start. Given params go to one
 * unscheduled workflow only and must resolve (422 otherwise, nothing stored). Without them a workflow
 * whose required params have no default is applied all the same, starts no run and says why.
 */
function paramsOfRuns(linted: readonly Linted[], given: Record<string, unknown> | undefined): Map<Linted, PlannedParams> {
  const workflows = linted.filter((l) => l.key.type === 'workflow')
  const out = new Map<Linted, PlannedParams>()
  if (given !== undefined) {
    if (workflows.length !== 1) {
      throw new CtlError('E_USAGE', `params go to the run of one workflow; this apply has ${workflows.length === 0 ? 'none' : `${workflows.length} (${workflows.map((w) => w.key.name).join(', ')})`}`)
    }
    const wf = workflows[0]!.resource as WorkflowResource
    if (wf.workflow.schedule) {
      throw new CtlError('E_PARAMS', `workflow "${wf.meta.name}" is scheduled: its runs use the params' defaults; start a run with params with: ctl resource runtime run -t workflow -n ${wf.meta.name} --param NAME=VALUE`, { workflow: wf.meta.name })
    }
  }
  for (const l of workflows) {
    const wf = l.resource as WorkflowResource
    if (wf.workflow.schedule) continue
    try {
      const resolved = resolveParams(wf.workflow.params, given ?? {})
      out.set(l, { given, resolved, shown: maskParams(wf.workflow.params, resolved) })
    } catch (err) {
      if (given !== undefined || !(err instanceof CtlError && err.code === 'E_PARAMS')) throw err
      out.set(l, { problem: `no run started: ${err.message}; start one with: ctl resource runtime run -t workflow -n ${wf.meta.name} --param NAME=VALUE` })
    }
  }
  return out
}

/** A server dry run with params: the Pods of the run, with this server's stacks and computes and those of the request. */
async function dryRunPods(store: Store, linted: readonly Linted[], workflow: WorkflowResource, given: Record<string, unknown>, workspace: string): Promise<ApplyResultItem['steps']> {
  const catalog = await Catalog.fromStore(store, linted.map((l) => l.resource))
  // Secret types only (a pull secret becomes imagePullSecrets): references mode reads no value.
  return (await resolveDryRunWorkflow(workflow, given, { catalog, secrets: new StoreSecretProvider(store), workspace })).steps
}
