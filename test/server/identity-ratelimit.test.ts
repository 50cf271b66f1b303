// Failed authentications are limited per client address and presented key prefix: its own
// server, so the lockout does not reach other suites.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { CtlError } from '../../src/errors.js'
import { startTestServer, type TestServer } from './helpers.js'

let t: TestServer

beforeAll(async () => {
  t = await startTestServer()
})
afterAll(async () => {
  await t?.stop()
})

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'ok'
  } catch (err) {
    if (err instanceof CtlError) return err.code
    throw err
  }
}

describe('failed authentication rate limit', () => {
  it('answers 429 with Retry-After after 10 failures of one key prefix from one address within a minute; a good key still works at once', async () => {
    expect(await codeOf(t.client.whoami())).toBe('ok')
    const bad = new CtlClient({ baseUrl: t.plane.url, apiKey: 'ctl_guess' })
    const codes: string[] = []
    for (let i = 0; i < 10; i++) codes.push(await codeOf(bad.whoami()))
    expect(codes).toEqual(Array(10).fill('E_UNAUTHENTICATED'))

    const res = await fetch(`${t.plane.url}/api/v1/whoami`, { headers: { authorization: 'Bearer ctl_guess' } })
    expect(res.status).toBe(429)
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
    const body = (await res.json()) as { error: { code: string; message: string } }
    expect(body.error).toEqual({ code: 'E_RATE_LIMITED', message: expect.stringContaining('too many failed authentications from 127.0.0.1') })
    // Wrong keys never lock out a valid one: every step of a machine calls from 127.0.0.1.
    expect(await codeOf(t.client.whoami())).toBe('ok')
    // Health stays outside authentication.
    expect(await t.client.health()).toEqual({ status: 'ok' })
  })
})

describe('requests without a key', () => {
  it('are refused (401) but not counted: a client that has not logged in yet is not locked out', async () => {
    const own = await startTestServer()
    try {
      const anonymous = new CtlClient({ baseUrl: own.plane.url })
      const codes: string[] = []
      for (let i = 0; i < 15; i++) codes.push(await codeOf(anonymous.whoami()))
      expect(codes).toEqual(Array(15).fill('E_UNAUTHENTICATED'))
      expect(await codeOf(own.client.whoami())).toBe('ok')
    } finally {
      await own.stop()
    }
  })
})
