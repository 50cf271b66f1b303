// Labels and selectors, revisions and rollback, and spec.dependencies, through the real HTTP API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { doc, rejection, startTestServer, waitForRunEnd, workflow, type TestServer } from './helpers.js'

let t: TestServer

beforeAll(async () => {
  t = await startTestServer()
})
afterAll(async () => {
  await t?.stop()
})

const vol = (name: string, labels?: Record<string, string>, tags?: string[]) => ({
  name, version: 'v1beta', type: 'volume', ...(labels ? { labels } : {}), ...(tags ? { tags } : {}),
  volume: { size: '1Gi', accessMode: 'ReadWriteOnce', type: 'temp' },
})

describe('labels and selectors', () => {
  it('stores labels, filters on the server with kubectl selectors and tags', async () => {
    await t.client.apply('public', [
      doc(vol('v-core-prod', { team: 'core', env: 'prod' }, ['batch'])),
      doc(vol('v-core-dev', { team: 'core', env: 'dev' }), 'v.yaml', 1),
      doc(vol('v-web', { team: 'web', 'example.com/tier': 'gold' }, ['batch', 'nightly']), 'v.yaml', 2),
      doc(vol('v-plain'), 'v.yaml', 3),
    ])
    const names = async (q: { labelSelector?: string; tags?: string }) => (await t.client.list({ type: 'volume', ...q })).map((r) => r.name).sort()
    expect(await names({ labelSelector: 'team=core,env!=dev' })).toEqual(['v-core-prod'])
    expect(await names({ labelSelector: 'team in (core,web)' })).toEqual(['v-core-dev', 'v-core-prod', 'v-web'])
    expect(await names({ labelSelector: 'team notin (core)' })).toEqual(['v-plain', 'v-web'])
    expect(await names({ labelSelector: 'example.com/tier' })).toEqual(['v-web'])
    expect(await names({ labelSelector: '!team' })).toEqual(['v-plain'])
    expect(await names({ labelSelector: 'env==dev' })).toEqual(['v-core-dev'])
    expect(await names({ tags: 'batch' })).toEqual(['v-core-prod', 'v-web'])
    expect(await names({ tags: 'batch,nightly', labelSelector: 'team=web' })).toEqual(['v-web'])
    const table = await t.client.listTableText({ type: 'volume', labelSelector: 'env=prod' })
    expect(String(table)).toContain('v-core-prod')
    expect(String(table)).not.toContain('v-web')
    expect(((await t.client.get({ workspace: 'public', type: 'volume', name: 'v-web' })).manifest as { meta: { labels: unknown } }).meta.labels).toEqual({ team: 'web', 'example.com/tier': 'gold' })
    const bad = await rejection(t.client.list({ labelSelector: 'team in core' }))
    expect(bad.code).toBe('E_USAGE')
  })

  it('refuses bad label keys and values, located', async () => {
    const e = await rejection(t.client.apply('public', [doc(vol('v-bad', { 'Bad Key': 'x', ok: 'y'.repeat(64) }), 'bad.yaml')]))
    expect(e.code).toBe('E_LABEL')
    const issues = (e.details?.issues ?? []) as { path: string; message: string }[]
    expect(issues.map((i) => i.path)).toEqual(['labels.Bad Key', 'labels.ok'])
  })

  it('a resource without labels keeps its content hash (re-applied unchanged)', async () => {
    const res = await t.client.apply('public', [doc(vol('v-plain'))])
    expect(res.results[0]!.outcome).toBe('unchanged')
  })
})

describe('revisions and rollback', () => {
  const ref = { workspace: 'public', type: 'workflow', name: 'rolled' } as const
  it('get --revision N shows an old manifest; rollback applies it as a new revision, audited; the same twice is unchanged', async () => {
    const r1 = await t.client.apply('public', [doc(workflow('rolled', { main: 'echo one' }))])
    await waitForRunEnd(t.client, r1.results[0]!.runId!)
    const r2 = await t.client.apply('public', [doc(workflow('rolled', { main: 'echo two' }))])
    await waitForRunEnd(t.client, r2.results[0]!.runId!)
    const old = await t.client.get(ref, { revision: 1 })
    expect(old.shownRevision).toBe(1)
    expect(JSON.stringify(old.manifest)).toContain('echo one')
    expect(old.resource.revision).toBe(2)
    expect((await rejection(t.client.get(ref, { revision: 9 }))).code).toBe('E_NOT_FOUND')

    const dry = await t.client.rollback(ref, 1, { dryRun: true })
    expect(dry).toMatchObject({ outcome: 'updated', revision: 3, toRevision: 1, dryRun: true })
    expect((await t.client.get(ref)).resource.revision).toBe(2)

    const back = await t.client.rollback(ref, 1)
    expect(back).toMatchObject({ outcome: 'updated', revision: 3, toRevision: 1 })
    expect(JSON.stringify((await t.client.get(ref)).manifest)).toContain('echo one')
    const run = await waitForRunEnd(t.client, back.runId!)
    expect(run.run.revision).toBe(3)
    const again = await t.client.rollback(ref, 3)
    expect(again).toMatchObject({ outcome: 'unchanged', revision: 3 })
    const audit = (await t.client.audit({ limit: 10 })).filter((e) => e.action === 'rollback')
    expect(audit.some((e) => e.target === 'workflow/public/rolled' && e.result === 'ok' && (e.detail as { toRevision?: number }).toRevision === 1)).toBe(true)
    expect((await rejection(t.client.rollback(ref, 42))).code).toBe('E_NOT_FOUND')
  })

  it('needs update on the resource', async () => {
    await t.client.createUser({ id: 'rb-viewer', name: 'Viewer', type: 'person' })
    await t.client.addTag('rb-viewer', { tag: 'roles:id:operator', workspace: 'public' })
    const key = await t.client.createApiKey('rb-viewer', { name: 'k' })
    const { CtlClient } = await import('../../src/client/client.js')
    const viewer = new CtlClient({ baseUrl: t.plane.url, apiKey: key.token })
    expect((await rejection(viewer.rollback(ref, 1))).code).toBe('E_FORBIDDEN')
  })
})

