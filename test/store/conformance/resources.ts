// ResourceStore: applies with revisions and optimistic concurrency, listings, status, delete and
// revival. Records are plain data: what a call returns stays whole after the store is closed.
import { describe, expect, it } from 'vitest'
import { CtlError } from '../../../src/errors.js'
import { canonicalHash } from '../../../src/store/hash.js'
import type { ApplyResourceInput, Store } from '../../../src/store/types.js'
import { workflow, type StoreHarness } from './harness.js'

function input(manifest: unknown, extra: Partial<ApplyResourceInput> = {}): ApplyResourceInput {
  return { workspace: 'public', type: 'workflow', name: 'wf', version: 'v1', manifest, owner: 'alice', ...extra }
}

async function applyMany(store: Store, n: number, workspace = 'public'): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < n; i++) {
    const name = `wf-${String(i).padStart(4, '0')}`
    const { resource } = await store.applyResource({
      workspace, type: 'workflow', name, version: 'v1', manifest: workflow(name, { n: i }), owner: i % 2 ? 'bob' : 'alice',
    })
    ids.push(resource.id)
  }
  return ids
}

export function resourceContract(h: StoreHarness): void {
  describe('resources: applyResource', () => {
    it('creates, leaves unchanged, updates, and keeps every revision', async () => {
      const store = await h.store()
      const created = await store.applyResource(input(workflow('wf')))
      expect(created.outcome).toBe('created')
      expect(created.resource).toMatchObject({ workspace: 'public', type: 'workflow', name: 'wf', revision: 1, status: 'creating', owner: 'alice' })
      expect(created.resource.id).toMatch(/^res-/)
      expect(created.resource.hash).toBe(canonicalHash(workflow('wf')))
      expect(created.resource.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      expect(created.resource.manifest).toEqual(workflow('wf'))

      await store.setResourceStatus(created.resource.id, 'active')
      // same content, other key order → unchanged; nothing written (status stays active)
      const same = { workflow: workflow('wf').workflow, type: 'workflow', version: 'v1', name: 'wf' }
      const unchanged = await store.applyResource(input(same, { owner: 'bob' }))
      expect(unchanged.outcome).toBe('unchanged')
      expect(unchanged.resource).toMatchObject({ revision: 1, status: 'active', updatedAt: expect.any(String) })
      expect(await store.listRevisions(created.resource.id)).toHaveLength(1)

      const changed = workflow('wf', { description: 'now with words' })
      const updated = await store.applyResource(input(changed, { owner: 'bob' }))
      expect(updated.outcome).toBe('updated')
      expect(updated.resource).toMatchObject({ id: created.resource.id, revision: 2, status: 'creating', owner: 'alice' })
      expect(updated.resource.manifest).toEqual(changed)

      const revisions = await store.listRevisions(created.resource.id)
      expect(revisions.map((r) => [r.revision, r.createdBy, r.version])).toEqual([
        [1, 'alice', 'v1'],
        [2, 'bob', 'v1'],
      ])
      expect(revisions[0]!.manifest).toEqual(workflow('wf'))
      expect(await store.getRevision(created.resource.id, 2)).toMatchObject({ hash: canonicalHash(changed), manifest: changed })
      expect(await store.getRevision(created.resource.id, 3)).toBeUndefined()

      // a different manifest version with the same body is a change too
      const v2 = await store.applyResource(input(changed, { version: 'v2alpha' }))
      expect(v2.outcome).toBe('updated')
      expect(v2.resource.revision).toBe(3)
      expect((await store.getResource({ workspace: 'public', type: 'workflow', name: 'wf' }))!.version).toBe('v2alpha')
    })

    it('hashes hashSource instead of the manifest when given', async () => {
      const store = await h.store()
      const a = await store.applyResource(input({ v: 'cipher-1' }, { type: 'secret', hashSource: { v: 'hmac' } }))
      expect(a.resource.hash).toBe(canonicalHash({ v: 'hmac' }))
      const b = await store.applyResource(input({ v: 'cipher-2' }, { type: 'secret', hashSource: { v: 'hmac' } }))
      expect(b.outcome).toBe('unchanged')
    })

    it('dry run reports the outcome and writes nothing', async () => {
      const store = await h.store()
      const dry = await store.applyResource(input(workflow('wf'), { dryRun: true }))
      expect(dry.outcome).toBe('created')
      expect(dry.resource.revision).toBe(1)
      expect(await store.listResources({})).toEqual([])
      await store.applyResource(input(workflow('wf')))
      const dryUpdate = await store.applyResource(input(workflow('wf', { x: 1 }), { dryRun: true }))
      expect(dryUpdate).toMatchObject({ outcome: 'updated', resource: { revision: 2 } })
      expect((await store.getResource(input(null)))!.revision).toBe(1)
    })

    it('expectedRevision: stale or wrong existence is a clean E_CONFLICT', async () => {
      const store = await h.store()
      await expect(store.applyResource(input(workflow('wf'), { expectedRevision: 1 }))).rejects.toMatchObject({ code: 'E_CONFLICT' })
      const first = await store.applyResource(input(workflow('wf'), { expectedRevision: 0 }))
      expect(first.outcome).toBe('created')
      const err = await store.applyResource(input(workflow('wf', { x: 1 }), { expectedRevision: 0 })).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(CtlError)
      expect(err).toMatchObject({ code: 'E_CONFLICT', details: { expectedRevision: 0, currentRevision: 1 } })
      const ok = await store.applyResource(input(workflow('wf', { x: 1 }), { expectedRevision: 1 }))
      expect(ok.resource.revision).toBe(2)
      await expect(store.applyResource(input(workflow('wf', { x: 2 }), { expectedRevision: 1 }))).rejects.toMatchObject({ code: 'E_CONFLICT' })
      expect(await store.listRevisions(first.resource.id)).toHaveLength(2)
    })

    it('status, delete, and revival of the same record', async () => {
      const store = await h.store()
      const { resource } = await store.applyResource(input(workflow('wf')))
      await store.setResourceStatus(resource.id, 'error', 'stack alpha missing')
      expect(await store.getResourceById(resource.id)).toMatchObject({ status: 'error', statusReason: 'stack alpha missing' })
      await store.setResourceStatus(resource.id, 'active')
      expect((await store.getResourceById(resource.id))!.statusReason).toBeUndefined()
      await store.putSchedule({ resourceId: resource.id, revision: 1, nextFireAt: '2030-01-01T00:00:00.000Z' })

      await store.deleteResource(resource.id)
      const key = { workspace: 'public', type: 'workflow', name: 'wf' }
      expect(await store.getResource(key)).toBeUndefined()
      expect(await store.getResource(key, { includeDeleted: true })).toMatchObject({ status: 'deleted' })
      expect(await store.getResourceById(resource.id)).toMatchObject({ status: 'deleted', manifest: workflow('wf') })
      expect(await store.listResources({})).toEqual([])
      expect(await store.listResources({ includeDeleted: true })).toHaveLength(1)
      expect(await store.getSchedule(resource.id)).toBeUndefined()

      // deleted counts as absent for expectedRevision; same content still recreates
      await expect(store.applyResource(input(workflow('wf'), { expectedRevision: 1 }))).rejects.toMatchObject({ code: 'E_CONFLICT' })
      const revived = await store.applyResource(input(workflow('wf'), { expectedRevision: 0, owner: 'carol' }))
      expect(revived.outcome).toBe('created')
      expect(revived.resource).toMatchObject({ id: resource.id, revision: 2, status: 'creating', owner: 'carol' })
      expect(await store.listRevisions(resource.id)).toHaveLength(2)

      await expect(store.setResourceStatus('res-missing', 'active')).rejects.toMatchObject({ code: 'E_NOT_FOUND' })
      await expect(store.deleteResource('res-missing')).rejects.toMatchObject({ code: 'E_NOT_FOUND' })
      expect(await store.getResourceById('res-missing')).toBeUndefined()
    })

    it('status for a revision: a reconcile of an older revision never overwrites a newer one\'s, nor a deletion', async () => {
      const store = await h.store()
      const { resource } = await store.applyResource(input(workflow('wf', { x: 1 })))
      const second = await store.applyResource(input(workflow('wf', { x: 2 })))
      expect(second.resource.revision).toBe(2)
      // Revision 2's reconcile (on one replica) finds a problem; revision 1's slow reconcile (on another) ends after.
      await store.setResourceStatus(resource.id, 'error', 'unknown stack', 2)
      await store.setResourceStatus(resource.id, 'active', undefined, 1)
      expect(await store.getResourceById(resource.id)).toMatchObject({ revision: 2, status: 'error', statusReason: 'unknown stack' })
      await store.setResourceStatus(resource.id, 'active', undefined, 2)
      expect(await store.getResourceById(resource.id)).toMatchObject({ status: 'active' })
      await store.deleteResource(resource.id)
      await store.setResourceStatus(resource.id, 'active', undefined, 2)
      expect(await store.getResourceById(resource.id)).toMatchObject({ status: 'deleted' })
      await expect(store.setResourceStatus('res-missing', 'active', undefined, 1)).rejects.toMatchObject({ code: 'E_NOT_FOUND' })
    })
  })

  describe('resources: listings', () => {
    it('workspace-scoped and instance-level keys are distinct; every filter', async () => {
      const store = await h.store()
      await store.applyResource(input(workflow('wf')))
      await store.applyResource(input(workflow('wf'), { workspace: 'team' }))
      await store.applyResource(input(workflow('b'), { name: 'b', owner: 'bob' }))
      const stack = await store.applyResource(input({ name: 'alpha' }, { workspace: null, type: 'stack', name: 'alpha' }))
      expect(stack.resource.workspace).toBeNull()
      const again = await store.applyResource(input({ name: 'alpha' }, { workspace: null, type: 'stack', name: 'alpha' }))
      expect(again.outcome).toBe('unchanged')

      const names = (rs: { workspace: string | null; name: string }[]) => rs.map((r) => `${r.workspace ?? '-'}/${r.name}`)
      for (const list of [store.listResources.bind(store), store.listResourceSummaries.bind(store)]) {
        expect(names(await list({}))).toEqual(['-/alpha', 'public/b', 'public/wf', 'team/wf'])
        expect(names(await list({ workspace: 'public' }))).toEqual(['public/b', 'public/wf'])
        expect(names(await list({ workspace: null }))).toEqual(['-/alpha'])
        expect(names(await list({ workspace: 'public', allWorkspaces: true, type: 'workflow' }))).toEqual(['public/b', 'public/wf', 'team/wf'])
        expect(names(await list({ owner: 'bob' }))).toEqual(['public/b'])
        expect(names(await list({ name: 'wf', workspace: 'team' }))).toEqual(['team/wf'])
      }
      expect(await store.getResource({ workspace: null, type: 'stack', name: 'alpha' })).toMatchObject({ id: stack.resource.id })
      expect(await store.getResource({ workspace: 'public', type: 'stack', name: 'alpha' })).toBeUndefined()
    })

    it('orders listings byte-wise by workspace, type, name (as SQLite does, whatever the database locale)', async () => {
      const store = await h.store()
      const names = ['b', 'B', 'a-1', 'a1', 'a_1', 'a.1', 'Z', 'é', 'aa', 'a']
      for (const name of names) await store.applyResource(input(workflow(name), { name }))
      const bytewise = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))
      expect((await store.listResourceSummaries({ workspace: 'public' })).map((r) => r.name)).toEqual(bytewise)
      expect((await store.listResources({ workspace: 'public' })).map((r) => r.name)).toEqual(bytewise)
    })

    it('selects by the labels and tags of the current revision', async () => {
      const store = await h.store()
      await store.applyResource(input(workflow('a', { meta: { labels: { team: 'x' }, tags: ['t1'] } }), { name: 'a' }))
      await store.applyResource(input(workflow('b', { meta: { labels: { team: 'y' } } }), { name: 'b' }))
      await store.applyResource(input(workflow('c'), { name: 'c' }))
      const teamX = (m: { labels?: Readonly<Record<string, string>> }) => m.labels?.team === 'x'
      expect((await store.listResources({ select: teamX })).map((r) => r.name)).toEqual(['a'])
      expect((await store.listResourceSummaries({ select: (m) => m.tags?.includes('t1') ?? false })).map((r) => r.name)).toEqual(['a'])
      await store.applyResource(input(workflow('a', { meta: { labels: { team: 'y' } } }), { name: 'a' }))
      expect((await store.listResourceSummaries({ select: teamX })).map((r) => r.name)).toEqual([])
    })

    it('gives every listed record its own revision\'s manifest, as plain data', async () => {
      const store = await h.store()
      await applyMany(store, 300)
      const listed = await store.listResources({ workspace: 'public' })
      expect(listed.map((r) => (r.manifest as { n: number }).n)).toEqual(Array.from({ length: 300 }, (_, i) => i))
      expect(listed.every((r) => (r.manifest as { name: string }).name === r.name)).toBe(true)
      // A later apply does not change what was listed.
      await store.applyResource({ workspace: 'public', type: 'workflow', name: 'wf-0003', version: 'v1', manifest: workflow('wf-0003', { rev: 2 }), owner: 'alice' })
      expect(listed[3]).toMatchObject({ revision: 1, manifest: { n: 3 } })
      expect((await store.getResourceById(listed[3]!.id))).toMatchObject({ revision: 2, manifest: { rev: 2 } })
      // Plain: serializes, spreads, and stays whole after the store is closed.
      expect(JSON.parse(JSON.stringify(listed[0]))).toEqual({ ...listed[0] })
      const got = await store.getResource({ workspace: 'public', type: 'workflow', name: 'wf-0001' })
      const revs = await store.listRevisions(got!.id)
      const unread = await store.listResources({ workspace: 'public' })
      await h.close(store)
      expect(unread.map((r) => (r.manifest as { name: string }).name)).toEqual(unread.map((r) => r.name))
      expect(listed[5]!.manifest).toEqual(workflow('wf-0005', { n: 5 }))
      expect(got!.manifest).toEqual(workflow('wf-0001', { n: 1 }))
      expect(revs[0]!.manifest).toEqual(workflow('wf-0001', { n: 1 }))
    })

    it('summaries are the records without manifests', async () => {
      const store = await h.store()
      await applyMany(store, 5)
      await applyMany(store, 2, 'team')
      const full = await store.listResources({ allWorkspaces: true })
      const summaries = await store.listResourceSummaries({ allWorkspaces: true })
      expect(summaries).toEqual(full.map(({ manifest: _m, ...rest }) => rest))
      expect(summaries.every((s) => !('manifest' in s))).toBe(true)
      expect((await store.listResourceSummaries({ owner: 'bob', workspace: 'team' })).map((r) => r.name)).toEqual(['wf-0001'])
    })
  })
}
