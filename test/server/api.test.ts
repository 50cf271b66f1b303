import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { CtlError, ManifestError } from '../../src/errors.js'
import { doc, startTestServer, workflow, type TestServer, rejection } from './helpers.js'
import { testStoreKind } from '../support/store.js'

let t: TestServer

beforeAll(async () => {
  t = await startTestServer()
  // Applying needs an existing workspace (public and system are built in).
  for (const name of ['team-a', 'deps']) await t.client.createWorkspace({ name })
})
afterAll(async () => {
  await t?.stop()
})


const volume = (name: string) => ({ name, version: 'v1', type: 'volume', volume: { size: '1Gi', accessMode: 'ReadWriteMany', type: 'persistent' } })
const secret = (name: string, data: Record<string, string>) => ({ name, version: 'v1', type: 'secret', secret: { type: 'key-value', acl: 'r', data } })

describe('meta routes', () => {
  it('answers /healthz without a key', async () => {
    const anonymous = new CtlClient({ baseUrl: t.plane.url })
    expect(await anonymous.health()).toEqual({ status: 'ok' })
  })

  it('serves an OpenAPI 3.1 document listing the routes', async () => {
    const res = await fetch(`${t.plane.url}/api/v1/openapi.json`)
    expect(res.status).toBe(200)
    const spec = (await res.json()) as { openapi: string; paths: Record<string, Record<string, { security?: unknown; parameters?: { name: string }[] }>> }
    expect(spec.openapi).toBe('3.1.0')
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining([
      '/healthz', '/api/v1/workspaces/{ws}/resources', '/api/v1/resources', '/api/v1/workspaces/{ws}/resources/{type}/{name}',
      '/api/v1/instance/resources/{type}/{name}', '/api/v1/workspaces/{ws}/resources/{type}/{name}/runs',
      '/api/v1/workspaces/{ws}/resources/{type}/{name}/runs/stop', '/api/v1/workspaces/{ws}/resources/{type}/{name}/runs/retry',
      '/api/v1/runs/{id}', '/api/v1/runs/{id}/logs', '/api/v1/whoami', '/api/v1/info',
    ]))
    expect(spec.paths['/api/v1/resources']!.get!.security).toEqual([{ bearer: [] }])
    expect(spec.paths['/healthz']!.get!.security).toBeUndefined()
    expect(spec.paths['/api/v1/runs/{id}/logs']!.get!.parameters!.map((p) => p.name)).toEqual(
      expect.arrayContaining(['id', 'step', 'attempt', 'afterSeq', 'tail', 'follow']),
    )
  })

  it('refuses a missing or unknown key with 401 and WWW-Authenticate', async () => {
    const missing = await fetch(`${t.plane.url}/api/v1/whoami`)
    expect(missing.status).toBe(401)
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/)
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('E_UNAUTHENTICATED')
    const wrong = new CtlClient({ baseUrl: t.plane.url, apiKey: 'ctl_not-a-key' })
    const err = await rejection(wrong.whoami())
    expect(err.code).toBe('E_UNAUTHENTICATED')
    expect(err.exitCode).toBe(4)
  })

  it('tells who the key belongs to and what the control plane is', async () => {
    expect((await t.client.whoami()).id).toBe('admin')
    const info = await t.client.info()
    expect(info.apiVersion).toBe('v1')
    expect(info.store).toBe(testStoreKind())
    expect(info.runtime.name).toBe('local')
  })

  it('maps unreachable control planes to E_UNAVAILABLE', async () => {
    const nowhere = new CtlClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'x' })
    const err = await rejection(nowhere.whoami())
    expect(err.code).toBe('E_UNAVAILABLE')
    expect(err.message).toContain('http://127.0.0.1:1 is unreachable')
  })
})

