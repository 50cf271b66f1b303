// Run params through the API on a real server: POST runs takes {params} (unknown body fields are
// refused, never dropped), params are resolved against the revision's declarations (422 naming the
// param), stored with the run and answered with secret ones masked; apply carries them to its run.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openTestStore } from '../support/store.js'
import { doc, rejection, startTestServer, waitForRunEnd, workflow, type TestServer } from './helpers.js'

let t: TestServer

beforeAll(async () => {
  t = await startTestServer()
})
afterAll(async () => {
  await t?.stop()
})

const ref = (name: string) => ({ workspace: 'public', type: 'workflow', name })
const PARAMS = [
  { name: 'environment', type: 'string', enum: ['staging', 'production'], default: 'staging' },
  { name: 'version', type: 'string', required: true },
  { name: 'replicas', type: 'integer', default: 1 },
  { name: 'token', type: 'string', default: 'none', secret: true },
]
const withParams = (name: string, extra: Record<string, unknown> = {}) => workflow(name, { a: 'echo hi' }, { params: PARAMS, ...extra })

async function post(path: string, body: unknown): Promise<{ status: number; json: { error?: { code: string; message: string } } & Record<string, unknown> }> {
  const res = await fetch(`${t.plane.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return { status: res.status, json: (await res.json()) as never }
}

describe('POST .../runs with params', () => {
  beforeAll(async () => {
    // Required param, none given: applied, no run, and the answer says why.
    const applied = await t.client.apply('public', [doc(withParams('deploy'))])
    expect(applied.results[0]!.runId).toBeUndefined()
    expect(applied.results[0]!.note).toMatch(/^no run started: param "version" is required.*runtime run -t workflow -n deploy --param/)
  })

  it('starts a run with the params resolved (defaults filled in), secret ones masked in every answer', async () => {
    const run = await t.client.runNow(ref('deploy'), { version: '1.2.3', replicas: 3, token: 's3cr3t' })
    const want = { environment: 'staging', version: '1.2.3', replicas: 3, token: '***' }
    expect(run.params).toEqual(want)
    const detail = await waitForRunEnd(t.client, run.id)
    expect(detail.run.state).toBe('succeeded')
    expect(detail.run.params).toEqual(want)
    expect((await t.client.runs(ref('deploy')))[0]!.params).toEqual(want)
    expect((await t.client.node(run.id, 'a')).run.params).toEqual(want)
    for await (const d of t.client.watchRun(run.id)) expect(d.run.params).toEqual(want)
    // Sealed at rest like a secret's values: the row holds ciphertext, the database files never the value.
    const store = await openTestStore(t.dataDir)
    try {
      const stored = (await store.getRun(run.id))!.params!
      expect(stored.version).toBe('1.2.3')
      expect(String(stored.token)).toMatch(/^enc:v1:/)
    } finally {
      await store.close()
    }
    for (const f of ['ctl.db', 'ctl.db-wal']) {
      if (existsSync(join(t.dataDir, f))) expect(readFileSync(join(t.dataDir, f)).includes('s3cr3t'), f).toBe(false)
    }
  })

  it('a step reads a secret param in clear, its log shows it redacted, and a retry opens and seals it again', async () => {
    const script = 'if [ "{{.params.token}}" = "t0p-s3cr3t-v4lue" ]; then echo "token ok"; fi; echo "the token is {{.params.token}}"; exit 3'
    await t.client.apply('public', [doc(workflow('sealed-param', { a: script }, { params: [{ name: 'token', type: 'string', required: true, secret: true }] }))])
    const first = await t.client.runNow(ref('sealed-param'), { token: 't0p-s3cr3t-v4lue' })
    expect((await waitForRunEnd(t.client, first.id)).run.state).toBe('failed')
    const retried = await t.client.retry(ref('sealed-param'), first.id)
    expect(retried.params).toEqual({ token: '***' })
    expect((await waitForRunEnd(t.client, retried.id)).run.state).toBe('failed')
    for (const id of [first.id, retried.id]) {
      const text = (await t.client.logPage(id)).map((l) => l.text)
      expect(text).toContain('token ok')
      expect(text.join('\n')).not.toContain('t0p-s3cr3t-v4lue')
      expect(text.filter((l) => l.startsWith("the token is ")), JSON.stringify(text)).toHaveLength(1)
    }
  })

  it('answers 422 naming the param: missing required, wrong type, unknown, not in the enum', async () => {
    for (const [params, named] of [
      [{}, 'version'],
      [{ version: 1 }, 'version'],
      [{ version: '1', replicas: 'three' }, 'replicas'],
      [{ version: '1', nope: true }, 'nope'],
      [{ version: '1', environment: 'qa' }, 'environment'],
    ] as const) {
      const { status, json } = await post('/api/v1/workspaces/public/resources/workflow/deploy/runs', { params })
      expect(status, JSON.stringify(params)).toBe(422)
      expect(json.error!.code).toBe('E_PARAMS')
      expect(json.error!.message).toContain(`"${named}"`)
    }
  })

  it('refuses an unknown body field (400 naming it) instead of dropping it', async () => {
    const { status, json } = await post('/api/v1/workspaces/public/resources/workflow/deploy/runs', { input: { version: '1' } })
    expect(status).toBe(400)
    expect(json.error!.code).toBe('E_USAGE')
    expect(json.error!.message).toContain('unknown field "input"')
    const notObject = await post('/api/v1/workspaces/public/resources/workflow/deploy/runs', { params: ['version=1'] })
    expect(notObject.status).toBe(400)
  })

  it('bounds the params: 64 KiB of JSON at most', async () => {
    const { status, json } = await post('/api/v1/workspaces/public/resources/workflow/deploy/runs', { params: { version: 'x'.repeat(70 * 1024) } })
    expect(status).toBe(413)
    expect(json.error!.message).toContain('at most 65536')
  })

  it('a workflow without params still runs with an empty or absent body; params it does not declare are refused', async () => {
    await t.client.apply('public', [doc(workflow('plain', { a: 'echo hi' }))])
    const run = await t.client.runNow(ref('plain'))
    expect(run.params).toBeUndefined()
    const err = await rejection(t.client.runNow(ref('plain'), { version: '1' }))
    expect(err.code).toBe('E_PARAMS')
    expect(err.message).toContain('unknown param "version": the workflow declares no params')
  })

  it('retry keeps the params of the run it retries', async () => {
    await t.client.apply('public', [doc(workflow('flaky', { a: 'exit 3' }, { params: PARAMS }))])
    const run = await t.client.runNow(ref('flaky'), { version: '7' })
    expect((await waitForRunEnd(t.client, run.id)).run.state).toBe('failed')
    const retry = await t.client.retry(ref('flaky'), run.id)
    expect(retry.params).toEqual({ environment: 'staging', version: '7', replicas: 1, token: '***' })
  })
})

describe('apply with params', () => {
  it('the run the apply starts gets them; the answer shows them (secret masked)', async () => {
    const res = await t.client.apply('public', [doc(withParams('applied'))], { params: { version: '2.0.0', token: 'tok' } })
    const item = res.results[0]!
    expect(item.runId).toBeDefined()
    expect(item.params).toEqual({ environment: 'staging', version: '2.0.0', replicas: 1, token: '***' })
    expect((await t.client.run(item.runId!)).run.params).toEqual(item.params)
  })

  it('refuses params that do not resolve (422) and stores nothing', async () => {
    const err = await rejection(t.client.apply('public', [doc(withParams('refused'))], { params: { version: 5 } }))
    expect(err.code).toBe('E_PARAMS')
    expect(err.message).toContain('"version"')
    expect(await t.client.list({ workspace: 'public', type: 'workflow', name: 'refused' })).toEqual([])
  })

  it('params go to one unscheduled workflow', async () => {
    const two = await rejection(t.client.apply('public', [doc(withParams('one')), doc(withParams('two'), 'test.yaml', 1)], { params: { version: '1' } }))
    expect(two.code).toBe('E_USAGE')
    expect(two.message).toContain('this apply has 2 (one, two)')
    const cron = withParams('cron', { schedule: { crons: ['0 0 * * *'] } })
    ;(cron.spec as { params: unknown[] }).params = [{ name: 'version', type: 'string', default: '1' }]
    const scheduled = await rejection(t.client.apply('public', [doc(cron)], { params: { version: '2' } }))
    expect(scheduled.code).toBe('E_PARAMS')
    expect(scheduled.message).toContain('is scheduled')
  })

  it('a server dry run checks the params and shows them with the Pods of the run, storing nothing', async () => {
    const fanned = workflow('dry', {}, {
      params: PARAMS,
      dag: [
        { name: 'say', spec: { stack: 'script', stackSpec: { interpreter: 'sh', script: 'echo {{.params.version}} {{.params.token}}' } } },
        { name: 'each', forEach: { items: ['x', 'y'] }, spec: { stack: 'script', stackSpec: { interpreter: 'sh', script: 'echo {{.item}}' } } },
      ],
    })
    const res = await t.client.apply('public', [doc(fanned)], { dryRun: true, params: { version: '3', environment: 'production', token: 'tok-value' } })
    expect(res.results[0]!.params).toEqual({ environment: 'production', version: '3', replicas: 1, token: '***' })
    const steps = res.results[0]!.steps!
    expect(steps.map((s) => [s.step, s.instance, s.note])).toEqual([['say', undefined, undefined], ['each', 'each-0', 'example instance 1 of 2 (item "x")']])
    expect(JSON.stringify(steps[0]!.configMap ?? steps[0]!.pod)).toContain('echo 3 <secret:params/token>')
    expect(JSON.stringify(steps)).not.toContain('tok-value')
    const bad = await rejection(t.client.apply('public', [doc(withParams('dry'))], { dryRun: true, params: { version: '3', environment: 'prod' } }))
    expect(bad.code).toBe('E_PARAMS')
    expect(await t.client.list({ workspace: 'public', type: 'workflow', name: 'dry' })).toEqual([])
  })
})
