// The store side of authorization: loads what decide() needs (a resource's owner, the
// grants a user holds on it) so decide() itself stays pure and in one place.
import type { IdentityStore, ResourceKey, ResourceSummary } from '../store/types.js'
import { PERMISSIONS, decide, requireAllowed, type AuthzTarget, type Decision, type Permission, type Principal, type Verb } from './policy.js'

const isPermission = (p: string): p is Permission => (PERMISSIONS as readonly string[]).includes(p)

/** Permissions `userId` holds on the resource with this id. */
export async function grantsOf(store: IdentityStore, resourceId: string, userId: string): Promise<Permission[]> {
  return (await store.listGrants({ resourceId, userId })).map((g) => g.permission).filter(isPermission)
}

/** The decide() target for `key`; `record` is the resource when it exists (then owner and grants are filled in). */
export async function targetFor(store: IdentityStore, userId: string, key: ResourceKey, record?: ResourceSummary): Promise<AuthzTarget> {
  const target: AuthzTarget = { workspace: key.workspace, type: key.type, name: key.name }
  if (record) {
    target.owner = record.owner
    target.grants = await grantsOf(store, record.id, userId)
  }
  return target
}

/**
 * decide() on the target without its grants: they are the last thing decide() consults, so an allowed answer
 * (a role binding, ownership) is the very answer the grants would have given, without reading them.
 */
function allowedWithoutGrants(principal: Principal, verb: Verb, key: ResourceKey, record?: ResourceSummary): Decision | undefined {
  const d = decide(principal, verb, { workspace: key.workspace, type: key.type, name: key.name, ...(record ? { owner: record.owner } : {}) })
  return d.allowed ? d : undefined
}

/** decide() on a stored resource (or one that does not exist yet). */
export async function decideOn(store: IdentityStore, principal: Principal, verb: Verb, key: ResourceKey, record?: ResourceSummary): Promise<Decision> {
  return allowedWithoutGrants(principal, verb, key, record) ?? decide(principal, verb, await targetFor(store, principal.id, key, record))
}

/** requireAllowed() on a stored resource; E_FORBIDDEN names what is missing. */
export async function requireOn(store: IdentityStore, principal: Principal, verb: Verb, key: ResourceKey, record?: ResourceSummary): Promise<Decision> {
  return allowedWithoutGrants(principal, verb, key, record) ?? requireAllowed(principal, verb, await targetFor(store, principal.id, key, record))
}

/**
 * The subset of `records` the principal may `get`, for listings: one query for its grants,
 * then decide() per record (pure, cheap). A tenant-wide binding sees everything at once.
 */
export async function visibleTo<T extends ResourceSummary>(store: IdentityStore, principal: Principal, records: readonly T[]): Promise<T[]> {
  if (principal.roles.some((b) => b.workspace === null)) return [...records]
  const held = new Map<string, Permission[]>()
  for (const g of await store.listGrants({ userId: principal.id })) {
    if (!isPermission(g.permission)) continue
    const list = held.get(g.resourceId)
    if (list) list.push(g.permission)
    else held.set(g.resourceId, [g.permission])
  }
  return records.filter((r) => decide(principal, 'get', {
    workspace: r.workspace, type: r.type, name: r.name, owner: r.owner, grants: held.get(r.id) ?? [],
  }).allowed)
}
