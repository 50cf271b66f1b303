// IdentityStore: users, API keys, role bindings, workspaces, grants, audit.
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { StoreHarness } from './harness.js'

const sha = (s: string): string => createHash('sha256').update(s).digest('hex')

export function identityContract(h: StoreHarness): void {
  describe('identity', () => {
    it('seeds the public and system workspaces', async () => {
      const store = await h.store()
      expect((await store.listWorkspaces()).map((w) => [w.name, w.layer])).toEqual([['public', 'user'], ['system', 'system']])
      expect(await store.listUsers()).toEqual([])
    })

    it('creates users, refuses duplicates, and on delete revokes keys and drops bindings and grants; a new create revives', async () => {
      const store = await h.store()
      const u = await store.createUser({ id: 'jane', name: 'Jane', type: 'person', email: 'jane@example.com' })
      expect(u).toMatchObject({ id: 'jane', name: 'Jane', type: 'person', email: 'jane@example.com' })
      await expect(store.createUser({ id: 'jane', name: 'Again', type: 'person' })).rejects.toMatchObject({ code: 'E_CONFLICT' })
      const key = await store.createApiKey({ userId: 'jane', name: 'k', hash: sha('t1') })
      expect(await store.addRoleBinding({ userId: 'jane', role: 'viewer', workspace: 'public', createdBy: 'admin' })).toBe(true)
      expect(await store.addRoleBinding({ userId: 'jane', role: 'viewer', workspace: 'public', createdBy: 'admin' })).toBe(false)
      await store.addGrant({ resourceId: 'res-1', userId: 'jane', permission: 'read', grantedBy: 'admin' })

      await store.deleteUser('jane')
      expect(await store.getUser('jane')).toBeUndefined()
      expect((await store.getUser('jane', { includeDeleted: true }))?.deletedAt).toEqual(expect.any(String))
      const found = await store.findApiKeyByHash(sha('t1'))
      expect(found?.key.id).toBe(key.id)
      expect(found?.key.revokedAt).toEqual(expect.any(String))
      expect(await store.listRoleBindings({ userId: 'jane' })).toEqual([])
      expect(await store.listGrants({ userId: 'jane' })).toEqual([])
      await expect(store.deleteUser('jane')).rejects.toMatchObject({ code: 'E_NOT_FOUND' })
      await expect(store.createApiKey({ userId: 'jane', name: 'x', hash: sha('t2') })).rejects.toMatchObject({ code: 'E_NOT_FOUND' })

      const revived = await store.createUser({ id: 'jane', name: 'Jane 2', type: 'application' })
      expect(revived).toEqual({ id: 'jane', name: 'Jane 2', type: 'application', createdAt: expect.any(String) })
      expect((await store.listUsers({ includeDeleted: true })).map((x) => x.id)).toEqual(['jane'])
    })

    it('finds keys by hash only, revokes once, and records last use', async () => {
      const store = await h.store()
      await store.createUser({ id: 'app', name: 'App', type: 'application' })
      const k = await store.createApiKey({ userId: 'app', name: 'ci', hash: sha('token'), expiresAt: '2999-01-01T00:00:00.000Z' })
      expect(await store.findApiKeyByHash(sha('other'))).toBeUndefined()
      expect((await store.findApiKeyByHash(sha('token')))?.user.id).toBe('app')
      await store.touchApiKey(k.id, '2024-05-01T00:00:00.000Z')
      expect((await store.listApiKeys('app'))[0]).toMatchObject({ id: k.id, expiresAt: '2999-01-01T00:00:00.000Z', lastUsedAt: '2024-05-01T00:00:00.000Z' })
      expect(await store.revokeApiKey('someone-else', k.id)).toBe(false)
      expect(await store.revokeApiKey('app', k.id)).toBe(true)
      expect(await store.revokeApiKey('app', k.id)).toBe(false)
      // the hash is unique: the same token can never belong to two keys
      await expect(store.createApiKey({ userId: 'app', name: 'dup', hash: sha('token') })).rejects.toMatchObject({ code: 'E_CONFLICT' })
    })

    it('keeps tenant-wide and workspace bindings apart, and refuses unknown workspaces', async () => {
      const store = await h.store()
      await store.createUser({ id: 'op', name: 'Op', type: 'person' })
      await store.addRoleBinding({ userId: 'op', role: 'operator', workspace: null, createdBy: 'admin' })
      await store.addRoleBinding({ userId: 'op', role: 'operator', workspace: 'public', createdBy: 'admin' })
      await expect(store.addRoleBinding({ userId: 'op', role: 'viewer', workspace: 'nope', createdBy: 'admin' })).rejects.toMatchObject({ code: 'E_NOT_FOUND' })
      expect((await store.listRoleBindings({ userId: 'op' })).map((b) => b.workspace)).toEqual([null, 'public'])
      expect((await store.listRoleBindings({ workspace: null })).map((b) => b.userId)).toEqual(['op'])
      expect(await store.removeRoleBinding('op', 'operator', null)).toBe(true)
      expect(await store.removeRoleBinding('op', 'operator', null)).toBe(false)
      expect((await store.listRoleBindings({ userId: 'op' })).map((b) => b.workspace)).toEqual(['public'])
    })

    it('creates, deletes (dropping its bindings) and revives workspaces', async () => {
      const store = await h.store()
      const w = await store.createWorkspace({ name: 'sales', description: 'Sales', layer: 'user', tags: ['a', 'b'] })
      expect(w).toEqual({ name: 'sales', description: 'Sales', layer: 'user', tags: ['a', 'b'], createdAt: expect.any(String) })
      await expect(store.createWorkspace({ name: 'sales', layer: 'user', tags: [] })).rejects.toMatchObject({ code: 'E_CONFLICT' })
      await store.createUser({ id: 'v', name: 'V', type: 'person' })
      await store.addRoleBinding({ userId: 'v', role: 'viewer', workspace: 'sales', createdBy: 'admin' })
      await store.deleteWorkspace('sales')
      expect(await store.getWorkspace('sales')).toBeUndefined()
      expect(await store.listRoleBindings({ userId: 'v' })).toEqual([])
      await expect(store.deleteWorkspace('sales')).rejects.toMatchObject({ code: 'E_NOT_FOUND' })
      expect((await store.createWorkspace({ name: 'sales', layer: 'system', tags: [] })).layer).toBe('system')
    })

    it('stores grants per resource and removes them with it', async () => {
      const store = await h.store()
      expect(await store.addGrant({ resourceId: 'r1', userId: 'a', permission: 'read', grantedBy: 'o' })).toBe(true)
      expect(await store.addGrant({ resourceId: 'r1', userId: 'a', permission: 'read', grantedBy: 'o' })).toBe(false)
      await store.addGrant({ resourceId: 'r1', userId: 'a', permission: 'run', grantedBy: 'o' })
      await store.addGrant({ resourceId: 'r2', userId: 'a', permission: 'use', grantedBy: 'o' })
      expect((await store.listGrants({ resourceId: 'r1', userId: 'a' })).map((g) => g.permission)).toEqual(['read', 'run'])
      expect(await store.removeGrant('r1', 'a', 'read')).toBe(true)
      await store.deleteGrantsForResource('r1')
      expect((await store.listGrants({ userId: 'a' })).map((g) => `${g.resourceId}:${g.permission}`)).toEqual(['r2:use'])
    })

    it('appends audit entries in order and reads them since a time, newest `limit` kept', async () => {
      const store = await h.store()
      for (let i = 1; i <= 5; i++) {
        await store.appendAudit({ time: `2024-05-01T00:00:0${i}.000Z`, actor: 'a', action: `act${i}`, target: 't', result: 'ok', ...(i === 1 ? { detail: { n: 1 } } : {}) })
      }
      const all = await store.listAudit({})
      expect(all.map((e) => e.action)).toEqual(['act1', 'act2', 'act3', 'act4', 'act5'])
      expect(all[0]).toEqual({ seq: 1, time: '2024-05-01T00:00:01.000Z', actor: 'a', action: 'act1', target: 't', result: 'ok', detail: { n: 1 } })
      expect((await store.listAudit({ since: '2024-05-01T00:00:03.000Z' })).map((e) => e.action)).toEqual(['act3', 'act4', 'act5'])
      expect((await store.listAudit({ limit: 2 })).map((e) => e.action)).toEqual(['act4', 'act5'])
    })

    it('text with a NUL (a decoded %00 in a URL parameter, a name from a body) is written, with U+FFFD in its place, on every store', async () => {
      const store = await h.store()
      await store.appendAudit({ time: '2024-05-01T00:00:01.000Z', actor: 'anonymous\u0000x', action: 'apply', target: 'workspace:a\u0000b', result: 'denied', detail: { reason: 'n\u0000ul' } })
      expect((await store.listAudit({}))[0]).toEqual({
        seq: 1, time: '2024-05-01T00:00:01.000Z', actor: 'anonymous\uFFFDx', action: 'apply', target: 'workspace:a\uFFFDb', result: 'denied', detail: { reason: 'n\u0000ul' },
      })
      const u = await store.createUser({ id: 'nul\u0000user', name: 'N\u0000ame', type: 'person', email: 'a\u0000@example.com' })
      expect(u).toMatchObject({ id: 'nul\uFFFDuser', name: 'N\uFFFDame', email: 'a\uFFFD@example.com' })
      // Looked up through the same mapping: the id as given finds the user as stored.
      expect(await store.getUser('nul\u0000user')).toMatchObject({ id: 'nul\uFFFDuser' })
      const key = await store.createApiKey({ userId: 'nul\u0000user', name: 'k\u0000', hash: sha('nul') })
      expect(key.name).toBe('k\uFFFD')
    })
  })
}
