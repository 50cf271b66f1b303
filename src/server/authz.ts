// Authorization is ONE decision function. Handlers ask it; roles and workspace
// grants are added here (next issue), never spread over the routes.
import { CtlError } from '../errors.js'
import type { Principal } from '../client/types.js'

export type { Principal }

export type Verb = 'read' | 'create' | 'update' | 'delete' | 'run' | 'logs'

export interface AuthzTarget {
  /** null: instance level; undefined: "any workspace" (listing everything). */
  workspace?: string | null
  type?: string
  name?: string
}

export const ADMIN_PRINCIPAL: Principal = Object.freeze({ id: 'admin', roles: ['admin'] }) as Principal

/** Whether `principal` may do `verb` on `target`. For now the admin may do everything and nobody else exists. */
export function authorize(principal: Principal, verb: Verb, target: AuthzTarget): boolean {
  void verb
  void target
  return principal.roles.includes('admin')
}

/** Throws E_FORBIDDEN unless authorize() allows it. */
export function requireAuthorized(principal: Principal, verb: Verb, target: AuthzTarget): void {
  if (authorize(principal, verb, target)) return
  const what = [target.type, target.name].filter(Boolean).join(' ') || 'resources'
  const where = target.workspace === null ? 'at instance level' : target.workspace ? `in workspace ${target.workspace}` : 'in any workspace'
  throw new CtlError('E_FORBIDDEN', `${principal.id} may not ${verb} ${what} ${where}`)
}
