// `ctl ui` against a real control plane (the built CLI): the sign-in URL of the context's server with a
// one-time code that signs in once, -o json, and --open with and without a browser opener on the PATH.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, waitFor, type TestServer } from '../server/helpers.js'
import { runCli } from './helpers.js'

let t: TestServer
let home: string
let bin: string

beforeAll(async () => {
  t = await startTestServer()
  home = mkdtempSync(join(tmpdir(), 'ctl-ui-home-'))
  bin = mkdtempSync(join(tmpdir(), 'ctl-ui-bin-'))
}, 60_000)

afterAll(async () => {
  await t?.stop()
  rmSync(home, { recursive: true, force: true })
  rmSync(bin, { recursive: true, force: true })
})

const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  CTL_HOME: home, CTL_SERVER: t.plane.url, CTL_APIKEY: t.token, CTL_CREDENTIALS: '', DBUS_SESSION_BUS_ADDRESS: '', ...extra,
})

async function signInWith(url: string): Promise<number> {
  const code = new URL(url).hash.replace(/^#code=/, '')
  const res = await fetch(`${t.plane.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) })
  return res.status
}

describe('ctl ui', () => {
  it('prints a one-time sign-in URL of the context\'s server; the code works once', async () => {
    const r = await runCli(['ui'], { env: env() })
    expect(r.code, r.stderr).toBe(0)
    const url = r.stdout.trim()
    expect(url).toMatch(new RegExp(`^${t.plane.url.replace(/[.]/g, '\\.')}/ui/signin#code=c1\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$`))
    expect(r.stderr).toMatch(/valid once, until/)
    expect(await signInWith(url)).toBe(200)
    expect(await signInWith(url)).toBe(401)
  })

  it('-o json answers the URL, its expiry and the context', async () => {
    const r = await runCli(['ui', '-o', 'json'], { env: env() })
    expect(r.code, r.stderr).toBe(0)
    const report = JSON.parse(r.stdout) as { url: string; expiresAt: string; context: string }
    expect(report.context).toBe('CTL_SERVER')
    expect(Date.parse(report.expiresAt)).toBeGreaterThan(Date.now() - 60_000)
    expect(await signInWith(report.url)).toBe(200)
    const y = await runCli(['ui', '-o', 'yaml'], { env: env() })
    expect(y.stdout).toMatch(/^context: CTL_SERVER\nurl: /m)
  })

  it('--open hands the URL to xdg-open; without one it prints the URL and says so, exit 0', async () => {
    const seen = join(bin, 'opened.txt')
    const opener = join(bin, 'xdg-open')
    writeFileSync(opener, `#!/bin/sh\nprintf '%s' "$1" > '${seen}'\n`)
    chmodSync(opener, 0o755)
    const r = await runCli(['ui', '--open', '-o', 'json'], { env: env({ PATH: bin }) })
    expect(r.code, r.stderr).toBe(0)
    const report = JSON.parse(r.stdout) as { url: string; opened: boolean }
    expect(report.opened).toBe(true)
    const opened = await waitFor('the opener to run', async () => (existsSync(seen) ? readFileSync(seen, 'utf8') : ''), (s) => s.length > 0)
    expect(opened).toBe(report.url)

    const none = mkdtempSync(join(tmpdir(), 'ctl-ui-none-'))
    try {
      const n = await runCli(['ui', '--open'], { env: env({ PATH: none }) })
      expect(n.code, n.stderr).toBe(0)
      expect(n.stdout.trim()).toMatch(/\/ui\/signin#code=/)
      expect(n.stderr).toMatch(/no browser opener \(xdg-open\) could be started: open the URL above yourself/)
    } finally {
      rmSync(none, { recursive: true, force: true })
    }
  })

  it('a usage mistake exits 2', async () => {
    expect((await runCli(['ui', '--nope'], { env: env() })).code).toBe(2)
  })
})
