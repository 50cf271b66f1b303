// Users, API keys, role bindings, workspaces, grants, can-i and the audit log, through the
// real HTTP API with real users and keys.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { CtlError } from '../../src/errors.js'
import type { Role } from '../../src/api/types.js'
import { doc, startTestServer, waitFor, workflow, type TestServer, rejection } from './helpers.js'

let t: TestServer

beforeAll(async () => {
  t = await startTestServer()
})
afterAll(async () => {
  await t?.stop()
})


async function userWith(id: string, bindings: { role: Role; workspace?: string }[] = []): Promise<CtlClient> {
  await t.client.createUser({ id, name: `User ${id}`, type: 'person' })
  for (const b of bindings) await t.client.addTag(id, { tag: `roles:id:${b.role}`, ...(b.workspace ? { workspace: b.workspace } : {}) })
  const { token } = await t.client.createApiKey(id)
  return new CtlClient({ baseUrl: t.plane.url, apiKey: token })
}

const secret = (name: string, value: string) => ({ name, version: 'v1', type: 'secret', secret: { type: 'key-value', acl: 'r', data: { k: value } } })
const volume = (name: string) => ({ name, version: 'v1', type: 'volume', volume: { size: '1Gi', accessMode: 'ReadWriteMany', type: 'persistent' } })

describe('first start', () => {
  it('creates the tenant admin, bound tenant-wide, and the public and system workspaces', async () => {
    expect(await t.client.whoami()).toEqual({ id: 'admin', type: 'person', name: 'Tenant admin', roles: [{ role: 'tenant-admin', workspace: null }] })
    const names = (await t.client.workspaces()).map((w) => w.name)
    expect(names).toEqual(expect.arrayContaining(['public', 'system']))
    expect((await t.client.workspace('system')).layer).toBe('system')
    expect((await t.client.apiKeys('admin')).map((k) => k.name)).toEqual(['admin'])
  })
})

describe('authentication', () => {
  it('answers 401 for a missing, unknown, revoked or expired key, and for a deleted user, saying which', async () => {
    const missing = await rejection(new CtlClient({ baseUrl: t.plane.url }).whoami())
    expect([missing.code, missing.message]).toEqual(['E_UNAUTHENTICATED', expect.stringContaining('missing API key')])
    const unknown = await rejection(new CtlClient({ baseUrl: t.plane.url, apiKey: 'ctl_nope' }).whoami())
    expect([unknown.code, unknown.message]).toEqual(['E_UNAUTHENTICATED', 'unknown API key'])
    expect(unknown.exitCode).toBe(4)

    await t.client.createUser({ id: 'keys', name: 'Key holder', type: 'application' })
    const revocable = await t.client.createApiKey('keys', { name: 'ci' })
    const client = new CtlClient({ baseUrl: t.plane.url, apiKey: revocable.token })
    expect((await client.whoami()).id).toBe('keys')
    const listed = await t.client.apiKeys('keys')
    expect(listed).toHaveLength(1)
    expect(JSON.stringify(listed)).not.toContain(revocable.token)
    expect(Object.keys(listed[0]!).sort()).toEqual(['createdAt', 'id', 'lastUsedAt', 'name', 'userId'])
    const revoked = await t.client.deleteApiKey('keys', revocable.id)
    expect(revoked.revokedAt).toEqual(expect.any(String))
    const afterRevoke = await rejection(client.whoami())
    expect([afterRevoke.code, afterRevoke.message]).toEqual(['E_UNAUTHENTICATED', expect.stringMatching(/API key ci \(key-.*\) was revoked/)])

    // A real short expiry: the key works, then stops working on its own.
    const short = await t.client.createApiKey('keys', { name: 'short', expiresIn: '1s' })
    expect(Date.parse(short.expiresAt!)).toBeGreaterThan(Date.now() - 1000)
    const shortClient = new CtlClient({ baseUrl: t.plane.url, apiKey: short.token })
    const expired = await waitFor('the 1s key to expire', () => rejection(shortClient.whoami()).catch(() => undefined), (e) => e !== undefined, 10_000)
    expect([expired!.code, expired!.message]).toEqual(['E_UNAUTHENTICATED', expect.stringContaining('expired at')])

    const kept = await t.client.createApiKey('keys', { name: 'kept', expiresIn: '30d' })
    const keptClient = new CtlClient({ baseUrl: t.plane.url, apiKey: kept.token })
    expect((await keptClient.whoami()).id).toBe('keys')
    await t.client.deleteUser('keys')
    const gone = await rejection(keptClient.whoami())
    expect([gone.code, gone.message]).toEqual(['E_UNAUTHENTICATED', expect.stringMatching(/revoked|deleted/)])
  })

  it('refuses bad durations and bad user ids with a usage error', async () => {
    await t.client.createUser({ id: 'dur', name: 'Durations', type: 'person' })
    expect((await rejection(t.client.createApiKey('dur', { expiresIn: 'soon' }))).code).toBe('E_USAGE')
    expect((await rejection(t.client.createUser({ id: 'Bad Id', name: 'x', type: 'person' }))).code).toBe('E_USAGE')
    expect((await rejection(t.client.createUser({ id: 'dur', name: 'again', type: 'person' }))).code).toBe('E_CONFLICT')
  })
})