describe('rollback checks the old revision as an apply would', () => {
  it('a manage grantee cannot borrow the owner\'s secret by rolling back; a dependency gone since is refused', async () => {
    const projecting = workflow('borrowed', { main: 'test -n "$T"' })
    ;(projecting.spec as { dag: { spec: Record<string, unknown> }[] }).dag[0]!.spec.use = {
      projection: { secrets: [{ id: 'owner-secret', contextAlias: 's' }], projections: { envVars: [{ key: 'T', value: '{{.secrets.s.K}}' }] } },
    }
    const first = await t.client.apply('public', [
      doc({ name: 'owner-secret', version: 'v1', type: 'secret', secret: { type: 'key-value', acl: 'r', data: { K: 'v' } } }),
      doc(projecting, 'b.yaml', 1),
    ])
    await waitForRunEnd(t.client, first.results[1]!.runId!)
    const second = await t.client.apply('public', [doc(workflow('borrowed', { main: 'true' }))])
    await waitForRunEnd(t.client, second.results[0]!.runId!)
    const ref = { workspace: 'public', type: 'workflow', name: 'borrowed' } as const
    await t.client.createUser({ id: 'rb-grantee', name: 'Grantee', type: 'person' })
    await t.client.grant(ref, { to: 'user:rb-grantee', permission: 'manage' })
    const { CtlClient } = await import('../../src/client/client.js')
    const grantee = new CtlClient({ baseUrl: t.plane.url, apiKey: (await t.client.createApiKey('rb-grantee', { name: 'k' })).token })
    const refused = await rejection(grantee.rollback(ref, 1))
    expect(refused.code).toBe('E_FORBIDDEN')
    expect(refused.message).toContain('owner-secret')
    expect((await t.client.get(ref)).resource.revision).toBe(2)

    const r1 = await t.client.apply('public', [doc(vol('soon-gone')), doc(workflow('leans', { main: 'true' }, { dependencies: ['volume:soon-gone'] }), 'l.yaml', 1)])
    await waitForRunEnd(t.client, r1.results[1]!.runId!)
    const r2 = await t.client.apply('public', [doc(workflow('leans', { main: 'true' }))])
    await waitForRunEnd(t.client, r2.results[0]!.runId!)
    await t.client.delete({ workspace: 'public', type: 'volume', name: 'soon-gone' }, { force: true })
    const gone = await rejection(t.client.rollback({ workspace: 'public', type: 'workflow', name: 'leans' }, 1))
    expect(gone.code).toBe('E_UNKNOWN_DEPENDENCY')
    expect(gone.message).toContain('volume soon-gone does not exist')
  })
})

describe('spec.dependencies', () => {
  it('apply refuses a workflow whose listed resources do not exist, naming each, located; the same batch counts', async () => {
    const wf = workflow('needs-deps', { main: 'true' }, { dependencies: ['secret:dep-secret', 'volume:dep-vol', 'upstream', 'compute:nowhere'] })
    const e = await rejection(t.client.apply('public', [doc(wf, 'deps.yaml')]))
    expect(e.code).toBe('E_UNKNOWN_DEPENDENCY')
    const issues = (e.details?.issues ?? []) as { path: string; message: string; line: number }[]
    expect(issues.map((i) => i.path)).toEqual(['spec.dependencies[0]', 'spec.dependencies[1]', 'spec.dependencies[2]', 'spec.dependencies[3]'])
    expect(issues[2]!.message).toBe('dependency "upstream": workflow upstream does not exist in workspace public; apply it first (or in the same apply)')
    expect(issues[3]!.message).toContain('compute nowhere does not exist on this instance')
    // Applied together (and runnable-default is a compute that exists once applied).
    const ok = await t.client.apply('public', [
      doc({ name: 'dep-secret', version: 'v1', type: 'secret', secret: { type: 'key-value', acl: 'r', data: { A: 'b' } } }),
      doc(vol('dep-vol'), 'v.yaml', 1),
      doc(workflow('upstream', { main: 'true' }), 'u.yaml', 2),
      doc(workflow('needs-deps', { main: 'true' }, { dependencies: ['secret:dep-secret', 'volume:v1beta:dep-vol:public', 'upstream'] }), 'deps.yaml', 3),
    ])
    expect(ok.results.map((r) => r.outcome)).toEqual(['created', 'created', 'created', 'created'])
    const other = await rejection(t.client.apply('public', [doc(workflow('peeks', { main: 'true' }, { dependencies: ['secret:v1:x:other-ws'] }))]))
    expect(other.message).toContain("only resources of the workflow's own workspace")
    const form = await rejection(t.client.apply('public', [doc(workflow('badform', { main: 'true' }, { dependencies: ['gizmo:x'] }))]))
    expect(form.message).toContain('unknown type "gizmo"')
  })
})
