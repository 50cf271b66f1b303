// Who may decide an approval step. `approval.approvers` names subjects the way ctl writes them
// elsewhere: `roles:id:ROLE` (a role binding's tag) and `users:id:ID`. Without approvers, whoever
// may `run` the workflow decides (the default); with them, only a matching principal, and
// they still need `approve` on the workflow (the route asks decide() for that first).
import type { Principal } from '../api/types.js'
import { parseApprover } from '../api/approvers.js'
import { decide, forbiddenMessage, type AuthzTarget, type Decision } from './policy.js'

export { parseApprover, type Approver } from '../api/approvers.js'

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
