// `ctl resource grant|revoke` and `ctl auth can-i`: per-resource grants to users, and
// the control plane's own decision (with the binding or grant that made it) for a verb.
import { PERMISSIONS, VERBS, VERB_AUTHORIZED_AS, type GrantInfo, type Permission, type ResourceRef, type Verb } from '../../api/types.js'
import { CtlError } from '../../errors.js'
import { INSTANCE_LEVEL_TYPES } from '../../manifest/model.js'
import { unknownMessage } from '../../manifest/suggest.js'
import { resourceType } from '../../manifest/type-names.js'
import type { Io } from '../io.js'
import { parseOutputFormat, renderTable, toJson, toYaml, type OutputFormat } from '../output.js'
import { refOf, type Session } from './session.js'



function refText(ref: ResourceRef): string {
  return ref.workspace ? `${ref.type} ${ref.name} in workspace ${ref.workspace}` : `${ref.type} ${ref.name}`
}

export interface GrantOptions {
  type: string
  name: string
  /** `user:ID`; absent only with `list`. */
  to?: string
  permission?: string
  list: boolean
  output: OutputFormat
}

/** Flags of `resource grant` / `resource revoke` → options (both verbs take the same flags). */
export function completeGrant(flags: { type: string; name: string; to?: string; permission?: string; list: boolean; output?: string }): GrantOptions {
  return { type: flags.type, name: flags.name, to: flags.to, permission: flags.permission, list: flags.list, output: parseOutputFormat(flags.output) }
}

export function validateGrant(o: GrantOptions): void {
  o.type = resourceType(o.type)
  if (o.list) {
    if (o.to || o.permission) throw new CtlError('E_USAGE', '--list shows the grants; it takes no --to or --permission')
    return
  }
  if (!o.to || !o.permission) throw new CtlError('E_USAGE', 'say whom and what: --to user:ID --permission read|run|use|manage')
  if (!/^user:[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$/.test(o.to)) throw new CtlError('E_USAGE', `--to "${o.to}" is not user:ID`)
  if (!(PERMISSIONS as readonly string[]).includes(o.permission)) throw new CtlError('E_USAGE', `permission "${o.permission}" is not one of ${PERMISSIONS.join(', ')}`)
}

export const GRANT_HEADERS = ['TO', 'PERMISSION', 'GRANTED BY', 'CREATED']

function printGrants(grants: GrantInfo[], o: GrantOptions, io: Io, empty: string): void {
  if (o.output === 'json') return io.out(toJson(grants))
  if (o.output === 'yaml') return io.out(toYaml(grants))
  if (grants.length === 0) return io.out(empty)
  io.out(renderTable(GRANT_HEADERS, grants.map((g) => [g.to, g.permission, g.grantedBy, g.createdAt])))
}

export async function runGrant(session: Session, o: GrantOptions, action: 'grant' | 'revoke', io: Io): Promise<void> {
  const ref = refOf(session, o.type, o.name)
  if (o.list) return printGrants(await session.client.grants(ref), o, io, `no grants on ${refText(ref)}`)
  const req = { to: o.to!, permission: o.permission as Permission }
  const res = action === 'grant' ? await session.client.grant(ref, req) : await session.client.revoke(ref, req)
  if (o.output !== 'table') return printGrants(res.grants, o, io, '')
  if (action === 'grant') io.out(res.changed ? `granted ${req.permission} on ${refText(ref)} to ${req.to}` : `${req.to} already had ${req.permission} on ${refText(ref)}`)
  else io.out(res.changed ? `revoked ${req.permission} on ${refText(ref)} from ${req.to}` : `${req.to} had no ${req.permission} on ${refText(ref)}`)
}

export interface CanIOptions {
  verb: string
  type: string
  name?: string
  output: OutputFormat
  quiet: boolean
}

export function validateCanI(o: CanIOptions): void {
  const known: readonly string[] = [...VERBS, ...Object.keys(VERB_AUTHORIZED_AS)]
  if (!known.includes(o.verb)) throw new CtlError('E_USAGE', unknownMessage('verb', o.verb, known))
  o.type = resourceType(o.type)
}

/** The verb the control plane decides on: suspend and resume are decided as stop. */
function authorizedVerb(verb: string): Verb {
  return Object.hasOwn(VERB_AUTHORIZED_AS, verb) ? VERB_AUTHORIZED_AS[verb as keyof typeof VERB_AUTHORIZED_AS] : (verb as Verb)
}

/** Prints yes/no and what decided; returns the exit code (0 yes, 1 no), as kubectl does. */
export async function runCanI(session: Session, o: CanIOptions, io: Io): Promise<number> {
  const instance = (INSTANCE_LEVEL_TYPES as readonly string[]).includes(o.type)
  const answer = await session.client.canI({ verb: authorizedVerb(o.verb), type: o.type, name: o.name, workspace: instance ? undefined : session.workspace })
  if (o.output === 'json') io.out(toJson(answer))
  else if (o.output === 'yaml') io.out(toYaml(answer))
  else if (!o.quiet) io.out(`${answer.allowed ? 'yes' : 'no'} - ${answer.reason}`)
  return answer.allowed ? 0 : 1
}
