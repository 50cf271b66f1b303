// The approver subjects of an approval step (`approval.approvers`), as manifests and the API write them:
// `roles:id:ROLE` (a role binding's tag) and `users:id:ID`. Lint checks the form (src/manifest), the
// policy matches principals against them (src/access/approvers.ts).
import { ROLES, type Role } from './types.js'

export type Approver = { kind: 'role'; role: Role } | { kind: 'user'; id: string }

const USER_ID = /^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$/

/** `roles:id:operator` / `users:id:alice`, or a message saying what is wrong. */
export function parseApprover(text: string): Approver | { error: string } {
  const role = /^roles:id:(.*)$/.exec(text)
  if (role) {
    const name = role[1]!
    if ((ROLES as readonly string[]).includes(name)) return { kind: 'role', role: name as Role }
    return { error: `unknown role "${name}" in approver "${text}"; roles: ${ROLES.join(', ')}` }
  }
  const user = /^users:id:(.*)$/.exec(text)
  if (user) {
    const id = user[1]!
    if (USER_ID.test(id) && id.length <= 64) return { kind: 'user', id }
    return { error: `"${id}" in approver "${text}" is no user id (lower-case letters, digits, - . _)` }
  }
  return { error: `approver "${text}" must be roles:id:ROLE or users:id:ID` }
}