describe('apply', () => {
  it('creates, leaves unchanged, updates, and keeps revisions', async () => {
    const v1 = volume('cache')
    const created = await t.client.apply('public', [doc(v1)])
    expect(created.results).toEqual([
      expect.objectContaining({ name: 'cache', type: 'volume', workspace: 'public', outcome: 'created', revision: 1 }),
    ])
    expect((await t.client.apply('public', [doc(v1)])).results[0]).toMatchObject({ outcome: 'unchanged', revision: 1 })
    const v2 = { ...v1, volume: { ...v1.volume, size: '2Gi' } }
    expect((await t.client.apply('public', [doc(v2)])).results[0]).toMatchObject({ outcome: 'updated', revision: 2 })
    const revisions = await t.client.revisions({ workspace: 'public', type: 'volume', name: 'cache' })
    expect(revisions.map((r) => r.revision)).toEqual([1, 2])
    expect(revisions[0]!.createdBy).toBe('admin')
    const detail = await t.client.get({ workspace: 'public', type: 'volume', name: 'cache' })
    expect(detail.resource).toMatchObject({ name: 'cache', revision: 2, owner: 'admin' })
    expect((detail.manifest as { volume: { size: string } }).volume.size).toBe('2Gi')
  })

  it('dry run goes the same way but stores nothing, and returns both manifests for a diff', async () => {
    const fresh = await t.client.apply('public', [doc(volume('scratch'))], { dryRun: true })
    expect(fresh.dryRun).toBe(true)
    expect(fresh.results[0]).toMatchObject({ name: 'scratch', outcome: 'created' })
    expect(fresh.results[0]!.manifest).toMatchObject({ volume: { size: '1Gi' } })
    expect(fresh.results[0]!.current).toBeUndefined()
    expect((await rejection(t.client.get({ workspace: 'public', type: 'volume', name: 'scratch' }))).code).toBe('E_NOT_FOUND')

    await t.client.apply('public', [doc(volume('keep'))])
    const changed = { ...volume('keep'), volume: { ...volume('keep').volume, size: '5Gi' } }
    const dry = await t.client.apply('public', [doc(changed)], { dryRun: true })
    expect(dry.results[0]).toMatchObject({ outcome: 'updated' })
    expect(dry.results[0]!.current).toMatchObject({ volume: { size: '1Gi' } })
    expect(dry.results[0]!.manifest).toMatchObject({ volume: { size: '5Gi' } })
    const stored = await t.client.get({ workspace: 'public', type: 'volume', name: 'keep' }, { revisions: true })
    expect(stored.resource.revision).toBe(1)
    expect(stored.revisions).toHaveLength(1)
  })

  it('answers 422 with located issues naming the file the client sent, and stores nothing', async () => {
    const bad = { name: 'bad-volume', version: 'v1', type: 'volume', volume: { size: '1Gi', accesMode: 'ReadWriteMany', type: 'persistent' } }
    const good = volume('not-stored')
    const err = await rejection(t.client.apply('public', [doc(good, 'ok.yaml'), doc(bad, 'manifests/vol.yaml', 3)]))
    expect(err).toBeInstanceOf(ManifestError)
    const issues = (err as ManifestError).issues as (ManifestError['issues'][number] & { document?: number })[]
    expect(issues.length).toBeGreaterThan(0)
    expect(issues[0]).toMatchObject({ file: 'manifests/vol.yaml', document: 1 })
    expect(issues.some((i) => i.path.includes('accesMode') || i.message.includes('accesMode'))).toBe(true)
    expect(err.exitCode).toBe(1)
    expect((await rejection(t.client.get({ workspace: 'public', type: 'volume', name: 'not-stored' }))).code).toBe('E_NOT_FOUND')
  })

  it('names the file `<request>` when the client sends bare manifests', async () => {
    const res = await fetch(`${t.plane.url}/api/v1/workspaces/public/resources`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ documents: [{ name: 'x', version: 'v1', type: 'nonsense' }] }),
    })
    expect(res.status).toBe(422)
    const body = (await res.json()) as { error: { code: string; issues: { file: string; code: string }[] } }
    expect(body.error.issues[0]).toMatchObject({ file: '<request>', code: 'E_UNKNOWN_TYPE' })
  })

  it('refuses duplicates and a manifest workspace that contradicts the URL', async () => {
    const dup = await rejection(t.client.apply('public', [doc(volume('twice'), 'a.yaml'), doc(volume('twice'), 'b.yaml')]))
    expect((dup as ManifestError).issues[0]).toMatchObject({ code: 'E_DUPLICATE_RESOURCE', file: 'b.yaml' })
    const elsewhere = await rejection(t.client.apply('public', [doc({ ...volume('ws-clash'), workspace: 'other' })]))
    expect(elsewhere).toBeInstanceOf(ManifestError)
    expect(elsewhere.message).toContain('workspace "other"')
  })

  it('concurrent applies of 20 distinct contents give exactly 20 revisions and only clean 409s', async () => {
    const contents = Array.from({ length: 20 }, (_, i) => ({ ...volume('raced'), volume: { ...volume('raced').volume, size: `${i + 1}Gi` } }))
    const settled = await Promise.allSettled(contents.map((c) => t.client.apply('public', [doc(c)])))
    const failures = settled.filter((s) => s.status === 'rejected').map((s) => (s as PromiseRejectedResult).reason as CtlError)
    for (const f of failures) expect(f.code).toBe('E_CONFLICT')
    const outcomes = settled.filter((s) => s.status === 'fulfilled').map((s) => (s as PromiseFulfilledResult<{ results: { outcome: string }[] }>).value.results[0]!.outcome)
    expect(outcomes.filter((o) => o === 'created')).toHaveLength(1)
    const revisions = await t.client.revisions({ workspace: 'public', type: 'volume', name: 'raced' })
    expect(revisions).toHaveLength(outcomes.length)
    expect(revisions).toHaveLength(20)
    expect(revisions.map((r) => r.revision)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
  })

  it('refuses bodies over the limit with 413 in our error shape', async () => {
    const big = 'x'.repeat(9 * 1024 * 1024)
    const err = await rejection(t.client.apply('public', [doc({ ...volume('huge'), description: big })]))
    expect(err.code).toBe('E_TOO_LARGE')
    const res = await fetch(`${t.plane.url}/api/v1/workspaces/public/resources`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ documents: [{ description: big }] }),
    })
    expect(res.status).toBe(413)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('E_TOO_LARGE')
  })
})