describe('users and role bindings', () => {
  it('lets a user see and manage only themselves unless tenant-admin', async () => {
    const bob = await userWith('bob', [{ role: 'data-dev', workspace: 'public' }])
    const me = await bob.whoami()
    expect(me).toEqual({ id: 'bob', type: 'person', name: 'User bob', roles: [{ role: 'data-dev', workspace: 'public' }] })
    expect((await bob.user('bob')).id).toBe('bob')
    expect((await bob.tags('bob')).map((x) => [x.tag, x.workspace])).toEqual([['roles:id:data-dev', 'public']])
    const second = await bob.createApiKey('bob', { name: 'laptop' })
    expect((await new CtlClient({ baseUrl: t.plane.url, apiKey: second.token }).whoami()).id).toBe('bob')

    for (const call of [bob.users(), bob.user('admin'), bob.apiKeys('admin'), bob.createUser({ id: 'eve', name: 'Eve', type: 'person' }),
      bob.addTag('bob', { tag: 'roles:id:tenant-admin' }), bob.audit(), bob.createWorkspace({ name: 'mine' })]) {
      const err = await rejection(call)
      expect(err.code).toBe('E_FORBIDDEN')
      expect(err.message).toMatch(/^forbidden: user bob may not admin .*\(needs role tenant-admin/)
    }
  })

  it('binds and unbinds roles as tags, per workspace or tenant-wide', async () => {
    await t.client.createUser({ id: 'tagged', name: 'Tagged', type: 'person' })
    expect((await rejection(t.client.addTag('tagged', { tag: 'roles:id:wizard' }))).message).toContain('roles:id:data-dev')
    expect((await rejection(t.client.addTag('tagged', { tag: 'roles:id:viewer', workspace: 'nowhere' }))).code).toBe('E_NOT_FOUND')
    expect((await t.client.addTag('tagged', { tag: 'roles:id:viewer', workspace: 'public' })).changed).toBe(true)
    expect((await t.client.addTag('tagged', { tag: 'roles:id:viewer', workspace: 'public' })).changed).toBe(false)
    const after = await t.client.addTag('tagged', { tag: 'roles:id:operator' })
    expect(after.tags.map((x) => `${x.tag}@${x.workspace ?? '*'}`)).toEqual(['roles:id:operator@*', 'roles:id:viewer@public'])
    const removed = await t.client.deleteTag('tagged', { tag: 'roles:id:operator' })
    expect(removed.tags.map((x) => x.tag)).toEqual(['roles:id:viewer'])
    // Every user with their tags in one request (what `user get -a` shows), the same as asking user by user.
    const all = await t.client.usersWithTags()
    for (const u of all) expect(u.tags, u.id).toEqual(await t.client.tags(u.id))
    expect(all.find((u) => u.id === 'tagged')?.tags.map((x) => x.tag)).toEqual(['roles:id:viewer'])
  })

  it('lets a workspace tenant-admin bind roles in that workspace only', async () => {
    await t.client.createWorkspace({ name: 'delegated' })
    const lead = await userWith('lead', [{ role: 'tenant-admin', workspace: 'delegated' }])
    await t.client.createUser({ id: 'member', name: 'Member', type: 'person' })
    expect((await lead.addTag('member', { tag: 'roles:id:data-dev', workspace: 'delegated' })).changed).toBe(true)
    expect((await rejection(lead.addTag('member', { tag: 'roles:id:data-dev', workspace: 'public' }))).code).toBe('E_FORBIDDEN')
    expect((await rejection(lead.addTag('member', { tag: 'roles:id:data-dev' }))).code).toBe('E_FORBIDDEN')
  })
})

describe('authorization answers', () => {
  it('names the missing permission in 403 and the deciding binding or grant in can-i', async () => {
    await t.client.apply('public', [doc(workflow('shared-wf', { main: 'echo hi' }))])
    const viewer = await userWith('vera', [{ role: 'viewer', workspace: 'public' }])
    const err = await rejection(viewer.logPage((await t.client.runs({ workspace: 'public', type: 'workflow', name: 'shared-wf' }))[0]!.id))
    expect(err.code).toBe('E_FORBIDDEN')
    expect(err.message).toBe('forbidden: user vera may not log workflow shared-wf in workspace public (needs role operator/data-dev/tenant-admin in public, or grant read)')
    const del = await rejection(viewer.delete({ workspace: 'public', type: 'workflow', name: 'shared-wf' }))
    expect(del.message).toBe('forbidden: user vera may not delete workflow shared-wf in workspace public (needs role tenant-admin in public, ownership, or grant manage)')

    expect(await viewer.canI({ verb: 'get', type: 'workflow', name: 'shared-wf', workspace: 'public' }))
      .toEqual({ allowed: true, reason: 'binding roles:id:viewer in workspace public' })
    expect(await viewer.canI({ verb: 'log', type: 'workflow', name: 'shared-wf' }))
      .toEqual({ allowed: false, reason: 'no binding or grant allows log on workflow shared-wf in workspace public' })
    await t.client.grant({ workspace: 'public', type: 'workflow', name: 'shared-wf' }, { to: 'user:vera', permission: 'read' })
    expect(await viewer.canI({ verb: 'log', type: 'workflow', name: 'shared-wf' }))
      .toEqual({ allowed: true, reason: 'grant read on workflow/public/shared-wf to user:vera' })
    expect(await t.client.canI({ verb: 'admin', type: 'user' })).toEqual({ allowed: true, reason: 'binding roles:id:tenant-admin tenant-wide' })
    expect((await viewer.canI({ verb: 'get', type: 'stack' })).allowed).toBe(true)
    expect((await viewer.canI({ verb: 'apply', type: 'stack', name: 'mine' })).allowed).toBe(false)
  })

  it('keeps ownership only while the owner holds a binding in the workspace', async () => {
    const dev = await userWith('dora', [{ role: 'data-dev', workspace: 'public' }])
    await dev.apply('public', [doc(volume('dora-vol'))])
    const ref = { workspace: 'public', type: 'volume', name: 'dora-vol' }
    expect((await dev.canI({ verb: 'delete', ...ref })).reason).toBe('owner of volume/public/dora-vol')
    await t.client.deleteTag('dora', { tag: 'roles:id:data-dev', workspace: 'public' })
    expect((await rejection(dev.delete(ref))).code).toBe('E_FORBIDDEN')
    await t.client.addTag('dora', { tag: 'roles:id:viewer', workspace: 'public' })
    expect((await dev.delete(ref)).deleted.name).toBe('dora-vol')
  })

  it('drops grants with their resource, and a data-dev cannot apply on behalf of someone else', async () => {
    const dev = await userWith('dino', [{ role: 'data-dev', workspace: 'public' }])
    const ref = { workspace: 'public', type: 'volume', name: 'granted-vol' }
    await t.client.apply('public', [doc(volume('granted-vol'))])
    await t.client.grant(ref, { to: 'user:dino', permission: 'manage' })
    expect((await t.client.grants(ref)).map((g) => [g.to, g.permission, g.grantedBy])).toEqual([['user:dino', 'manage', 'admin']])
    await dev.delete(ref)
    await t.client.apply('public', [doc(volume('granted-vol'))])
    expect(await t.client.grants(ref)).toEqual([])
    expect((await rejection(dev.delete(ref))).code).toBe('E_FORBIDDEN')
    const spoof = await rejection(dev.apply('public', [doc({ ...volume('spoofed'), owner: 'admin' })]))
    expect([spoof.code, spoof.message]).toEqual(['E_FORBIDDEN', expect.stringContaining('on behalf of owner admin')])
  })

  it('lists what a principal may see: its workspaces, or only what grants allow', async () => {
    await t.client.createWorkspace({ name: 'listing' })
    await t.client.apply('listing', [doc(volume('l-one')), doc(volume('l-two'))])
    const outsider = await userWith('otto')
    const refused = await rejection(outsider.list({ workspace: 'listing' }))
    expect(refused.code).toBe('E_FORBIDDEN')
    await t.client.grant({ workspace: 'listing', type: 'volume', name: 'l-two' }, { to: 'user:otto', permission: 'read' })
    expect((await outsider.list({ workspace: 'listing' })).map((r) => r.name)).toEqual(['l-two'])
    expect((await outsider.list({ all: true })).map((r) => r.name)).toEqual(['l-two'])
    expect(await outsider.workspaces()).toEqual([])
    const member = await userWith('mona', [{ role: 'viewer', workspace: 'listing' }])
    expect((await member.list({ workspace: 'listing' })).map((r) => r.name)).toEqual(['l-one', 'l-two'])
    expect((await member.workspaces()).map((w) => w.name)).toEqual(['listing'])
  })
})

describe('workspaces', () => {
  it('refuses to apply into an unknown workspace, naming it', async () => {
    const err = await rejection(t.client.apply('no-such-ws', [doc(volume('v'))]))
    expect([err.code, err.message]).toEqual(['E_NOT_FOUND', expect.stringContaining('workspace no-such-ws not found')])
  })

  it('refuses to delete a workspace holding resources unless forced, and never the built-in ones', async () => {
    const created = await t.client.createWorkspace({ name: 'sales', description: 'Sales team', tags: ['team', 'team'] })
    expect(created).toMatchObject({ name: 'sales', description: 'Sales team', layer: 'user', tags: ['team'] })
    expect((await rejection(t.client.createWorkspace({ name: 'sales' }))).code).toBe('E_CONFLICT')
    await t.client.apply('sales', [doc(volume('data')), doc(secret('token', 's3cr3t'))])
    const refused = await rejection(t.client.deleteWorkspace('sales'))
    expect([refused.code, refused.message]).toEqual(['E_CONFLICT', expect.stringContaining('holds 2 resource(s)')])
    expect(await t.client.deleteWorkspace('sales', { force: true })).toEqual({ deleted: { name: 'sales', resources: 2 } })
    expect((await rejection(t.client.workspace('sales'))).code).toBe('E_NOT_FOUND')
    expect((await rejection(t.client.get({ workspace: 'sales', type: 'volume', name: 'data' }))).code).toBe('E_NOT_FOUND')
    for (const builtin of ['public', 'system']) expect((await rejection(t.client.deleteWorkspace(builtin))).code).toBe('E_CONFLICT')
    // A workspace of the same name starts empty.
    await t.client.createWorkspace({ name: 'sales' })
    expect(await t.client.list({ workspace: 'sales' })).toEqual([])
  })
})

describe('audit', () => {
  it('records every mutating call and secret read with who, what, when and the result, refused ones and dry runs included', async () => {
    const since = new Date().toISOString()
    const viewer = await userWith('audrey', [{ role: 'viewer', workspace: 'public' }])
    await t.client.apply('public', [doc(secret('audited', 'v1'))])
    await rejection(viewer.apply('public', [doc(volume('not-allowed'))]))
    await rejection(new CtlClient({ baseUrl: t.plane.url, apiKey: 'ctl_bad' }).delete({ workspace: 'public', type: 'volume', name: 'x' }))
    await t.client.get({ workspace: 'public', type: 'secret', name: 'audited' }, { unsanitized: true })
    await rejection(viewer.get({ workspace: 'public', type: 'secret', name: 'audited' }, { unsanitized: true }))
    await t.client.apply('public', [doc(volume('dry'))], { dryRun: true })
    await t.client.canI({ verb: 'get', type: 'workflow' })

    const entries = await t.client.audit({ since })
    const summary = entries.map((e) => `${e.actor} ${e.action} ${e.target} ${e.result}`)
    expect(summary).toEqual([
      'admin user-create user:audrey ok',
      'admin tag-add user:audrey ok',
      expect.stringMatching(/^admin apikey-create user:audrey\/apikey:key-\S+ ok$/),
      'admin apply workspace:public ok',
      'audrey apply workspace:public denied',
      'anonymous delete volume/public/x unauthenticated',
      'admin secret-read secret/public/audited ok',
      'audrey secret-read secret/public/audited denied',
      'admin apply workspace:public ok',
    ])
    for (const e of entries) expect(Date.parse(e.time)).toBeGreaterThanOrEqual(Date.parse(since))
    expect(entries[3]!.detail).toEqual({ results: ['secret/public/audited created'] })
    expect(entries[4]!.detail).toMatchObject({ status: 403, code: 'E_FORBIDDEN', message: expect.stringContaining('forbidden: user audrey may not apply') })
    expect(entries[5]!.detail).toMatchObject({ status: 401, code: 'E_UNAUTHENTICATED', message: 'unknown API key' })
    // A dry run is audited too, marked as one (it stored nothing).
    expect(entries[8]!.detail).toEqual({ dryRun: true, results: ['volume/public/dry created'] })
    expect(JSON.stringify(entries)).not.toContain('ctl_')

    expect((await t.client.audit({ since: '1h', limit: 2 })).map((e) => e.action)).toEqual(['secret-read', 'apply'])
    expect((await rejection(t.client.audit({ since: 'yesterday-ish' }))).code).toBe('E_USAGE')
  })
})
