// `ctl user create|get|delete` and `ctl user tag add|delete`: users (persons and
// applications) and their roles, bound DataOS-style as tags `roles:id:<role>`,
// tenant-wide or in one workspace (-w).
import { ROLES, type Role, type UserInfo, type UserTag, type UserType } from '../../api/types.js'
import { CtlError } from '../../errors.js'
import type { Io } from '../io.js'
import { printReport, renderTable, toJson, toYaml, type OutputFormat } from '../output.js'
import { ROLE_TAG_PREFIX } from './identity-format.js'
import type { Session } from './session.js'

const USER_ID = /^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$/

export interface CreateUserOptions {
  id: string
  name: string
  type: UserType
  email?: string
  output: OutputFormat
}

export function validateCreateUser(o: CreateUserOptions): void {
  if (!USER_ID.test(o.id) || o.id.length > 64) {
    throw new CtlError('E_USAGE', `user id "${o.id}" is not valid: lower-case letters, digits, - _ . (at most 64, starting and ending with a letter or digit)`)
  }
  if (o.name.trim() === '') throw new CtlError('E_USAGE', 'the user name (-n) is empty')
  if (o.type !== 'person' && o.type !== 'application') throw new CtlError('E_USAGE', `user type "${o.type}" is not person or application`)
  if (o.email !== undefined && !/^[^\s@]+@[^\s@]+$/.test(o.email)) throw new CtlError('E_USAGE', `"${o.email}" is not an e-mail address`)
}

export async function runCreateUser(session: Session, o: CreateUserOptions, io: Io): Promise<void> {
  const user = await session.client.createUser({ id: o.id, name: o.name, type: o.type, email: o.email })
  if (o.output === 'json') return io.out(toJson(user))
  if (o.output === 'yaml') return io.out(toYaml(user))
  io.out(`user "${user.id}" created (${user.type}); it has no roles yet: ctl user tag add -i ${user.id} -t roles:id:ROLE [-w WORKSPACE]`)
}

export interface GetUsersOptions {
  all: boolean
  id?: string
  output: OutputFormat
}

export function validateGetUsers(o: GetUsersOptions): void {
  if (o.all && o.id) throw new CtlError('E_USAGE', 'use either -a (every user) or -i ID (one user), not both')
}

export const USER_HEADERS = ['ID', 'NAME', 'TYPE', 'EMAIL', 'TAGS', 'CREATED']

export async function runGetUsers(session: Session, o: GetUsersOptions, io: Io): Promise<void> {
  let withTags: (UserInfo & { tags: UserTag[] })[]
  if (o.all) withTags = await session.client.usersWithTags()
  else {
    const user = await session.client.user(o.id ?? (await session.client.whoami()).id)
    withTags = [{ ...user, tags: await session.client.tags(user.id) }]
  }
  if (o.output === 'json') return io.out(toJson(withTags))
  if (o.output === 'yaml') return io.out(toYaml(withTags))
  io.out(renderTable(USER_HEADERS, withTags.map((u) => [u.id, u.name, u.type, u.email ?? '', u.tags.map(tagText).join(', '), u.createdAt])))
}

function tagText(t: UserTag): string {
  return t.workspace === null ? t.tag : `${t.tag}@${t.workspace}`
}

export async function runDeleteUser(session: Session, id: string, io: Io, output: OutputFormat = 'table'): Promise<void> {
  await session.client.deleteUser(id)
  printReport(io, output, { deleted: { id } }, () => io.out(`user "${id}" deleted; its API keys no longer work`))
}

export interface TagOptions {
  user: string
  tags: string[]
  workspace?: string
}

/** `roles:id:data-dev` → `data-dev`; anything else is refused here, before any request. */
export function roleOfTag(tag: string): Role {
  const role = tag.startsWith(ROLE_TAG_PREFIX) ? tag.slice(ROLE_TAG_PREFIX.length) : undefined
  if (!role || !(ROLES as readonly string[]).includes(role)) {
    throw new CtlError('E_USAGE', `tag "${tag}" is not a role tag; use one of ${ROLES.map((r) => ROLE_TAG_PREFIX + r).join(', ')}`)
  }
  return role as Role
}

export function validateTags(o: TagOptions): void {
  if (o.tags.length === 0) throw new CtlError('E_USAGE', 'give at least one tag with -t, for example -t roles:id:data-dev')
  for (const t of o.tags) roleOfTag(t)
}

export async function runTagChange(session: Session, o: TagOptions, action: 'add' | 'delete', io: Io, output: OutputFormat = 'table'): Promise<void> {
  const scope = o.workspace ? `in workspace ${o.workspace}` : 'tenant-wide'
  const tags: { tag: string; workspace: string | null; changed: boolean }[] = []
  for (const tag of o.tags) {
    const req = { tag, workspace: o.workspace }
    const res = action === 'add' ? await session.client.addTag(o.user, req) : await session.client.deleteTag(o.user, req)
    tags.push({ tag, workspace: o.workspace ?? null, changed: res.changed })
  }
  // One document for all -t given: the text says one line per tag.
  printReport(io, output, { user: o.user, action, tags }, () => {
    for (const { tag, changed } of tags) {
      if (action === 'add') io.out(changed ? `user "${o.user}": added ${tag} ${scope}` : `user "${o.user}" already had ${tag} ${scope}`)
      else io.out(changed ? `user "${o.user}": removed ${tag} ${scope}` : `user "${o.user}" did not have ${tag} ${scope}`)
    }
  })
}
