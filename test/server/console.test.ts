// Serving the web console from a bundle folder of the test's own (not the real bundle): the redirect,
// files with their types, security and cache headers, index.html for the console's own routes, nothing
// outside the folder, and a clear 404 when the control plane has no bundle.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CONSOLE_CSP } from '../../src/http/console.js'
import { startTestServer, type TestServer } from './helpers.js'

let t: TestServer
let bare: TestServer
let dir: string
const INDEX = '<!doctype html><title>ctl</title><script type="module" src="/ui/app-ABCD1234.js"></script>'

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ctl-ui-'))
  writeFileSync(join(dir, 'index.html'), INDEX)
  writeFileSync(join(dir, 'app-ABCD1234.js'), 'console.log("hi")')
  writeFileSync(join(dir, 'app-ABCD1234.css'), 'body{}')
  writeFileSync(join(dir, 'favicon.svg'), '<svg/>')
  mkdirSync(join(dir, 'sub'))
  writeFileSync(join(dir, 'sub', 'x.txt'), 'x')
  writeFileSync(join(tmpdir(), 'ctl-ui-outside.txt'), 'secret')
  t = await startTestServer({ consoleDir: dir })
  bare = await startTestServer({ consoleDir: join(dir, 'missing') })
}, 60_000)

afterAll(async () => {
  await t?.stop()
  await bare?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const get = (path: string, base = t.plane.url) => fetch(`${base}${path}`, { redirect: 'manual' })

/** A raw request, so that `..` reaches the server as sent (fetch would normalize it). */
function raw(path: string): Promise<{ status: number; body: string }> {
  const url = new URL(t.plane.url)
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path, method: 'GET' }, (res) => {
      let body = ''
      res.on('data', (c: Buffer) => (body += c.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('serving the console', () => {
  it('redirects / to /ui/', async () => {
    const res = await get('/')
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/ui/')
  })

  it('answers index.html with the security headers and no-cache, without authentication', async () => {
    const res = await get('/ui/')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(res.headers.get('content-security-policy')).toBe(CONSOLE_CSP)
    expect(CONSOLE_CSP).toBe("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(res.headers.get('referrer-policy')).toBe('no-referrer')
    expect(res.headers.get('cache-control')).toBe('no-cache')
    expect(await res.text()).toBe(INDEX)
  })

  it('hashed assets are immutable, others revalidated; types follow the extension', async () => {
    const js = await get('/ui/app-ABCD1234.js')
    expect(js.status).toBe(200)
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(await js.text()).toBe('console.log("hi")')
    expect((await get('/ui/app-ABCD1234.css')).headers.get('content-type')).toBe('text/css; charset=utf-8')
    const svg = await get('/ui/favicon.svg')
    expect(svg.headers.get('content-type')).toBe('image/svg+xml')
    expect(svg.headers.get('cache-control')).toBe('no-cache')
    expect(await (await get('/ui/sub/x.txt')).text()).toBe('x')
  })

  it('client-side routes get index.html; a missing file with an extension is 404', async () => {
    for (const path of ['/ui/signin', '/ui/w/public/etl', '/ui/runs/r-1', '/ui/sub']) {
      const res = await get(path)
      expect(res.status, path).toBe(200)
      expect(await res.text()).toBe(INDEX)
    }
    const missing = await get('/ui/app-00000000.js')
    expect(missing.status).toBe(404)
    expect(missing.headers.get('content-type')).toMatch(/application\/json/)
  })

  it('never answers a file outside the bundle folder', async () => {
    for (const path of ['/ui/../ctl-ui-outside.txt', '/ui/%2e%2e/ctl-ui-outside.txt', '/ui/..%2fctl-ui-outside.txt', '/ui/%2e%2e%2f%2e%2e%2fetc%2fpasswd']) {
      const res = await raw(path)
      expect(res.body, path).not.toContain('secret')
      expect(res.body, path).not.toContain('root:')
    }
  })

  it('the API documents no console route', async () => {
    const openapi = (await (await get('/api/v1/openapi.json')).json()) as { paths: Record<string, unknown> }
    expect(Object.keys(openapi.paths).filter((p) => !p.startsWith('/api/') && p !== '/healthz' && p !== '/readyz')).toEqual([])
  })

  it('without a bundle, /ui/ is a 404 saying so', async () => {
    const res = await get('/ui/', bare.plane.url)
    expect(res.status).toBe(404)
    const body = (await res.json()) as { error: { code: string; message: string } }
    expect(body.error.code).toBe('E_NOT_FOUND')
    expect(body.error.message).toMatch(/built without the web console/)
  })
})
