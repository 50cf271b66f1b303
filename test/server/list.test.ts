// The listing route over a store seeded through the Store API: rows with the RUNTIME
// column, serialized by the route itself as plain JSON.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { startControlPlane, type ControlPlane } from '../../src/controlplane/control-plane.js'
import { openTestStore, testStoreUrl } from '../support/store.js'

let dataDir: string
let plane: ControlPlane
let client: CtlClient
const nextFire = '2099-01-01T06:00:00.000Z'

function wf(name: string, schedule?: Record<string, unknown>): Record<string, unknown> {
  return { meta: { name, version: 'v1', type: 'workflow', tags: [], layer: 'user' }, workflow: { dag: [{ name: 'a', depends: [], spec: { stack: 'alpha' } }], ...(schedule ? { schedule } : {}) } }
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'ctl-list-'))
  const store = await openTestStore(dataDir)
  const put = async (workspace: string | null, type: string, name: string, manifest: unknown, owner = 'alice') => {
    const { resource } = await store.applyResource({ workspace, type, name, version: 'v1', manifest, owner })
    await store.setResourceStatus(resource.id, 'active')
    return resource
  }
  const ran = await put('public', 'workflow', 'ran', wf('ran'))
  const { run } = await store.createRun({ resourceId: ran.id, revision: 1, trigger: 'apply', steps: [] })
  await store.updateRun(run.id, { state: 'failed', finishedAt: new Date().toISOString() })
  await put('public', 'workflow', 'never-ran', wf('never-ran'), 'bob')
  const nightly = await put('team', 'workflow', 'nightly', wf('nightly', { crons: ['0 6 * * *'], timezone: 'UTC', concurrencyPolicy: 'Allow' }))
  await store.putSchedule({ resourceId: nightly.id, revision: 1, nextFireAt: nextFire })
  await put('team', 'volume', 'scratch', { meta: { name: 'scratch', version: 'v1', type: 'volume', tags: [], layer: 'user' }, volume: { size: '1Gi', accessMode: 'ReadWriteOnce', type: 'temp' } })
  await store.close()
  plane = await startControlPlane({ dataDir, port: 0, storeUrl: await testStoreUrl(dataDir) })
  client = new CtlClient({ baseUrl: plane.url, apiKey: plane.adminToken })
})

afterAll(async () => {
  await plane?.close()
  rmSync(dataDir, { recursive: true, force: true })
})

describe('GET /api/v1/resources', () => {
  it('lists every workspace with the RUNTIME column', async () => {
    const rows = await client.list({ all: true })
    expect(rows.map((r) => [r.workspace, r.type, r.name, r.owner, r.runtime])).toEqual([
      ['public', 'workflow', 'never-ran', 'bob', 'pending'],
      ['public', 'workflow', 'ran', 'alice', 'failed'],
      ['team', 'volume', 'scratch', 'alice', ''],
      ['team', 'workflow', 'nightly', 'alice', 'next:2099-01-01T06:00:00Z'],
    ])
    expect(rows[0]).toEqual({
      id: expect.any(String), workspace: 'public', type: 'workflow', name: 'never-ran', version: 'v1', revision: 1, owner: 'bob',
      status: 'active', runtime: 'pending', createdAt: expect.any(String), updatedAt: expect.any(String),
    })
  })

  it('prints the get table on the server with format=table, cell for cell the same as the rows', async () => {
    const rows = await client.list({ all: true })
    const table = await client.listTable({ all: true })
    expect(table.columns).toEqual(['NAME', 'VERSION', 'TYPE', 'WORKSPACE', 'STATUS', 'RUNTIME', 'OWNER'])
    expect(table.rows).toEqual(rows.map((r) => [r.name, r.version, r.type, r.workspace ?? '', r.status, r.runtime, r.owner]))
    expect(table.rows.length).toBeGreaterThan(0)
  })

  it('answers plain JSON, filtered by workspace, type, name and owner', async () => {
    const res = await fetch(`${plane.url}/api/v1/resources?workspace=team&type=workflow`, { headers: { authorization: `Bearer ${plane.adminToken}` } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    expect(((await res.json()) as { resources: { name: string }[] }).resources.map((r) => r.name)).toEqual(['nightly'])
    expect((await client.list({ workspace: 'public', owner: 'bob' })).map((r) => r.name)).toEqual(['never-ran'])
    expect((await client.list({ workspace: 'public', name: 'ran' })).map((r) => r.runtime)).toEqual(['failed'])
  })
})
