// Who may decide an approval step. `approval.approvers` names subjects the way ctl writes them
// elsewhere: `roles:id:ROLE` (a role binding's tag) and `users:id:ID`. Without approvers, whoever
// may `run` the workflow decides (the default); with them, only a matching principal, and
// they still need `approve` on the workflow (the route asks decide() for that first).
import { ROLES, type Principal, type Role } from '../api/types.js'
import { decide, forbiddenMessage, type AuthzTarget, type Decision } from './policy.js'

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

/**
 * Whether `principal` is among `approvers` for a workflow in `workspace`: its id is named, or it holds a
 * named role in that workspace (or tenant-wide). An empty list matches nobody: the caller applies the default.
 */
export function isApprover(principal: Principal, approvers: readonly string[], workspace: string | null): boolean {
  for (const text of approvers) {
    const a = parseApprover(text)
    if ('error' in a) continue
    if (a.kind === 'user' && a.id === principal.id) return true
    if (a.kind === 'role' && principal.roles.some((b) => b.role === a.role && (b.workspace === null || b.workspace === workspace))) return true
  }
  return false
}

/**
 * Whether `principal` may decide an approval step of the workflow `target` that names `approvers`: `approve` on it
 * always; then, with approvers, being one of them; without, `run` on the workflow (whoever may run it decides).
 */
export function decideApproval(principal: Principal, approvers: readonly string[], target: AuthzTarget): Decision {
  const approve = decide(principal, 'approve', target)
  if (!approve.allowed) return approve
  if (approvers.length > 0) {
    if (isApprover(principal, approvers, target.workspace)) return { allowed: true, reason: `${approve.reason}; among the approvers ${approvers.join(', ')}` }
    return { allowed: false, reason: `user ${principal.id} is not among the approvers of this step (${approvers.join(', ')})` }
  }
  const run = decide(principal, 'run', target)
  return run.allowed ? { allowed: true, reason: `${run.reason} (no approvers: whoever may run the workflow decides)` } : { allowed: false, reason: `the step names no approvers, so deciding needs run: ${forbiddenMessage(principal, 'run', target)}` }
}
