// Webhook triggers through the real HTTP server: a signed request starts a run with the mapped params;
// wrong, missing, replayed and stale signatures and unknown hooks are refused, audited and counted per
// address; a rate-limited address costs no HMAC work and does not hold up good callers elsewhere.
import { request as httpRequest } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hookStats, signHook } from '../../src/http/hook-guard.js'
import { doc, rejection, startTestServer, waitForRunEnd, workflow, type TestServer } from './helpers.js'

let t: TestServer
const KEY = 'k3y-for-tests'

beforeAll(async () => {
  t = await startTestServer({ authLimits: { maxFailures: 10, windowMs: 60_000 } })
  await t.client.apply('public', [
    doc({ name: 'release-hook', version: 'v1', type: 'secret', secret: { type: 'key-value', acl: 'r', data: { HMAC_KEY: KEY } } }),
    doc(workflow('deploy', { main: 'echo "deploying {{.params.version}} for $GREETING"' }, {
      params: [{ name: 'version', type: 'string', required: true }, { name: 'count', type: 'integer', default: 1 }],
      triggers: [{ name: 'on-release', webhook: { secret: 'release-hook', params: { version: 'body.release.tag_name', count: 'size(body.assets)' } } }],
    }), 'deploy.yaml', 1),
  ])
})
afterAll(async () => {
  await t?.stop()
})

interface Answer { status: number; body: Record<string, unknown> }

