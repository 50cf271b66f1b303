// Secrets and keys a workflow projects are checked at apply through the real API: a secret that exists
// nowhere, or a key it lacks, is a located E_SECRET issue (422) at apply and at the server dry run; a
// secret applied in the same request counts with the keys of its document; nothing is stored on refusal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { doc, rejection, startTestServer, waitForRunEnd, workflow, type TestServer } from './helpers.js'

let t: TestServer

beforeAll(async () => {
  t = await startTestServer()
})
afterAll(async () => {
  await t?.stop()
})

const secret = (name: string, data: Record<string, string>, type = 'secret') => ({ name, version: 'v1', type, secret: { type: 'key-value', acl: 'r', data } })

function consumer(name: string, secretRef: Record<string, unknown>, key: string): Record<string, unknown> {
  const wf = workflow(name, { use: 'test -n "$TOKEN" && echo got-it' })
  const step = (wf.spec as { dag: { spec: Record<string, unknown> }[] }).dag[0]!
  step.spec.use = {
    projection: {
      secrets: [{ ...secretRef, contextAlias: 's' }],
      projections: { envVars: [{ key: 'TOKEN', value: `{{.secrets.s.${key}}}` }] },
    },
  }
  return wf
}

interface Issue { file: string; path: string; code: string; message: string; document?: number }
const issuesOf = (e: { details?: Record<string, unknown> }): Issue[] => (e.details?.issues ?? []) as Issue[]

describe('secrets checked at apply', () => {
  it('refuses a secret that does not exist, at apply and at the server dry run, located at the reference', async () => {
    for (const dryRun of [false, true]) {
      const e = await rejection(t.client.apply('public', [doc(consumer('needs-missing', { id: 'nowhere' }, 'TOKEN'), 'wf.yaml')], { dryRun }))
      expect(e.code).toBe('E_SECRET')
      const issues = issuesOf(e)
      expect(issues).toHaveLength(1)
      expect(issues[0]).toMatchObject({ file: 'wf.yaml', code: 'E_SECRET', path: 'spec.dag[0].spec.use.projection.secrets[0].id' })
      expect(issues[0]!.message).toBe('secret "nowhere" not found in workspace "public"; apply a type: secret named "nowhere" first (or in the same apply)')
    }
    expect(await rejection(t.client.get({ workspace: 'public', type: 'workflow', name: 'needs-missing' }))).toMatchObject({ code: 'E_NOT_FOUND' })
  })

  it('refuses a key the stored secret lacks, located at the template, listing its key names (never values)', async () => {
    await t.client.apply('public', [doc(secret('stored', { TOKEN: 'v-1', OTHER: 'v-2' }))])
    for (const dryRun of [false, true]) {
      const e = await rejection(t.client.apply('public', [doc(consumer('needs-key', { id: 'stored' }, 'TOKN'), 'wf.yaml')], { dryRun }))
      expect(e.code).toBe('E_SECRET')
      const [issue] = issuesOf(e)
      expect(issue).toMatchObject({ path: 'spec.dag[0].spec.use.projection.projections.envVars[0].value' })
      expect(issue!.message).toBe('secret "stored" (alias "s") in workspace "public" has no key "TOKN"; its keys: TOKEN, OTHER')
      expect(JSON.stringify(e.details)).not.toContain('v-1')
    }
    const ok = await t.client.apply('public', [doc(consumer('needs-key', { id: 'stored' }, 'TOKEN'))])
    expect(ok.results[0]!.outcome).toBe('created')
    expect(ok.results[0]!.runId).toMatch(/^r-/)
    expect((await waitForRunEnd(t.client, ok.results[0]!.runId!)).run.state).toBe('succeeded')
  })

  it('counts a secret applied in the same request, with the keys of its document', async () => {
    const missingKey = await rejection(t.client.apply('public', [
      doc(consumer('batch-flow', { id: 'batch-secret' }, 'TOKEN'), 'wf.yaml', 0),
      doc(secret('batch-secret', { OTHER: 'x' }), 'secret.yaml', 1),
    ]))
    expect(issuesOf(missingKey).map((i) => i.message)).toEqual(['secret "batch-secret" (alias "s") in workspace "public" has no key "TOKEN"; its keys: OTHER'])
    expect(await rejection(t.client.get({ workspace: 'public', type: 'secret', name: 'batch-secret' }))).toMatchObject({ code: 'E_NOT_FOUND' })

    const dry = await t.client.apply('public', [doc(consumer('batch-flow', { id: 'batch-secret' }, 'TOKEN')), doc(secret('batch-secret', { TOKEN: 'x' }), 'secret.yaml', 1)], { dryRun: true })
    expect(dry.results.map((r) => r.outcome)).toEqual(['created', 'created'])
    const applied = await t.client.apply('public', [doc(consumer('batch-flow', { id: 'batch-secret' }, 'TOKEN')), doc(secret('batch-secret', { TOKEN: 'x' }), 'secret.yaml', 1)])
    expect((await waitForRunEnd(t.client, applied.results[0]!.runId!)).run.state).toBe('succeeded')
    // Deterministically, not only when the timing allows: the run was made after the secret was stored (ids of one
    // process are time-ordered and strictly increasing), although the workflow comes first in the request.
    const created = await t.client.apply('public', [doc(consumer('batch-flow-2', { id: 'batch-secret-2' }, 'TOKEN')), doc(secret('batch-secret-2', { TOKEN: 'y' }), 'secret.yaml', 1)])
    const secretId = (await t.client.get({ workspace: 'public', type: 'secret', name: 'batch-secret-2' })).resource.id
    const stamp = (id: string) => id.slice(id.indexOf('-') + 1, id.indexOf('-') + 10)
    expect(stamp(created.results[0]!.runId!) > stamp(secretId)).toBe(true)
    expect((await waitForRunEnd(t.client, created.results[0]!.runId!)).run.state).toBe('succeeded')
  })

  it('looks for a secret of another workspace in that workspace', async () => {
    await t.client.createWorkspace({ name: 'other' })
    const e = await rejection(t.client.apply('public', [doc(consumer('needs-other', { id: 'elsewhere', workspace: 'other' }, 'TOKEN'), 'wf.yaml')]))
    expect(issuesOf(e)[0]!.message).toContain('secret "elsewhere" not found in workspace "other"')
    await t.client.apply('other', [doc(secret('elsewhere', { TOKEN: 'o' }))])
    const ok = await t.client.apply('public', [doc(consumer('needs-other', { id: 'elsewhere', workspace: 'other' }, 'TOKEN'))])
    expect(ok.results[0]!.outcome).toBe('created')
  })

  it('tells nothing of a secret\'s keys for a workflow the caller may not apply as it declared it (its owner): 403', async () => {
    await t.client.apply('public', [doc(secret('guarded', { HIDDEN_KEY_NAME: 'g-1' }))])
    await t.client.createUser({ id: 'mallory', name: 'Mallory', type: 'person' })
    await t.client.addTag('mallory', { tag: 'roles:id:data-dev', workspace: 'public' })
    const key = await t.client.createApiKey('mallory', { name: 'k' })
    const mallory = new CtlClient({ baseUrl: t.plane.url, apiKey: key.token })
    // Declares an owner it may not set, and reads a key the secret lacks: the answer is the refusal, not the key list.
    const wf = { ...consumer('on-behalf', { id: 'guarded' }, 'NOPE'), owner: 'admin' }
    const e = await rejection(mallory.apply('public', [doc(wf, 'wf.yaml')]))
    expect(e.code).toBe('E_FORBIDDEN')
    expect(JSON.stringify(e)).not.toContain('HIDDEN_KEY_NAME')
  })
})
