// Listings read no manifest column: records load their manifest (their own revision's) on
// first access, in pages. And the newest run of many resources comes from one query.
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { freshStore, workflow } from './helpers.js'
import type { Store } from '../../src/store/types.js'

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

describe('listing resources', () => {
  it('gives every record its own manifest, however the manifests are read', async () => {
    const { store } = freshStore()
    await applyMany(store, 700)
    // In order (pages grow), in reverse, and a sparse subset (pages shrink): always the right one.
    const inOrder = await store.listResources({ workspace: 'public' })
    expect(inOrder.map((r) => (r.manifest as { name: string; n: number }).n)).toEqual(Array.from({ length: 700 }, (_, i) => i))
    const reversed = (await store.listResources({ workspace: 'public' })).reverse()
    expect(reversed.every((r) => (r.manifest as { name: string }).name === r.name)).toBe(true)
    const sparse = await store.listResources({ workspace: 'public' })
    for (let i = 0; i < sparse.length; i += 7) expect((sparse[i]!.manifest as { name: string }).name).toBe(sparse[i]!.name)
    // A second read returns the same (parsed once) value; a set replaces it.
    const rec = sparse[3]!
    expect(rec.manifest).toBe(rec.manifest)
    rec.manifest = { replaced: true }
    expect(rec.manifest).toEqual({ replaced: true })
  })

  it('a listed record keeps the manifest of its revision after a later apply', async () => {
    const { store } = freshStore()
    await store.applyResource({ workspace: 'public', type: 'workflow', name: 'wf', version: 'v1', manifest: workflow('wf', { rev: 1 }), owner: 'alice' })
    const [listed] = await store.listResources({ workspace: 'public' })
    await store.applyResource({ workspace: 'public', type: 'workflow', name: 'wf', version: 'v1', manifest: workflow('wf', { rev: 2 }), owner: 'alice' })
    expect(listed).toMatchObject({ revision: 1, manifest: { rev: 1 } })
    const [now] = await store.listResources({ workspace: 'public' })
    expect(now).toMatchObject({ revision: 2, manifest: { rev: 2 } })
  })

  it('reading a listed manifest after the store closed is a clear error', async () => {
    const { store } = freshStore()
    await applyMany(store, 2)
    const [rec] = await store.listResources({})
    await store.close()
    expect(() => rec!.manifest).toThrow(expect.objectContaining({ code: 'E_UNAVAILABLE' }))
  })

  it('answers listings from the covering index, with every filter', async () => {
    const { store, file } = freshStore()
    await applyMany(store, 30)
    await applyMany(store, 5, 'team')
    expect((await store.listResources({ owner: 'bob', workspace: 'team' })).map((r) => r.name)).toEqual(['wf-0001', 'wf-0003'])
    expect(await store.listResources({ allWorkspaces: true, type: 'workflow' })).toHaveLength(35)
    const raw = new Database(file, { readonly: true })
    const plan = raw
      .prepare(`EXPLAIN QUERY PLAN SELECT id, owner, status, updated_at FROM resources INDEXED BY resources_list
        WHERE type = 'workflow' AND status <> 'deleted' ORDER BY workspace, type, name`)
      .all() as { detail: string }[]
    raw.close()
    expect(plan.map((p) => p.detail).join(' ')).toContain('COVERING INDEX resources_list')
  })
})

describe('listLatestRuns', () => {
  it('returns the newest run of each resource, leaving out resources without runs', async () => {
    const { store } = freshStore()
    const [a, b, c] = await applyMany(store, 3)
    const first = await store.createRun({ resourceId: a!, revision: 1, trigger: 'apply', steps: ['s'] })
    const second = await store.createRun({ resourceId: a!, revision: 1, trigger: 'manual', steps: ['s'] })
    const onB = await store.createRun({ resourceId: b!, revision: 1, trigger: 'apply', steps: [] })
    await store.updateRun(first.run.id, { state: 'failed' })
    const latest = await store.listLatestRuns([a!, b!, c!, 'res-unknown'])
    expect(latest.map((r) => r.id).sort()).toEqual([second.run.id, onB.run.id].sort())
    expect(latest.find((r) => r.resourceId === a)).toEqual(second.run)
    expect(await store.listLatestRuns([])).toEqual([])
  })
})
