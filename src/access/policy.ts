// Authorization is ONE decision function: decide(). Routes, apply, the `use` checks of
// secrets and volumes (apply and engine) and `auth can-i` all ask it; nothing else grants or
// refuses. Default deny. This folder depends on store types, errors and wire types only.
//
//   role \ verb    get, runtime-get  log  apply new  update/delete/grant/secret-read  run/stop/retry  use       approve
//   tenant-admin   yes               yes  yes        yes                              yes             yes       yes
//   operator       yes               yes  no         no                               yes             no        yes
//   data-dev       yes               yes  yes        own only                         own only        own only  own only
//   viewer         yes               no   no         no                               no              no        no
//
// `approve` decides approval steps (src/engine/approvals.ts). Whoever may `run` a workflow may approve (the grant
// `run` includes it, every role with `run` has it); the grant `approve` gives it alone. A step's `approvers:` then
// narrows who may decide (src/access/approvers.ts); without them, deciding needs `run` (the issue's default).
//
// A tenant-wide binding (workspace null) covers every workspace and instance-level resources;
// a workspace binding covers that workspace only. Instance-level resources: `get` for anyone
// holding any binding, the rest tenant-admin (tenant-wide) only, plus grants. The owner of a
// resource has `manage` on it while they hold any binding covering its workspace. Grants
// (read, run, use, manage, approve) on one resource work without any binding.
import { CtlError } from '../errors.js'
import type { Permission, Principal, Role, RoleBinding, Verb } from '../api/types.js'

export type { Permission, Principal, Role, RoleBinding, Verb }
export { VERBS, PERMISSIONS, ROLES } from '../api/types.js'

/** Types `admin` targets name (these are not resource types). */
export type AdminTargetType = 'user' | 'apikey' | 'binding' | 'workspace' | 'audit' | 'metrics'

export interface AuthzTarget {
  /** The resource's workspace; null: instance level (or, for `admin`, tenant level). */
  workspace: string | null
  /** Resource type (`workflow`, `secret`, ...), or an AdminTargetType for `admin`. */
  type: string
  /** Absent: the workspace as a whole (listings). */
  name?: string
  /** The resource's owner when it exists; absent: it does not exist (so `apply` creates it). */
  owner?: string
  /** Permissions granted on this resource to the principal. */
  grants?: readonly Permission[]
}

export interface Decision {
  allowed: boolean
  /** What decided: `binding roles:id:operator in workspace public`, `grant run on workflow/public/x to user:bob`,
   *  `owner of workflow/public/x`, or `no binding or grant allows get on workflow x in workspace sales`. */
  reason: string
}

/** The apply verb splits in two: creating a new resource, or changing an existing one. */
type Action = Exclude<Verb, 'apply'> | 'create' | 'update'

const ALL_RESOURCE_ACTIONS: readonly Action[] = [
  'get', 'runtime-get', 'log', 'create', 'update', 'delete', 'run', 'stop', 'retry', 'grant', 'secret-read', 'use', 'approve',
]

/** What each role allows on any resource in its scope (ownership is the owner rule, below). */
const ROLE_ACTIONS: Record<Role, readonly Action[]> = {
  'tenant-admin': [...ALL_RESOURCE_ACTIONS, 'admin'],
  operator: ['get', 'runtime-get', 'log', 'run', 'stop', 'retry', 'approve'],
  'data-dev': ['get', 'runtime-get', 'log', 'create'],
  viewer: ['get', 'runtime-get'],
}

/** What each grant permission allows on its resource. */
const GRANT_ACTIONS: Record<Permission, readonly Action[]> = {
  read: ['get', 'runtime-get', 'log'],
  run: ['get', 'runtime-get', 'log', 'run', 'stop', 'retry', 'approve'],
  use: ['get', 'runtime-get', 'use'],
  approve: ['get', 'runtime-get', 'log', 'approve'],
  manage: ALL_RESOURCE_ACTIONS.filter((a) => a !== 'create'),
}

/** Strongest first, so the reason names the broadest binding that allows it. */
const ROLE_ORDER: readonly Role[] = ['tenant-admin', 'operator', 'data-dev', 'viewer']
const PERMISSION_ORDER: readonly Permission[] = ['manage', 'run', 'approve', 'use', 'read']

function actionOf(verb: Verb, target: AuthzTarget): Action {
  if (verb !== 'apply') return verb
  return target.owner === undefined ? 'create' : 'update'
}

export function isTenantWide(b: RoleBinding): boolean {
  return b.workspace === null
}

/** Whether a binding's scope covers the target's workspace (null = instance or tenant level). */
function covers(b: RoleBinding, workspace: string | null): boolean {
  return b.workspace === null || b.workspace === workspace
}

export function bindingLabel(b: RoleBinding): string {
  return `binding roles:id:${b.role} ${b.workspace === null ? 'tenant-wide' : `in workspace ${b.workspace}`}`
}

/** `workflow/public/x`, or `stack/spark` at instance level. */
export function resourceLabel(target: Pick<AuthzTarget, 'workspace' | 'type' | 'name'>): string {
  return target.workspace === null ? `${target.type}/${target.name ?? '*'}` : `${target.type}/${target.workspace}/${target.name ?? '*'}`
}

