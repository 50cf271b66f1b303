// At apply: every secret a workflow projects must exist (stored, or applied in the same request) and
// have every key its templates read. A miss is a located, lint-style issue (E_SECRET, answered 422),
// not a step that fails at launch. Only key NAMES are read: nothing is decrypted.
import { formatPath, type JsonPath, type SecretResource, type WorkflowResource } from '../manifest/model.js'
import type { ResourceKey, Store } from '../store/types.js'
import type { ApiIssue } from '../api/types.js'
import { pendingKey } from '../access/use.js'
import { isSecretType } from '../secrets/crypto.js'
import { projectionReferences } from '../projection/check.js'
import { secretLocation } from '../projection/secrets.js'
import { secretKeyOf } from '../secrets/use.js'
import { StoreSecretProvider, secretKeyNames } from '../engine/launch.js'
import { locateSecretRef, type ApplyItem } from './use-issues.js'

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The first string leaf that contains `text` (a template reference), depth first. */
function locateText(value: unknown, text: string, path: JsonPath = []): JsonPath | undefined {
  if (typeof value === 'string') return value.includes(text) ? path : undefined
  const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : isObj(value) ? Object.entries(value) : []
  for (const [k, v] of entries) {
    const found = locateText(v, text, [...path, k])
    if (found) return found
  }
  return undefined
}

/**
 * Located issues for secrets that the `checked` workflows (those useIssues checked and let pass)
 * project but that exist nowhere, and for keys their templates read that the secret lacks. Secrets
 * of the same request (`items`) count, keyed as the `use` check keys them (pendingKey).
 */
export async function secretIssues(store: Store, items: readonly ApplyItem[], checked: readonly ApplyItem[]): Promise<ApiIssue[]> {
  const pending = new Map<string, ApplyItem>()
  for (const item of items) if (isSecretType(item.key.type)) pending.set(pendingKey(item.key), item)
  const provider = new StoreSecretProvider(store)
  // Per secret: its key names (undefined: it does not exist). Only secrets of workflows that passed the
  // `use` check for owner and caller are looked up, and `use` includes `get`, which shows key names already.
  const known = new Map<string, { keys?: string[] }>()
  const lookUp = async (key: ResourceKey, ref: Parameters<StoreSecretProvider['listKeys']>[0], workspace: string) => {
    const id = pendingKey(key)
    let found = known.get(id)
    if (!found) {
      const batch = pending.get(id)
      found = { keys: batch ? secretKeyNames(batch.resource) : await provider.listKeys(ref, workspace) }
      known.set(id, found)
    }
    return found
  }

  const issues: ApiIssue[] = []
  for (const item of checked) {
    if (item.key.type !== 'workflow' || item.key.workspace === null) continue
    const { workflow: wfSpec } = item.resource as WorkflowResource
    const dag = [...wfSpec.dag, ...(wfSpec.finally ?? [])]
    if (!dag.some((step) => step.spec.projection.secrets.length > 0)) continue
    const workspace = item.key.workspace
    const value = item.doc.doc.value
    const seen = new Set<string>()
    const add = (path: JsonPath | undefined, message: string) => {
      if (seen.has(message)) return
      seen.add(message)
      const where = path ?? ['spec']
      const { line, column } = item.doc.doc.locate(where)
      issues.push({ file: item.doc.doc.file, line, column, path: formatPath(where), code: 'E_SECRET', message, document: item.index })
    }
    for (const step of dag) {
      const projection = step.spec.projection
      const byAlias = new Map(projection.secrets.map((ref) => [ref.contextAlias, ref]))
      for (const ref of projection.secrets) {
        const key = secretKeyOf(ref, workspace)
        if ((await lookUp(key, ref, workspace)).keys === undefined) {
          const what = key.type === 'instance-secret' ? 'instance-secret' : 'secret'
          add(locateSecretRef(value, ref.id), `${what} "${ref.id}" not found in ${secretLocation(ref, workspace)}; apply a type: ${what} named "${ref.id}" first (or in the same apply)`)
        }
      }
      const templates = [...projection.envVars.map((e) => e.value), ...projection.files.map((f) => f.value), ...projection.arguments]
      for (const text of templates) {
        let refs: ReturnType<typeof projectionReferences>
        try {
          refs = projectionReferences(text, new Set(byAlias.keys()))
        } catch {
          continue // lint reports template problems
        }
        for (const r of refs) {
          if (r.kind !== 'secret') continue
          const ref = byAlias.get(r.alias)!
          const found = await lookUp(secretKeyOf(ref, workspace), ref, workspace)
          if (found.keys === undefined || found.keys.includes(r.key)) continue
          const listed = found.keys.length ? `; its keys: ${found.keys.join(', ')}` : '; it has no keys'
          add(locateText(value, `.secrets.${r.alias}.${r.key}`) ?? locateSecretRef(value, ref.id),
            `secret "${ref.id}" (alias "${r.alias}") in ${secretLocation(ref, workspace)} has no key "${r.key}"${listed}`)
        }
      }
    }
  }
  return issues
}
