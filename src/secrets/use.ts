// "A workflow may project a secret only if its owner may `use` it": checked at apply (the
// server) and again as each step starts (the engine), both through decide(), the one place
// that grants or refuses anything.
import type { SecretRef } from '../manifest/model.js'
import type { ResourceKey, Store } from '../store/types.js'
import { decide, whatAllows, type AuthzTarget, type Principal } from '../server/authz.js'
import { grantsOf } from '../server/access.js'
import { principalForUser } from '../server/auth.js'

export interface SecretUseProblem {
  ref: SecretRef
  key: ResourceKey
  /** Names the secret, the owner and what would allow it. */
  message: string
}

/** Where a reference points, for a workflow in `workspace`. */
export function secretKeyOf(ref: SecretRef, workspace: string): ResourceKey {
  return ref.instance
    ? { workspace: null, type: 'instance-secret', name: ref.id }
    : { workspace: ref.workspace ?? workspace, type: 'secret', name: ref.id }
}

export function secretLabel(key: ResourceKey): string {
  return key.workspace === null ? `instance-secret "${key.name}"` : `secret "${key.name}" in workspace ${key.workspace}`
}

export interface SecretUseOptions {
  /** The workflow's owner, as a user id (loaded from the store) or a principal at hand. */
  owner: string | Principal
  /** Secrets not stored yet but applied in the same request: `type/workspace/name` → their owner-to-be. */
  pending?: ReadonlyMap<string, string>
}

export function pendingKey(key: ResourceKey): string {
  return `${key.type}/${key.workspace ?? ''}/${key.name}`
}

/**
 * The projected secrets (of a workflow in `workspace`) its owner may not `use`. A secret that
 * exists nowhere is no problem here: rendering the projection says it is missing.
 */
export async function checkSecretUse(store: Store, refs: readonly SecretRef[], workspace: string, opts: SecretUseOptions): Promise<SecretUseProblem[]> {
  if (refs.length === 0) return []
  const ownerId = typeof opts.owner === 'string' ? opts.owner : opts.owner.id
  let principal: Principal | undefined = typeof opts.owner === 'string' ? undefined : opts.owner
  let missingUser = false
  if (!principal) {
    principal = await principalForUser(store, ownerId)
    if (!principal) {
      // A deleted (or never created) owner holds nothing: only a grant could still allow it, and deleting a user drops those.
      missingUser = true
      principal = { id: ownerId, type: 'person', name: ownerId, roles: [] }
    }
  }
  const problems: SecretUseProblem[] = []
  const seen = new Set<string>()
  for (const ref of refs) {
    const key = secretKeyOf(ref, workspace)
    const id = pendingKey(key)
    if (seen.has(id)) continue
    seen.add(id)
    const target: AuthzTarget = { workspace: key.workspace, type: key.type, name: key.name }
    const record = await store.getResource(key)
    if (record) {
      target.owner = record.owner
      target.grants = await grantsOf(store, record.id, ownerId)
    } else {
      const owner = opts.pending?.get(id)
      if (owner === undefined) continue
      target.owner = owner
      target.grants = []
    }
    const decision = decide(principal, 'use', target)
    if (decision.allowed) continue
    const grantCmd = `ctl resource grant -t ${key.type} -n ${key.name}${key.workspace === null ? '' : ` -w ${key.workspace}`} --to user:${ownerId} --permission use`
    problems.push({
      ref,
      key,
      message: `the workflow's owner ${ownerId}${missingUser ? ' (no longer a user)' : ''} may not use ${secretLabel(key)} `
        + `(needs ${whatAllows('use', target)}; its owner or a tenant-admin can run: ${grantCmd})`,
    })
  }
  return problems
}
