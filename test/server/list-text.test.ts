// The `get` table printed by the server as text (format=table, Accept: text/plain): the
// very bytes the CLI would print from the JSON table, and the JSON table for everyone else.
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { renderTable } from '../../src/cli/output.js'
import { CtlClient } from '../../src/client/client.js'
import type { ResourceTable } from '../../src/api/types.js'
import { startControlPlane, type ControlPlane } from '../../src/controlplane/control-plane.js'
import { openTestStore, testStoreUrl } from '../support/store.js'

let dataDir: string
let plane: ControlPlane
let client: CtlClient

function wf(name: string): Record<string, unknown> {
  return { meta: { name, version: 'v1', type: 'workflow', tags: [], layer: 'user' }, workflow: { dag: [{ name: 'a', depends: [], spec: { stack: 'alpha' } }] } }
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'ctl-list-text-'))
  const store = await openTestStore(dataDir)
  const put = async (workspace: string | null, type: string, name: string, manifest: unknown, owner: string) => {
    const { resource } = await store.applyResource({ workspace, type, name, version: 'v1', manifest, owner })
    await store.setResourceStatus(resource.id, 'active')
    return resource
  }
  const ran = await put('public', 'workflow', 'ran', wf('ran'), 'alice')
  const { run } = await store.createRun({ resourceId: ran.id, revision: 1, trigger: 'apply', steps: [] })
  await store.updateRun(run.id, { state: 'succeeded', finishedAt: new Date().toISOString() })
  await put('public', 'workflow', 'a-much-longer-workflow-name', wf('a-much-longer-workflow-name'), 'bob')
  await put(null, 'compute', 'big', { meta: { name: 'big', version: 'v1', type: 'compute', tags: [], layer: 'system' }, compute: { cpu: '2', memory: '4Gi' } }, 'carol')
  await store.close()
  plane = await startControlPlane({ dataDir, port: 0, storeUrl: await testStoreUrl(dataDir) })
  client = new CtlClient({ baseUrl: plane.url, apiKey: plane.adminToken })
})

afterAll(async () => {
  await plane?.close()
  rmSync(dataDir, { recursive: true, force: true })
})

const get = (query: string, accept: string) =>
  fetch(`${plane.url}/api/v1/resources?${query}`, { headers: { authorization: `Bearer ${plane.adminToken}`, accept } })

describe('GET /api/v1/resources?format=table as text', () => {
  it('prints the same bytes the CLI renders from the JSON table', async () => {
    const table = await client.listTable({ all: true })
    const text = await client.listTableText({ all: true })
    expect(typeof text).toBe('string')
    expect(text).toBe(renderTable(table.columns, table.rows))
    const lines = (text as string).split('\n')
    expect(lines[0]).toMatch(/^NAME\s+\| VERSION \| TYPE\s+\| WORKSPACE \| STATUS \| RUNTIME\s+\| OWNER$/)
    expect(lines).toContain('big                         | v1      | compute  |           | active |           | carol')
    expect(text).toMatch(/^ran\s+\| v1\s+\| workflow \| public\s+\| active \| succeeded \| alice$/m)
  })

  it('answers text/plain only to a client that prefers it, JSON otherwise', async () => {
    const text = await get('all=true&format=table', 'text/plain, application/json;q=0.5')
    expect(text.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(await text.text()).toMatch(/^NAME/)
    for (const accept of ['application/json', 'application/json, text/plain', '*/*']) {
      const json = await get('all=true&format=table', accept)
      expect(json.headers.get('content-type')).toMatch(/^application\/json/)
      expect(((await json.json()) as ResourceTable).rows).toHaveLength(3)
    }
    // Objects stay objects whatever the Accept header says.
    const objects = await get('all=true', 'text/plain')
    expect(((await objects.json()) as { resources: unknown[] }).resources).toHaveLength(3)
  })

  it('answers an empty body when nothing matches', async () => {
    expect(await client.listTableText({ all: true, name: 'nothing-here' })).toBe('')
  })

  it('hands back the JSON table of a control plane that does not print text', async () => {
    const table: ResourceTable = { columns: ['NAME', 'OWNER'], rows: [['x', 'y']] }
    const old: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json; charset=utf-8')
      res.end(JSON.stringify(table))
    })
    await new Promise<void>((resolve) => old.listen(0, '127.0.0.1', resolve))
    try {
      const oldClient = new CtlClient({ baseUrl: `http://127.0.0.1:${(old.address() as AddressInfo).port}` })
      expect(await oldClient.listTableText({ all: true })).toEqual(table)
    } finally {
      await new Promise((resolve) => old.close(resolve))
    }
  })
})
