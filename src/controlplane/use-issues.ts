// At apply: every secret a workflow projects and every volume it mounts must be usable by the
// workflow's owner AND by the caller applying it (src/access/use.ts). A refusal is a located,
// lint-style issue (file, line, field) with code E_FORBIDDEN, answered 403 (CLI exit 4).
import { formatPath, type JsonPath, type NormalizedDocument, type Resource, type WorkflowResource } from '../manifest/model.js'
import type { ResourceKey, Store } from '../store/types.js'
import type { ApiIssue, Principal } from '../api/types.js'
import { decideOn } from '../access/targets.js'
import { checkUse, pendingKey } from '../access/use.js'
import { usedByStep } from '../engine/launch.js'

/** One linted document of an apply request. */
export interface ApplyItem {
  /** Index in the request's `documents`. */
  index: number
  doc: NormalizedDocument
  key: ResourceKey
  resource: Resource
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * Where the manifest names `id` in a list called one of `lists` (entries `{field: id}` or a bare
 * name), at any depth. Undefined when not found (the caller falls back).
 */
function locateRef(value: unknown, id: string, lists: Readonly<Record<string, string>>, path: JsonPath): JsonPath | undefined {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = locateRef(value[i], id, lists, [...path, i])
      if (found) return found
    }
    return undefined
  }
  if (!isObj(value)) return undefined
  for (const [k, v] of Object.entries(value)) {
    const field = lists[k]
    if (field !== undefined && Array.isArray(v)) {
      const i = v.findIndex((e) => e === id || (isObj(e) && e[field] === id))
      if (i >= 0) return typeof v[i] === 'string' ? [...path, k, i] : [...path, k, i, field]
    }
    const found = locateRef(v, id, lists, [...path, k])
    if (found) return found
  }
  return undefined
}

/** Where the manifest names secret `id`: a `secrets` entry (`{id}` or a bare name) or a `dataosSecrets` one (`{name}`). */
export function locateSecretRef(value: unknown, id: string, path: JsonPath = []): JsonPath | undefined {
  return locateRef(value, id, { secrets: 'id', dataosSecrets: 'name' }, path)
}

/** Where the manifest mounts volume `id`: a `volumes` entry `{id}`. */
export function locateVolumeRef(value: unknown, id: string, path: JsonPath = []): JsonPath | undefined {
  return locateRef(value, id, { volumes: 'id' }, path)
}

const USED_TYPES: ReadonlySet<string> = new Set(['secret', 'instance-secret', 'volume'])

function usedBy(workflow: WorkflowResource, workspace: string): ResourceKey[] {
  return [...workflow.workflow.dag, ...(workflow.workflow.finally ?? [])].flatMap((step) => usedByStep(step, workspace))
}

/** Also the secrets of its webhook triggers: they sign the requests that start its runs. */
function usedByWorkflow(workflow: WorkflowResource, workspace: string): ResourceKey[] {
  return [...usedBy(workflow, workspace), ...(workflow.workflow.triggers ?? []).map((t): ResourceKey => ({ workspace, type: 'secret', name: t.webhook.secret }))]
}

/** Where a webhook trigger of the workflow names secret `id`. */
function locateTriggerSecret(workflow: WorkflowResource, id: string): JsonPath | undefined {
  const t = (workflow.workflow.triggers ?? []).find((x) => x.webhook.secret === id)
  return t ? [...t.path, 'webhook', 'secret'] : undefined
}

/**
 * Located issues for workflows of this apply whose owner, or whose caller, may not `use` a
 * secret or volume they reference, and the workflows so checked (those the caller may apply, with
 * a known owner): only these are looked at further (secretIssues). Documents the caller may not apply at all are left to the 403
 * that follows; `newOwner` is the owner a new resource would get (undefined when the caller may
 * not set it: that is refused later too).
 */
export async function useIssues(
  store: Store,
  principal: Principal,
  items: readonly ApplyItem[],
  newOwner: (item: ApplyItem) => string | undefined,
): Promise<{ issues: ApiIssue[]; checked: ApplyItem[] }> {
  const workflows = items.filter((i) => i.key.type === 'workflow' && i.key.workspace !== null)
  if (!workflows.some((i) => usedByWorkflow(i.resource as WorkflowResource, i.key.workspace!).length > 0)) return { issues: [], checked: [] }
  const owners = new Map<ApplyItem, string>()
  const pending = new Map<string, string>()
  for (const item of items) {
    if (item.key.type !== 'workflow' && !USED_TYPES.has(item.key.type)) continue
    const current = await store.getResource(item.key)
    if (!(await decideOn(store, principal, 'apply', item.key, current)).allowed) continue
    const owner = current?.owner ?? newOwner(item)
    if (owner === undefined) continue
    owners.set(item, owner)
    if (USED_TYPES.has(item.key.type)) pending.set(pendingKey(item.key), owner)
  }
  const issues: ApiIssue[] = []
  const checked: ApplyItem[] = []
  for (const [item, owner] of owners) {
    if (item.key.type !== 'workflow' || item.key.workspace === null) continue
    checked.push(item)
    const keys = usedByWorkflow(item.resource as WorkflowResource, item.key.workspace)
    const problems = await checkUse(store, keys, { owner: owner === principal.id ? principal : owner, caller: principal, pending })
    for (const p of problems) {
      const value = item.doc.doc.value
      const path = (p.key.type === 'volume' ? locateVolumeRef(value, p.key.name) : locateSecretRef(value, p.key.name) ?? locateTriggerSecret(item.resource as WorkflowResource, p.key.name)) ?? ['spec']
      const { line, column } = item.doc.doc.locate(path)
      issues.push({ file: item.doc.doc.file, line, column, path: formatPath(path), code: 'E_FORBIDDEN', message: p.message, document: item.index })
    }
  }
  return { issues, checked }
}