function describeTarget(target: AuthzTarget): string {
  const what = target.name ? `${target.type} ${target.name}` : ADMIN_TYPES.has(target.type) ? target.type : target.type ? `${target.type} resources` : 'resources'
  if (target.workspace === null) return `${what} ${ADMIN_TYPES.has(target.type) ? 'tenant-wide' : 'at instance level'}`
  return `${what} in workspace ${target.workspace}`
}

const ADMIN_TYPES: ReadonlySet<string> = new Set<AdminTargetType>(['user', 'apikey', 'binding', 'workspace', 'audit', 'metrics'])

/** Whether `principal` may do `verb` on `target`, and what decided it. Pure: callers load owner and grants. */
export function decide(principal: Principal, verb: Verb, target: AuthzTarget): Decision {
  const action = actionOf(verb, target)
  const instance = target.workspace === null

  if (action === 'admin') {
    // Users, keys of others, bindings, workspaces, audit: a tenant-admin whose scope covers it.
    for (const b of principal.roles) {
      if (b.role === 'tenant-admin' && covers(b, target.workspace)) return { allowed: true, reason: bindingLabel(b) }
    }
    return { allowed: false, reason: `no binding allows admin on ${describeTarget(target)}` }
  }

  for (const role of ROLE_ORDER) {
    for (const b of principal.roles) {
      if (b.role !== role || !covers(b, target.workspace)) continue
      if (instance) {
        // Instance level: reading is open to anyone with a binding (checked below); the rest is tenant-admin's.
        if (role === 'tenant-admin' && isTenantWide(b)) return { allowed: true, reason: bindingLabel(b) }
        continue
      }
      if (ROLE_ACTIONS[role].includes(action)) return { allowed: true, reason: bindingLabel(b) }
    }
  }
  if (instance && (action === 'get' || action === 'runtime-get')) {
    const any = principal.roles[0]
    if (any) return { allowed: true, reason: bindingLabel(any) }
  }

  if (target.name !== undefined && target.owner !== undefined) {
    if (target.owner === principal.id && action !== 'create') {
      // Ownership lasts while the owner may still work in the resource's workspace at all.
      const scope = principal.roles.find((b) => covers(b, target.workspace))
      if (scope) return { allowed: true, reason: `owner of ${resourceLabel(target)}` }
    }
    for (const p of PERMISSION_ORDER) {
      if (target.grants?.includes(p) && GRANT_ACTIONS[p].includes(action)) {
        return { allowed: true, reason: `grant ${p} on ${resourceLabel(target)} to user:${principal.id}` }
      }
    }
  }
  return { allowed: false, reason: `no binding or grant allows ${verb} on ${describeTarget(target)}` }
}

/** What would allow `verb` on `target`, for 403 messages: `role operator/data-dev/tenant-admin in sales, or grant read`. */
export function whatAllows(verb: Verb, target: AuthzTarget): string {
  const action = actionOf(verb, target)
  const ws = target.workspace
  if (action === 'admin') return ws === null ? 'role tenant-admin tenant-wide' : `role tenant-admin in ${ws} or tenant-wide`
  const parts: string[] = []
  if (ws === null) {
    parts.push(action === 'get' || action === 'runtime-get' ? 'any role binding' : 'role tenant-admin tenant-wide')
  } else {
    const roles = ROLE_DISPLAY_ORDER.filter((r) => ROLE_ACTIONS[r].includes(action))
    parts.push(`role ${roles.join('/')} in ${ws}`)
  }
  if (target.name !== undefined && action !== 'create') {
    if (!ROLE_ACTIONS['data-dev'].includes(action)) parts.push('ownership')
    const perm = GRANT_WEAKEST_FIRST.find((p) => GRANT_ACTIONS[p].includes(action))
    if (perm) parts.push(`grant ${perm}`)
  }
  return parts.length === 1 ? parts[0]! : `${parts.slice(0, -1).join(', ')}, or ${parts[parts.length - 1]}`
}

const ROLE_DISPLAY_ORDER: readonly Role[] = ['viewer', 'operator', 'data-dev', 'tenant-admin']
const GRANT_WEAKEST_FIRST: readonly Permission[] = ['read', 'use', 'approve', 'run', 'manage']

/** The 403 text: `forbidden: user bob may not log workflow x in workspace sales (needs role ... , or grant read)`. */
export function forbiddenMessage(principal: Principal, verb: Verb, target: AuthzTarget): string {
  return `forbidden: user ${principal.id} may not ${verb} ${describeTarget(target)} (needs ${whatAllows(verb, target)})`
}

/** decide(), throwing E_FORBIDDEN (403) naming what is missing when it says no. */
export function requireAllowed(principal: Principal, verb: Verb, target: AuthzTarget): Decision {
  const d = decide(principal, verb, target)
  if (d.allowed) return d
  throw new CtlError('E_FORBIDDEN', forbiddenMessage(principal, verb, target), { verb, reason: d.reason })
}

/** Whether any binding of the principal covers `workspace` (null: a tenant-wide one). */
export function hasBindingIn(principal: Principal, workspace: string | null): boolean {
  return principal.roles.some((b) => covers(b, workspace))
}
