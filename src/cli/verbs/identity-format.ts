// How users, roles and principals read in ctl's output: roles as the DataOS tags that
// bind them (`roles:id:data-dev`), scoped `in WORKSPACE` or `tenant-wide`.
import type { Principal, RoleBinding } from '../../api/types.js'

export const ROLE_TAG_PREFIX = 'roles:id:'

export function bindingText(b: RoleBinding): string {
  return `${ROLE_TAG_PREFIX}${b.role} ${b.workspace === null ? 'tenant-wide' : `in ${b.workspace}`}`
}

export function describePrincipal(p: Principal): string {
  const roles = p.roles.length === 0 ? 'no roles' : p.roles.map(bindingText).join(', ')
  return `${p.id} (${p.type}${p.name && p.name !== p.id ? `, ${p.name}` : ''}; ${roles})`
}
