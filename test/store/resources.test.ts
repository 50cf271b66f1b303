import { describe, expect, it } from 'vitest'
import { CtlError } from '../../src/errors.js'
import { canonicalHash, canonicalJson } from '../../src/store/hash.js'
import type { ApplyResourceInput } from '../../src/store/types.js'
import { freshStore, workflow } from './helpers.js'

function input(manifest: unknown, extra: Partial<ApplyResourceInput> = {}): ApplyResourceInput {
  return { workspace: 'public', type: 'workflow', name: 'wf', version: 'v1', manifest, owner: 'alice', ...extra }
}

describe('canonicalHash', () => {
  it('ignores key order and undefined members, not values', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, undefined], c: undefined } })).toBe('{"a":{"d":[1,null]},"b":1}')
    expect(canonicalHash({ a: 1, b: [1, 2] })).toBe(canonicalHash({ b: [1, 2], a: 1, c: undefined }))
    expect(canonicalHash({ a: 1, b: [1, 2] })).not.toBe(canonicalHash({ a: 1, b: [2, 1] }))
    expect(canonicalHash({ a: '1' })).not.toBe(canonicalHash({ a: 1 }))
    expect(canonicalHash({})).toMatch(/^[0-9a-f]{64}$/)
  })
})

describe('applyResource', () => {
  it('creates, leaves unchanged, updates, and keeps every revision', async () => {
    const { store } = freshStore()
    const created = await store.applyResource(input(workflow('wf')))
    expect(created.outcome).toBe('created')
    expect(created.resource).toMatchObject({ workspace: 'public', type: 'workflow', name: 'wf', revision: 1, status: 'creating', owner: 'alice' })
    expect(created.resource.id).toMatch(/^res-/)
    expect(created.resource.hash).toBe(canonicalHash(workflow('wf')))
    expect(created.resource.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)

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
    expect(await store.getRevision(created.resource.id, 2)).toMatchObject({ hash: canonicalHash(changed) })
    expect(await store.getRevision(created.resource.id, 3)).toBeUndefined()

    // a different manifest version with the same body is a change too
    const v2 = await store.applyResource(input(changed, { version: 'v2alpha' }))
    expect(v2.outcome).toBe('updated')
    expect(v2.resource.revision).toBe(3)
    expect((await store.getResource({ workspace: 'public', type: 'workflow', name: 'wf' }))!.version).toBe('v2alpha')
  })

  it('dry run reports the outcome and writes nothing', async () => {
    const { store } = freshStore()
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
    const { store } = freshStore()
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

  it('workspace-scoped and instance-level keys are distinct; listing filters', async () => {
    const { store } = freshStore()
    await store.applyResource(input(workflow('wf')))
    await store.applyResource(input(workflow('wf'), { workspace: 'team' }))
    await store.applyResource(input(workflow('b'), { name: 'b', owner: 'bob' }))
    const stack = await store.applyResource(input({ name: 'alpha' }, { workspace: null, type: 'stack', name: 'alpha' }))
    expect(stack.resource.workspace).toBeNull()
    const again = await store.applyResource(input({ name: 'alpha' }, { workspace: null, type: 'stack', name: 'alpha' }))
    expect(again.outcome).toBe('unchanged')

    const names = (rs: { workspace: string | null; name: string }[]) => rs.map((r) => `${r.workspace ?? '-'}/${r.name}`)
    expect(names(await store.listResources({}))).toEqual(['-/alpha', 'public/b', 'public/wf', 'team/wf'])
    expect(names(await store.listResources({ workspace: 'public' }))).toEqual(['public/b', 'public/wf'])
    expect(names(await store.listResources({ workspace: null }))).toEqual(['-/alpha'])
    expect(names(await store.listResources({ workspace: 'public', allWorkspaces: true, type: 'workflow' }))).toEqual([
      'public/b',
      'public/wf',
      'team/wf',
    ])
    expect(names(await store.listResources({ owner: 'bob' }))).toEqual(['public/b'])
    expect(names(await store.listResources({ name: 'wf', workspace: 'team' }))).toEqual(['team/wf'])
    expect(await store.getResource({ workspace: null, type: 'stack', name: 'alpha' })).toMatchObject({ id: stack.resource.id })
    expect(await store.getResource({ workspace: 'public', type: 'stack', name: 'alpha' })).toBeUndefined()
  })

  it('records serialize with their manifest (parsed lazily)', async () => {
    const { store } = freshStore()
    const m = workflow('wf', { big: 'x'.repeat(1000) })
    await store.applyResource(input(m))
    const [rec] = await store.listResources({ workspace: 'public' })
    expect(JSON.parse(JSON.stringify(rec))).toMatchObject({ name: 'wf', manifest: m })
    expect({ ...rec }.manifest).toEqual(m)
  })

  it('status, delete, and revival of the same record', async () => {
    const { store } = freshStore()
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
    expect(await store.getResourceById(resource.id)).toMatchObject({ status: 'deleted' })
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
  })
})