describe('get, list and delete', () => {
  it('never returns secret values', async () => {
    const applied = await t.client.apply('public', [doc(secret('db-creds', { PASSWORD: 'hunter2-very-secret', USER: 'app' }))])
    expect(applied.results[0]!.outcome).toBe('created')
    const detail = await t.client.get({ workspace: 'public', type: 'secret', name: 'db-creds' })
    expect(JSON.stringify(detail)).not.toContain('hunter2-very-secret')
    expect((detail.manifest as { secret: { data: Record<string, string> } }).secret.data).toEqual({ PASSWORD: '***', USER: '***' })
    const dry = await t.client.apply('public', [doc(secret('db-creds', { PASSWORD: 'other-secret-value' }))], { dryRun: true })
    expect(JSON.stringify(dry)).not.toMatch(/hunter2|other-secret-value/)
  })

  it('lists with the RUNTIME column, by workspace, type and name', async () => {
    await t.client.apply('team-a', [doc(volume('only-in-a'))])
    const inA = await t.client.list({ workspace: 'team-a' })
    expect(inA.map((r) => r.name)).toEqual(['only-in-a'])
    expect(inA[0]).toMatchObject({ type: 'volume', workspace: 'team-a', status: expect.any(String), runtime: '' })
    const volumes = await t.client.list({ all: true, type: 'volume' })
    expect(volumes.map((r) => r.name)).toEqual(expect.arrayContaining(['only-in-a', 'cache']))
    expect(await t.client.list({ workspace: 'public', name: 'nothing-here' })).toEqual([])
    expect((await rejection(t.client.list({ type: 'gadget' }))).code).toBe('E_USAGE')
  })

  it('refuses to delete what a workflow uses, names the dependents, and deletes when forced', async () => {
    const wf = workflow('uses-things', { main: 'true' })
    const spec = wf.spec as { dag: { spec: Record<string, unknown> }[] }
    spec.dag[0]!.spec.use = {
      volumes: [{ id: 'shared', directory: '/data' }],
      projection: { secrets: [{ id: 'api', contextAlias: 'api' }] },
    }
    await t.client.apply('deps', [doc(volume('shared')), doc(secret('api', { TOKEN: 't' })), doc(wf)])
    const refused = await rejection(t.client.delete({ workspace: 'deps', type: 'volume', name: 'shared' }))
    expect(refused.code).toBe('E_CONFLICT')
    expect(refused.message).toContain('workflow uses-things in workspace deps')
    const refusedSecret = await rejection(t.client.delete({ workspace: 'deps', type: 'secret', name: 'api' }))
    expect(refusedSecret.code).toBe('E_CONFLICT')
    // Still there.
    expect((await t.client.get({ workspace: 'deps', type: 'volume', name: 'shared' })).resource.name).toBe('shared')

    const forced = await t.client.delete({ workspace: 'deps', type: 'volume', name: 'shared' }, { force: true })
    expect(forced.deleted).toMatchObject({ workspace: 'deps', type: 'volume', name: 'shared' })
    // Deleted, yet readable (its revisions, runs and logs stay): STATUS deleted; a second delete finds nothing.
    expect((await t.client.get({ workspace: 'deps', type: 'volume', name: 'shared' })).resource.status).toBe('deleted')
    expect((await rejection(t.client.delete({ workspace: 'deps', type: 'volume', name: 'shared' }))).code).toBe('E_NOT_FOUND')

    // Without dependents a delete just works.
    await t.client.delete({ workspace: 'deps', type: 'workflow', name: 'uses-things' })
    await t.client.delete({ workspace: 'deps', type: 'secret', name: 'api' })
  })

  it('keeps instance-level resources out of workspaces', async () => {
    const compute = { name: 'big-nodes', version: 'v1', type: 'compute', compute: { purpose: 'runnable', nodePool: { nodeSelector: { size: 'big' } } } }
    const res = await t.client.apply('public', [doc(compute)])
    expect(res.results[0]).toMatchObject({ workspace: null, outcome: 'created' })
    const viaInstance = await t.client.get({ workspace: null, type: 'compute', name: 'big-nodes' })
    expect(viaInstance.resource.workspace).toBeNull()
    // The client routes instance-level types to /instance/ whatever workspace it was given.
    expect((await t.client.get({ workspace: 'public', type: 'compute', name: 'big-nodes' })).resource.name).toBe('big-nodes')
    const wrong = await fetch(`${t.plane.url}/api/v1/instance/resources/workflow/x`, { headers: { authorization: `Bearer ${t.token}` } })
    expect(wrong.status).toBe(400)
    expect((await t.client.list({ type: 'compute' })).map((r) => r.name)).toContain('big-nodes')
  })
})
