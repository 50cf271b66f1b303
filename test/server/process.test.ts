import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { serverStatus, spawnDetachedServer, stopServer, runForeground } from '../../src/controlplane/process.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const built = join(root, 'dist', 'src', 'controlplane', 'process.js')
const entry = join(root, 'test', 'server', 'fixtures', 'server-entry.mjs')
const dirs: string[] = []
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'ctl-proc-'))
  dirs.push(d)
  return d
}
afterAll(async () => {
  for (const d of dirs) {
    await stopServer(d, 2000).catch(() => undefined)
    rmSync(d, { recursive: true, force: true })
  }
})

describe('runForeground (in process)', () => {
  it('writes server.json, creates the 0600 admin key file once, and removes server.json on stop', async () => {
    const dataDir = tempDir()
    const first = await runForeground({ dataDir, port: 0 })
    expect(first.adminToken).toMatch(/^ctl_[A-Za-z0-9_-]{43}$/)
    const keyFile = join(dataDir, 'admin.apikey')
    expect(readFileSync(keyFile, 'utf8').trim()).toBe(first.adminToken)
    expect(statSync(keyFile).mode & 0o777).toBe(0o600)
    const status = await serverStatus(dataDir)
    expect(status).toEqual({ running: true, pid: process.pid, url: first.url })
    const client = new CtlClient({ baseUrl: first.url, apiKey: first.adminToken })
    expect((await client.whoami()).id).toBe('admin')
    await first.stop()
    await first.done
    expect(existsSync(join(dataDir, 'server.json'))).toBe(false)
    expect((await serverStatus(dataDir)).running).toBe(false)

    // A second start keeps the key: no new token, the old one still works.
    const second = await runForeground({ dataDir, port: 0 })
    expect(second.adminToken).toBeUndefined()
    expect((await new CtlClient({ baseUrl: second.url, apiKey: first.adminToken }).whoami()).id).toBe('admin')
    await second.stop()
  })
})

describe('graceful close', () => {
  it('ends open log follows on close and writes structured request logs without keys', async () => {
    const dataDir = tempDir()
    const logFile = join(dataDir, 'requests.log')
    const server = await runForeground({ dataDir, port: 0, logFile })
    const client = new CtlClient({ baseUrl: server.url, apiKey: server.adminToken })
    await client.apply('public', [{
      manifest: {
        name: 'slow', version: 'v2alpha', type: 'workflow',
        spec: { dag: [{ name: 'wait', spec: { stack: 'script', stackSpec: { interpreter: 'sh', script: 'echo begin; sleep 2; echo end' } } }] },
      },
    }])
    let runs = await client.runs({ type: 'workflow', name: 'slow' })
    while (runs.length === 0) {
      await new Promise((r) => setTimeout(r, 50))
      runs = await client.runs({ type: 'workflow', name: 'slow' })
    }
    const follow = (async () => {
      const texts: string[] = []
      try {
        for await (const batch of client.logs(runs[0]!.id, { follow: true })) texts.push(...batch.map((l) => l.text))
      } catch {
        // the connection may be cut instead of ended; either way the follow must finish
      }
      return texts
    })()
    await new Promise((r) => setTimeout(r, 300))
    await server.stop()
    const texts = await follow
    expect(texts).not.toContain('end')
    const log = readFileSync(logFile, 'utf8')
    expect(log).toContain('"statusCode":200')
    expect(log).not.toContain(server.adminToken!)
  })
})

describe.skipIf(!existsSync(built))('detached server process (needs `npm run build`: dist/src/controlplane/process.js)', () => {
  it('spawns, reports status, answers, and stops a real child process', async () => {
    const dataDir = tempDir()
    expect(await serverStatus(dataDir)).toEqual({ running: false })
    const { url, pid } = await spawnDetachedServer({ dataDir, port: 0, cliEntry: entry })
    expect(pid).not.toBe(process.pid)
    const status = await serverStatus(dataDir)
    expect(status).toEqual({ running: true, pid, url })
    const token = readFileSync(join(dataDir, 'admin.apikey'), 'utf8').trim()
    expect((await new CtlClient({ baseUrl: url, apiKey: token }).whoami()).id).toBe('admin')
    // Starting again finds the running one.
    expect((await spawnDetachedServer({ dataDir, port: 0, cliEntry: entry })).pid).toBe(pid)
    expect(await stopServer(dataDir)).toBe(true)
    expect((await serverStatus(dataDir)).running).toBe(false)
    expect(existsSync(join(dataDir, 'server.json'))).toBe(false)
    expect(readFileSync(join(dataDir, 'server.log'), 'utf8')).toContain('control plane stopped')
  })
})

if (!existsSync(built)) {
  console.warn(`skipping the detached-process test: ${built} does not exist; run \`npm run build\` first`)
}
