// The `use` rule for what a workflow references (secrets it projects, volumes it mounts):
// every one must be usable by the workflow's owner (at apply and again as each step starts)
// AND, at apply, by the caller applying it, so a `manage` grantee cannot borrow the owner's
// rights. Decided by decide(), the one place that grants or refuses anything.
import type { IdentityStore, ResourceKey, ResourceStore } from '../store/types.js'
import type { Principal } from '../api/types.js'
import { decide, whatAllows, type AuthzTarget } from './policy.js'
import { grantsOf } from './targets.js'
import { principalForUser } from './principals.js'

export interface UseProblem {
  key: ResourceKey
  /** Whose right is missing: the workflow's owner, or the caller applying it. */
  who: 'owner' | 'caller'
  userId: string
  /** Names the resource, the user and what would allow it. */
  message: string
}

export interface UseCheckOptions {
  /** The workflow's owner, as a user id (loaded from the store) or a principal at hand. */
  owner: string | Principal
  /** The caller applying the manifest; checked too when it is not the owner. */
  caller?: Principal
  /** Resources not stored yet but applied in the same request: pendingKey() → their owner-to-be. */
  pending?: ReadonlyMap<string, string>
}

/** `secret "a" in workspace w`, `volume "v" in workspace w`, `instance-secret "x"`. */
export function useLabel(key: ResourceKey): string {
  return key.workspace === null ? `${key.type} "${key.name}"` : `${key.type} "${key.name}" in workspace ${key.workspace}`
}

export function pendingKey(key: ResourceKey): string {
  return `${key.type}/${key.workspace ?? ''}/${key.name}`
}

interface Subject {
  principal: Principal
  who: 'owner' | 'caller'
  /** The owner was not found as a user (deleted): only a grant could allow, and deleting a user drops those. */
  missing: boolean
}

async function ownerSubject(store: IdentityStore, owner: string | Principal): Promise<Subject> {
  if (typeof owner !== 'string') return { principal: owner, who: 'owner', missing: false }
  const principal = await principalForUser(store, owner)
  if (principal) return { principal, who: 'owner', missing: false }
  return { principal: { id: owner, type: 'person', name: owner, roles: [] }, who: 'owner', missing: true }
}

/**
 * The references (`keys`, already resolved to where they point) that the owner, or the caller,
 * may not `use`. A resource that exists nowhere is no problem here: rendering the projection or
 * mounting the volume says it is missing.
 */
export async function checkUse(store: ResourceStore & IdentityStore, keys: readonly ResourceKey[], opts: UseCheckOptions): Promise<UseProblem[]> {
  if (keys.length === 0) return []
  const subjects = [await ownerSubject(store, opts.owner)]
  if (opts.caller && opts.caller.id !== subjects[0]!.principal.id) subjects.push({ principal: opts.caller, who: 'caller', missing: false })
  const problems: UseProblem[] = []
  const seen = new Set<string>()
  for (const key of keys) {
    const id = pendingKey(key)
    if (seen.has(id)) continue
    seen.add(id)
    const record = await store.getResource(key)
    const owner = record?.owner ?? opts.pending?.get(id)
    if (owner === undefined) continue
    for (const s of subjects) {
      const target: AuthzTarget = {
        workspace: key.workspace, type: key.type, name: key.name, owner,
        grants: record ? await grantsOf(store, record.id, s.principal.id) : [],
      }
      if (decide(s.principal, 'use', target).allowed) continue
      const userId = s.principal.id
      const grantCmd = `ctl resource grant -t ${key.type} -n ${key.name}${key.workspace === null ? '' : ` -w ${key.workspace}`} --to user:${userId} --permission use`
      const whom = s.who === 'owner' ? `the workflow's owner ${userId}${s.missing ? ' (no longer a user)' : ''}` : `the caller ${userId} (applying it)`
      problems.push({
        key, who: s.who, userId,
        message: `${whom} may not use ${useLabel(key)} (needs ${whatAllows('use', target)}; its owner or a tenant-admin can run: ${grantCmd})`,
      })
    }
  }
  return problems
}
