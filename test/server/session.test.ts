// Console sessions through the real HTTP API: sign-in with a key or a one-time code, the cookie standing
// in for the key on /api/v1, CSRF and Origin rules, revocation and sign-out ending a session, the failure
// limit, and a second replica on the same store and master key accepting the cookie and refusing a used code.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startControlPlane, type ControlPlane } from '../../src/controlplane/control-plane.js'
import { CtlClient } from '../../src/client/client.js'
import { startTestServer, waitFor, type TestServer } from './helpers.js'

let t: TestServer
let replica: ControlPlane
let logDir: string

beforeAll(async () => {
  logDir = mkdtempSync(join(tmpdir(), 'ctl-session-log-'))
  t = await startTestServer({ authLimits: { maxFailures: 3, windowMs: 60_000 }, logFile: join(logDir, 'requests.log') })
  // A second control plane on the same store and master key (the data folder holds both).
  replica = await startControlPlane({ dataDir: t.dataDir, port: 0, replicaId: 'r-second' })
}, 60_000)

afterAll(async () => {
  await replica?.close()
  await t?.stop()
  rmSync(logDir, { recursive: true, force: true })
})

interface Answer {
  status: number
  body: Record<string, unknown>
  cookie?: string
  setCookie?: string
}

async function call(method: string, path: string, opts: { body?: unknown; cookie?: string; csrf?: string; key?: string; origin?: string; base?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {}
  if (opts.body !== undefined) headers['content-type'] = 'application/json'
  if (opts.cookie) headers.cookie = `other=1; ctl_session=${opts.cookie}`
  if (opts.csrf) headers['x-csrf-token'] = opts.csrf
  if (opts.key) headers.authorization = `Bearer ${opts.key}`
  if (opts.origin) headers.origin = opts.origin
  const res = await fetch(`${opts.base ?? t.plane.url}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) })
  const text = await res.text()
  const setCookie = res.headers.get('set-cookie') ?? undefined
  const cookie = setCookie ? /ctl_session=([^;]*)/.exec(setCookie)?.[1] : undefined
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, ...(setCookie ? { setCookie } : {}), ...(cookie ? { cookie } : {}) }
}

async function signIn(key = t.token): Promise<{ cookie: string; csrf: string; answer: Answer }> {
  const answer = await call('POST', '/api/v1/session', { body: { apiKey: key } })
  expect(answer.status, JSON.stringify(answer.body)).toBe(200)
  return { cookie: answer.cookie!, csrf: answer.body.csrfToken as string, answer }
}

async function newUserKey(id: string): Promise<{ token: string; keyId: string }> {
  await t.client.createUser({ id, name: `User ${id}`, type: 'person' })
  const key = await t.client.createApiKey(id, { name: 'console' })
  return { token: key.token, keyId: key.id }
}

describe('console sessions', () => {
  it('signs in with an API key: an HttpOnly, SameSite=Strict cookie (not Secure over plain HTTP), the user, a CSRF token and an expiry', async () => {
    const { answer, cookie, csrf } = await signIn()
    expect(answer.setCookie).toMatch(/^ctl_session=[^;]+; HttpOnly; SameSite=Strict; Path=\/; Max-Age=\d+$/)
    expect(answer.setCookie).not.toMatch(/Secure/)
    expect((answer.body.user as { id: string }).id).toBe('admin')
    const expires = Date.parse(answer.body.expiresAt as string)
    expect(expires).toBeGreaterThan(Date.now() + 11 * 3600_000)
    expect(expires).toBeLessThanOrEqual(Date.now() + 12 * 3600_000)
    // The cookie stands in for the key on every route; GET /session hands the CSRF token back after a reload.
    expect((await call('GET', '/api/v1/whoami', { cookie })).body).toMatchObject({ principal: { id: 'admin' } })
    expect((await call('GET', '/api/v1/session', { cookie })).body).toMatchObject({ user: { id: 'admin' }, csrfToken: csrf })
    // With a key the session route answers the user alone.
    const byKey = await call('GET', '/api/v1/session', { key: t.token })
    expect(byKey.status).toBe(200)
    expect(byKey.body.csrfToken).toBeUndefined()
    expect((await call('GET', '/api/v1/session')).status).toBe(401)
  })

  it('a cookie request that changes something needs the CSRF token; a key request does not', async () => {
    const { cookie, csrf } = await signIn()
    const none = await call('POST', '/api/v1/workspaces', { cookie, body: { name: 'csrf-a' } })
    expect(none.status).toBe(403)
    expect((none.body.error as { message: string }).message).toMatch(/X-CSRF-Token/i)
    expect((await call('POST', '/api/v1/workspaces', { cookie, csrf: 'wrong', body: { name: 'csrf-a' } })).status).toBe(403)
    expect((await call('POST', '/api/v1/workspaces', { cookie, csrf, body: { name: 'csrf-a' } })).status).toBeLessThan(300)
    expect((await call('POST', '/api/v1/workspaces', { key: t.token, body: { name: 'csrf-b' } })).status).toBeLessThan(300)
    // Another session's token is not this one's.
    const other = await signIn()
    expect((await call('POST', '/api/v1/workspaces', { cookie, csrf: other.csrf, body: { name: 'csrf-c' } })).status).toBe(403)
  })

  it('refuses cookie requests from another origin, reads included', async () => {
    const { cookie, csrf } = await signIn()
    const host = new URL(t.plane.url).host
    expect((await call('GET', '/api/v1/whoami', { cookie, origin: 'https://evil.example' })).status).toBe(403)
    expect((await call('POST', '/api/v1/workspaces', { cookie, csrf, origin: 'null', body: { name: 'origin-a' } })).status).toBe(403)
    expect((await call('POST', '/api/v1/workspaces', { cookie, csrf, origin: `http://${host}`, body: { name: 'origin-b' } })).status).toBeLessThan(300)
    expect((await call('POST', '/api/v1/session', { origin: 'https://evil.example', body: { apiKey: t.token } })).status).toBe(403)
  })

  it('a tampered, foreign or expired-looking cookie is refused', async () => {
    const { cookie } = await signIn()
    const [kind, body, sig] = cookie.split('.')
    const claims = JSON.parse(Buffer.from(body!, 'base64url').toString()) as Record<string, unknown>
    const forged = `${kind}.${Buffer.from(JSON.stringify({ ...claims, u: 'someone' })).toString('base64url')}.${sig}`
    expect((await call('GET', '/api/v1/whoami', { cookie: forged })).status).toBe(401)
    expect((await call('GET', '/api/v1/whoami', { cookie: 'x'.repeat(5000) })).status).toBe(401)
    expect((await call('GET', '/api/v1/whoami', { cookie: `c1.${body}.${sig}` })).status).toBe(401)
  })

  it('revoking the key ends its sessions; signing out ends the session on every replica', async () => {
    const { token, keyId } = await newUserKey('sess-revoke')
    const a = await signIn(token)
    expect((await call('GET', '/api/v1/whoami', { cookie: a.cookie })).status).toBe(200)
    await t.client.deleteApiKey('sess-revoke', keyId)
    const after = await call('GET', '/api/v1/whoami', { cookie: a.cookie })
    expect(after.status).toBe(401)

    const b = await signIn()
    expect((await call('DELETE', '/api/v1/session', { cookie: b.cookie })).status).toBe(403)
    const out = await call('DELETE', '/api/v1/session', { cookie: b.cookie, csrf: b.csrf })
    expect(out.status).toBe(204)
    expect(out.setCookie).toMatch(/^ctl_session=; HttpOnly; SameSite=Strict; Path=\/; Max-Age=0$/)
    expect((await call('GET', '/api/v1/whoami', { cookie: b.cookie })).status).toBe(401)
    expect((await call('GET', '/api/v1/whoami', { cookie: b.cookie, base: replica.url })).status).toBe(401)
  })

  it('X-Forwarded-Proto does not make the cookie Secure: the control plane trusts no proxy', async () => {
    const res = await fetch(`${t.plane.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https' }, body: JSON.stringify({ apiKey: t.token }) })
    expect(res.status).toBe(200)
    expect(res.headers.get('set-cookie')).not.toMatch(/Secure/)
  })

  it('a session lives no longer than its key', async () => {
    await t.client.createUser({ id: 'sess-short', name: 'Short', type: 'person' })
    const key = await t.client.createApiKey('sess-short', { name: 'short', expiresIn: '1h' })
    const { answer } = await signIn(key.token)
    expect(answer.body.expiresAt).toBe(key.expiresAt)
  })

  it('a cookie made by one replica works on another (same store, same master key)', async () => {
    const { cookie } = await signIn()
    expect((await call('GET', '/api/v1/whoami', { cookie, base: replica.url })).body).toMatchObject({ principal: { id: 'admin' } })
  })

  it('sign-in links: a one-time code for the calling key, usable once across replicas', async () => {
    const { token } = await newUserKey('sess-link')
    const link = await call('POST', '/api/v1/session/links', { key: token })
    expect(link.status).toBe(200)
    const code = link.body.code as string
    expect(link.body.url).toBe(`${t.plane.url}/ui/signin#code=${code}`)
    expect(Date.parse(link.body.expiresAt as string)).toBeLessThanOrEqual(Date.now() + 60_000)
    const first = await call('POST', '/api/v1/session', { body: { code }, base: replica.url })
    expect(first.status).toBe(200)
    expect((first.body.user as { id: string }).id).toBe('sess-link')
    expect((await call('GET', '/api/v1/whoami', { cookie: first.cookie })).body).toMatchObject({ principal: { id: 'sess-link' } })
    const again = await call('POST', '/api/v1/session', { body: { code } })
    expect(again.status).toBe(401)
    expect((again.body.error as { message: string }).message).toMatch(/used already/)
    // A session cookie is no code, and a code no cookie.
    expect((await call('POST', '/api/v1/session', { body: { code: first.cookie } })).status).toBe(401)
    expect((await call('GET', '/api/v1/whoami', { cookie: code })).status).toBe(401)
  })

  it('bad bodies are usage errors; wrong keys are audited and limited like API keys', async () => {
    expect((await call('POST', '/api/v1/session', { body: {} })).status).toBe(400)
    expect((await call('POST', '/api/v1/session', { body: { apiKey: t.token, code: 'x' } })).status).toBe(400)
    expect((await call('POST', '/api/v1/session', { body: { apiKey: 'k'.repeat(201) } })).status).toBe(400)
    expect((await call('POST', '/api/v1/session', { body: { apiKey: t.token, extra: 1 } })).status).toBe(400)
    const bad = 'ctl_wrongwrongwrongwrong'
    for (let i = 0; i < 3; i++) expect((await call('POST', '/api/v1/session', { body: { apiKey: bad } })).status).toBe(401)
    expect((await call('POST', '/api/v1/session', { body: { apiKey: bad } })).status).toBe(429)
    // The same limit as the API key header: that prefix from this address is blocked there too.
    expect((await call('GET', '/api/v1/whoami', { key: bad })).status).toBe(429)
    const entries = await t.client.audit({ limit: 10000 })
    const creates = entries.filter((e) => e.action === 'session.create')
    expect(creates.some((e) => e.result === 'ok' && e.actor === 'admin' && typeof (e.detail as { keyId?: unknown } | undefined)?.keyId === 'string')).toBe(true)
    expect(creates.some((e) => e.result === 'unauthenticated' && e.actor === 'anonymous')).toBe(true)
    expect(JSON.stringify(entries)).not.toMatch(/s1\.[A-Za-z0-9_-]{20,}/)
  })
})

describe('the request log', () => {
  it('holds neither the session cookie, nor the CSRF token, nor the API key', async () => {
    const { cookie, csrf } = await signIn()
    await call('POST', '/api/v1/workspaces', { cookie, csrf, body: { name: 'logged-ws' } })
    await call('GET', '/api/v1/whoami', { cookie })
    const log = await waitFor('the request log', async () => readFileSync(join(logDir, 'requests.log'), 'utf8'), (text) => text.includes('/api/v1/workspaces'))
    expect(log).not.toContain(cookie.split('.')[2]!)
    expect(log).not.toContain(csrf)
    expect(log).not.toContain(t.token)
  })
})

describe('API key client and cookie agree', () => {
  it('whoami by key and by cookie name the same principal', async () => {
    const { cookie } = await signIn()
    const byKey = await new CtlClient({ baseUrl: t.plane.url, apiKey: t.token }).whoami()
    expect((await call('GET', '/api/v1/whoami', { cookie })).body).toEqual({ principal: byKey })
  })
})
