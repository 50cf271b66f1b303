// Who a user is to decide(): its role bindings (unknown role names left out). Used by
// authentication (the caller) and by the `use` checks (a workflow's owner).
import type { IdentityStore, RoleBindingRecord, UserRecord } from '../store/types.js'
import { ROLES, type Principal, type Role, type RoleBinding } from '../api/types.js'

const isRole = (r: string): r is Role => (ROLES as readonly string[]).includes(r)

export function toPrincipal(user: Pick<UserRecord, 'id' | 'name' | 'type'>, bindings: readonly Pick<RoleBindingRecord, 'role' | 'workspace'>[]): Principal {
  const roles: RoleBinding[] = []
  for (const b of bindings) if (isRole(b.role)) roles.push({ role: b.role, workspace: b.workspace })
  return { id: user.id, type: user.type, name: user.name, roles }
}

/** The principal of a user. Undefined for a missing or deleted user. */
export async function principalForUser(store: IdentityStore, userId: string): Promise<Principal | undefined> {
  const user = await store.getUser(userId)
  if (!user) return undefined
  return toPrincipal(user, await store.listRoleBindings({ userId }))
}
