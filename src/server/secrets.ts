// The server's side of secrets: sealing values before the store sees them, opening them for
// `get --unsanitized`, and refusing (at apply) workflows whose owner may not `use` a secret they
// project. The crypto is src/secrets/crypto.ts; the `use` rule is src/secrets/use.ts.
import { CtlError } from '../errors.js'
import { formatPath, type JsonPath, type NormalizedDocument, type Resource, type SecretRef, type WorkflowResource } from '../manifest/model.js'
import type { ResourceKey, Store } from '../store/types.js'
import type { ApiIssue, Principal } from '../client/types.js'
import { decideOn } from './access.js'
import { isSecretType, openSecretManifest, sealSecretManifest, type SealedSecret, type SecretBox } from '../secrets/crypto.js'
import { checkSecretUse, pendingKey } from '../secrets/use.js'

/** What the store gets for a resource about to be applied: secret values sealed, the hash over their MACs. */
export function sealForStore(box: SecretBox | undefined, type: string, manifest: unknown): SealedSecret {
  if (!isSecretType(type)) return { manifest, hashSource: undefined }
  // Fail closed: a server without a master key never stores a secret in clear.
  if (!box) throw new CtlError('E_INTERNAL', 'this control plane has no master key, so it cannot store secrets')
  return sealSecretManifest(type, manifest, box)
}

/** For AppDeps.revealSecrets: the stored manifest with values in clear (the route decides who may). */
export function secretRevealer(box: SecretBox): (type: string, manifest: unknown) => unknown {
  return (type, manifest) => openSecretManifest(type, manifest, box)
}

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
 * Where the manifest names secret `id`: an entry of a `secrets` list (`{id: ...}` or a bare name) or of
 * `dataosSecrets` (`{name: ...}`), at any depth. Undefined when not found (the caller falls back).
 */
export function locateSecretRef(value: unknown, id: string, path: JsonPath = []): JsonPath | undefined {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = locateSecretRef(value[i], id, [...path, i])
      if (found) return found
    }
    return undefined
  }
  if (!isObj(value)) return undefined
  for (const [k, v] of Object.entries(value)) {
    if ((k === 'secrets' || k === 'dataosSecrets') && Array.isArray(v)) {
      const field = k === 'secrets' ? 'id' : 'name'
      const i = v.findIndex((e) => e === id || (isObj(e) && e[field] === id))
      if (i >= 0) return typeof v[i] === 'string' ? [...path, k, i] : [...path, k, i, field]
    }
    const found = locateSecretRef(v, id, [...path, k])
    if (found) return found
  }
  return undefined
}

/** Every secret the workflow's steps project (step projections already include the workflow-level one). */
function projectedRefs(workflow: WorkflowResource): SecretRef[] {
  return workflow.workflow.dag.flatMap((step) => step.spec.projection.secrets)
}

/**
 * Located issues (422) for workflows of this apply whose owner may not `use` a secret they project.
 * Documents the caller may not apply at all are left to the 403 that follows; `newOwner` is the
 * owner a new resource would get (undefined when the caller may not set it: that is refused later too).
 */
export async function secretUseIssues(
  store: Store,
  principal: Principal,
  items: readonly ApplyItem[],
  newOwner: (item: ApplyItem) => string | undefined,
): Promise<ApiIssue[]> {
  if (!items.some((i) => i.key.type === 'workflow' && projectedRefs(i.resource as WorkflowResource).length > 0)) return []
  const owners = new Map<ApplyItem, string>()
  const pending = new Map<string, string>()
  for (const item of items) {
    if (item.key.type !== 'workflow' && !isSecretType(item.key.type)) continue
    const current = await store.getResource(item.key)
    if (!(await decideOn(store, principal, 'apply', item.key, current)).allowed) continue
    const owner = current?.owner ?? newOwner(item)
    if (owner === undefined) continue
    owners.set(item, owner)
    if (isSecretType(item.key.type)) pending.set(pendingKey(item.key), owner)
  }
  const issues: ApiIssue[] = []
  for (const [item, owner] of owners) {
    if (item.key.type !== 'workflow' || item.key.workspace === null) continue
    const refs = projectedRefs(item.resource as WorkflowResource)
    const problems = await checkSecretUse(store, refs, item.key.workspace, { owner: owner === principal.id ? principal : owner, pending })
    for (const p of problems) {
      const path = locateSecretRef(item.doc.doc.value, p.ref.id) ?? ['spec']
      const { line, column } = item.doc.doc.locate(path)
      issues.push({ file: item.doc.doc.file, line, column, path: formatPath(path), code: 'E_FORBIDDEN', message: p.message, document: item.index })
    }
  }
  return issues
}
