// Bounded input through the API: what lint refuses is a 422 with located issues; durations in requests that
// overflow a Date are a 400; never a 500.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { doc, rejection, startTestServer, workflow, type TestServer } from './helpers.js'

let t: TestServer

beforeAll(async () => {
  t = await startTestServer({ maxStepsPerWorkflow: 3 })
})
afterAll(async () => {
  await t?.stop()
})

async function raw(method: string, path: string, body?: unknown): Promise<{ status: number; body: { error?: { code: string; message: string; issues?: { code: string; path: string }[] } } }> {
  const res = await fetch(`${t.plane.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${t.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as never }
}

describe('bounds through the API', () => {
  it('a timeout past the bound is a located 422 (it used to overflow the step timer)', async () => {
    const wf = workflow('slow', { a: 'true' })
    ;(wf['spec'] as { dag: Record<string, unknown>[] }).dag[0]!['timeout'] = '999999h'
    const r = await raw('POST', '/api/v1/workspaces/public/resources', { documents: [doc(wf)] })
    expect(r.status).toBe(422)
    expect(r.body.error?.issues?.map((i) => [i.code, i.path])).toEqual([['E_LIMIT', 'spec.dag[0].timeout']])
  })

  it('steps per workflow follow the server setting', async () => {
    const err = await rejection(t.client.apply('public', [doc(workflow('wide', { a: 'true', b: 'true', c: 'true', d: 'true' }))], { dryRun: true }))
    expect(err.code).toBe('E_LIMIT')
    expect(err.message).toContain('the workflow has 4 steps; at most 3 are allowed in one workflow')
    const ok = await t.client.apply('public', [doc(workflow('narrow', { a: 'true', b: 'true', c: 'true' }))], { dryRun: true })
    expect(ok.results).toHaveLength(1)
  })

  it('a NUL byte and a reserved variable are refused with 422', async () => {
    const wf = workflow('nul', { a: 'echo \u0000' })
    const r = await raw('POST', '/api/v1/workspaces/public/resources', { documents: [wf] })
    expect(r.status).toBe(422)
    const env = workflow('env', { a: 'true' })
    ;((env['spec'] as { dag: { spec: Record<string, unknown> }[] }).dag[0]!.spec)['envs'] = { CTL_SERVER: 'http://elsewhere' }
    expect((await raw('POST', '/api/v1/workspaces/public/resources', { documents: [env] })).status).toBe(422)
  })

  it('an API key expiry or an audit `since` past any date is a 400, not a 500', async () => {
    const key = await raw('POST', '/api/v1/users/admin/apikeys', { expiresIn: '99999999999999d' })
    expect([key.status, key.body.error?.code]).toEqual([400, 'E_USAGE'])
    expect(key.body.error?.message).toMatch(/too long/)
    const audit = await raw('GET', '/api/v1/audit?since=99999999999999d')
    expect([audit.status, audit.body.error?.code]).toEqual([400, 'E_USAGE'])
    const far = await raw('GET', '/api/v1/audit?since=%2B275760-09-13T00:00:00.001Z')
    expect(far.status).toBe(400)
  })

  it('an over-long or malformed path segment is answered in our error shape, without echoing the URL (found by the API fuzz test)', async () => {
    const long = await raw('GET', `/api/v1/users/${'a'.repeat(5000)}`)
    expect([long.status, long.body.error?.code]).toEqual([414, 'E_TOO_LARGE'])
    expect(long.body.error?.message).toBe('a path segment is longer than 100 characters')
    const bad = await raw('GET', '/api/v1/users/%E0%A4%A')
    expect([bad.status, bad.body.error?.code]).toEqual([400, 'E_USAGE'])
  })

  it('a manifest whose type or version String() cannot convert is a 422, not a 500 (found by the lint fuzz test)', async () => {
    const r = await raw('POST', '/api/v1/workspaces/public/resources?dryRun=true', { documents: [{ name: 'x', version: { toString: 1 }, type: { toString: 1 } }] })
    expect(r.status).toBe(422)
    expect(r.body.error?.issues?.map((i) => i.code)).toEqual(['E_UNKNOWN_TYPE'])
  })
})