/** One POST from `localAddress` (127.0.0.1 by default): loopback has the whole 127/8, so tests can be two callers. */
function post(path: string, body: string, headers: Record<string, string>, localAddress = '127.0.0.1'): Promise<Answer> {
  const url = new URL(path, t.plane.url)
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', localAddress, agent: false,
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

const HOOK = '/api/v1/hooks/public/deploy/on-release'
const now = () => String(Math.floor(Date.now() / 1000))
function signed(body: string, ts = now(), key = KEY): Record<string, string> {
  return { 'x-ctl-timestamp': ts, 'x-ctl-signature': `sha256=${signHook(key, ts, body)}` }
}
let n = 0
const payload = (tag = `v1.${++n}`) => JSON.stringify({ release: { tag_name: tag }, assets: [1, 2, 3] })

describe('webhook triggers', () => {
  it('a valid signature starts a run of the owner with the mapped params and trigger webhook:NAME', async () => {
    const body = payload('v2.0.0')
    const res = await post(HOOK, body, signed(body))
    expect(res.status).toBe(202)
    const runId = res.body.runId as string
    const detail = await waitForRunEnd(t.client, runId)
    expect(detail.run.trigger).toBe('webhook:on-release')
    expect(detail.run.state).toBe('succeeded')
    expect(detail.run.params).toEqual({ version: 'v2.0.0', count: 3 })
    const audit = (await t.client.audit({ limit: 20 })).find((e) => e.action === 'webhook' && e.result === 'ok')
    expect(audit).toMatchObject({ actor: 'webhook:on-release', target: 'workflow/public/deploy' })
  })

  it('refuses wrong, missing, replayed and stale signatures (401) and unknown hooks (404), audited', async () => {
    const addr = '127.0.0.3'
    const body = payload()
    const wrong = await post(HOOK, body, signed(body, now(), 'not-the-key'), addr)
    expect(wrong.status).toBe(401)
    expect(await post(HOOK, body, {}, addr)).toMatchObject({ status: 401 })
    // The timestamp is signed: the same signature with another timestamp does not match.
    const good = signed(body)
    expect(await post(HOOK, body, { ...good, 'x-ctl-timestamp': String(Number(good['x-ctl-timestamp']) + 1) }, addr)).toMatchObject({ status: 401 })
    const first = await post(HOOK, body, good, addr)
    expect(first.status).toBe(202)
    const replay = await post(HOOK, body, good, addr)
    expect(replay.status).toBe(401)
    expect(String((replay.body.error as { message: string }).message)).toMatch(/already used/)
    const stale = String(Math.floor(Date.now() / 1000) - 6 * 60)
    expect(await post(HOOK, body, signed(body, stale), addr)).toMatchObject({ status: 401 })
    // The body is signed too.
    expect(await post(HOOK, payload('v9'), good, addr)).toMatchObject({ status: 401 })
    const unknown = await post('/api/v1/hooks/public/deploy/nope', body, signed(body), addr)
    expect(unknown.status).toBe(404)
    expect(JSON.stringify(unknown.body)).not.toContain(KEY)
    const entries = (await t.client.audit({ limit: 50 })).filter((e) => e.action === 'webhook' && (e.detail as { address?: string } | undefined)?.address === addr)
    expect(entries.filter((e) => e.result === 'unauthenticated').length).toBeGreaterThanOrEqual(6)
    expect(entries.some((e) => e.result === 'error' && (e.detail as { status?: number }).status === 404)).toBe(true)
    await waitForRunEnd(t.client, first.body.runId as string)
  })

  it('a mapping error is 422 with the message, audited, and starts nothing', async () => {
    const body = JSON.stringify({ release: {}, assets: [] })
    const res = await post(HOOK, body, signed(body), '127.0.0.4')
    expect(res.status).toBe(422)
    expect((res.body.error as { message: string }).message).toMatch(/param "version"/)
    const entry = (await t.client.audit({ limit: 50 })).find((e) => e.action === 'webhook' && (e.detail as { address?: string } | undefined)?.address === '127.0.0.4')
    expect(entry).toMatchObject({ result: 'error', detail: { status: 422, code: 'E_EXPR' } })
  })

  it('a delivery that made no run is not marked used: its redelivery is judged again, not refused as a replay', async () => {
    // The run cannot be made (a mapping error here; a store blip does the same): the sender retries the very request.
    const body = JSON.stringify({ release: {}, assets: [] })
    const headers = signed(body)
    expect((await post(HOOK, body, headers, '127.0.0.6')).status).toBe(422)
    const again = await post(HOOK, body, headers, '127.0.0.6')
    expect(again.status).toBe(422)
    expect((again.body.error as { message: string }).message).not.toMatch(/already used/)
  })

  it('signs the raw bytes whatever the content type (none, text, form): the signature holds, the mapping decides', async () => {
    for (const type of [undefined, 'text/plain', 'application/x-www-form-urlencoded']) {
      const body = `release=${type ?? 'none'}` // a new body each time: the same signature again would be a replay
      const headers: Record<string, string> = { ...signed(body), ...(type ? { 'content-type': type } : {}) }
      const res = await new Promise<number>((resolve, reject) => {
        const url = new URL(HOOK, t.plane.url)
        const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', localAddress: '127.0.0.9', agent: false,
          headers: { 'content-length': String(body.length), ...headers } }, (r) => {
          r.resume()
          r.on('end', () => resolve(r.statusCode ?? 0))
        })
        req.on('error', reject)
        req.end(body)
      })
      // Not JSON: `body` is the text, which has no field "release" → 422 after the signature was accepted.
      expect(res, String(type)).toBe(422)
    }
  })

  it('1,000 bad requests from one address: it is limited (429, no HMAC work) while another address keeps getting 202', async () => {
    const bad = '127.0.0.5'
    const good = '127.0.0.6'
    const statuses = new Map<number, number>()
    let hmacWhenLimited = -1
    for (let i = 0; i < 1000; i++) {
      const body = payload()
      if (i === 20) hmacWhenLimited = hookStats.hmac
      const res = await post(HOOK, body, signed(body, now(), 'wrong'), bad)
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
      if (i % 100 === 50) {
        const ok = payload()
        expect((await post(HOOK, ok, signed(ok), good)).status).toBe(202)
      }
    }
    expect(statuses.get(401)).toBe(10)
    expect(statuses.get(429)).toBe(990)
    const limited = (await t.client.audit({ limit: 5 })).find((e) => e.action === 'webhook' && e.result === 'rate-limited')
    expect(limited).toMatchObject({ actor: 'anonymous', target: 'workflow/public/deploy', detail: { address: bad, trigger: 'on-release', status: 429 } })
    // The server signs nothing for a limited address: only the good caller's requests (and ours, to sign) cost an HMAC.
    // Each good request costs two (the test signs it, the server checks it), each bad one one (the test signs it).
    const spent = hookStats.hmac - hmacWhenLimited
    expect(spent).toBe(980 + 10 * 2)
    // Even an oversized body from the limited address is refused before it is read.
    expect((await post(HOOK, 'x'.repeat(300 * 1024), {}, bad)).status).toBe(429)
    expect((await post(HOOK, 'x'.repeat(300 * 1024), {}, '127.0.0.7')).status).toBe(413)
  }, 120_000)

  it('the run is the owner\'s: once the owner may no longer run the workflow, the hook starts nothing (403)', async () => {
    await t.client.createUser({ id: 'hook-owner', name: 'Owner', type: 'person' })
    await t.client.addTag('hook-owner', { tag: 'roles:id:data-dev', workspace: 'public' })
    const { CtlClient } = await import('../../src/client/client.js')
    const owner = new CtlClient({ baseUrl: t.plane.url, apiKey: (await t.client.createApiKey('hook-owner', { name: 'k' })).token })
    const applied = await owner.apply('public', [
      doc({ name: 'owned-hook', version: 'v1', type: 'secret', secret: { type: 'key-value', acl: 'r', data: { HMAC_KEY: KEY } } }),
      doc(workflow('owned', { main: 'true' }, { triggers: [{ name: 'go', webhook: { secret: 'owned-hook' } }] }), 'o.yaml', 1),
    ])
    await waitForRunEnd(t.client, applied.results[1]!.runId!)
    const path = '/api/v1/hooks/public/owned/go'
    const first = await post(path, '{}', signed('{}'), '127.0.0.8')
    expect(first.status).toBe(202)
    const run = await waitForRunEnd(t.client, first.body.runId as string)
    expect(run.run.trigger).toBe('webhook:go')
    await t.client.deleteTag('hook-owner', { tag: 'roles:id:data-dev', workspace: 'public' })
    const refused = await post(path, '{"x":1}', signed('{"x":1}'), '127.0.0.8')
    expect(refused.status).toBe(403)
    expect((refused.body.error as { message: string }).message).toContain('may no longer run it')
  })

  it('apply refuses a trigger whose secret is missing or lacks HMAC_KEY, located', async () => {
    const wf = (secret: string) => workflow('hooked', { main: 'true' }, { triggers: [{ name: 'go', webhook: { secret } }] })
    const missing = await rejection(t.client.apply('public', [doc(wf('nowhere'), 'h.yaml')]))
    expect(missing.code).toBe('E_SECRET')
    expect(JSON.stringify(missing.details)).toContain('spec.triggers[0].webhook.secret')
    const keyless = await rejection(t.client.apply('public', [
      doc({ name: 'plain', version: 'v1', type: 'secret', secret: { type: 'key-value', acl: 'r', data: { OTHER: 'x' } } }),
      doc(wf('plain'), 'h.yaml', 1),
    ]))
    expect(keyless.message).toMatch(/no key "HMAC_KEY"/)
  })
})
