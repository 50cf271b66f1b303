// Two control planes on one store (issue 13), in this process: each registers as a replica (GET /api/v1/replicas
// lists both, what each owns, the store kind only), answers /readyz without a key, and shares with the other
// what lives in the store: API keys, audit, and the failure limits (failed authentications, bad webhook calls
// spread over both reach the limit at their sum).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { startControlPlane, type ControlPlane } from '../../src/controlplane/control-plane.js'
import { openStore } from '../../src/store/open.js'
import type { Store } from '../../src/store/types.js'
import { doc, rejection, workflow } from './helpers.js'
import { signHook } from '../../src/http/hook-guard.js'
import { freshDatabase } from '../support/postgres.js'

const limits = { maxFailures: 4, windowMs: 24 * 60 * 60_000 }

// The test PostgreSQL is started before any control plane: one sets this process's umask to 077, which would
// close the server's new folders to the postgres user it runs as.
let pgUrl: string
beforeAll(async () => {
  pgUrl = await freshDatabase()
}, 60_000)

describe.each([
  ['SQLite', 'sqlite', (dir: string) => Promise.resolve(join(dir, 'shared.db'))],
  ['PostgreSQL', 'postgres', () => Promise.resolve(pgUrl)],
] as const)('replicas on one store (%s)', (_name, kind, storeOf) => {
  const dir = mkdtempSync(join(tmpdir(), 'ctl-replicas-'))
  // Both must open the secrets sealed by the other: one master key for the fleet.
  const masterKeyFile = join(dir, 'master.key')
  let storeUrl: string
  let a: ControlPlane
  let b: ControlPlane
  let side: Store
  let admin: string

  beforeAll(async () => {
    storeUrl = await storeOf(dir)
    a = await startControlPlane({ dataDir: join(dir, 'a'), storeUrl, masterKeyFile, authLimits: limits })
    b = await startControlPlane({ dataDir: join(dir, 'b'), storeUrl, masterKeyFile, authLimits: limits })
    admin = a.adminToken!
    side = await openStore(storeUrl)
  }, 60_000)

  afterAll(async () => {
    await b?.close()
    await a?.close()
    await side?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const client = (plane: ControlPlane, apiKey = admin) => new CtlClient({ baseUrl: plane.url, apiKey })

  it('the second start finds the admin made by the first; both are listed, alive, with the runs each owns', async () => {
    expect(b.adminToken).toBeUndefined()
    expect(a.replicaId).not.toBe(b.replicaId)
    const now = new Date()
    await side.acquireRunLease('run-x', a.replicaId, now.toISOString(), new Date(now.getTime() + 60_000).toISOString())
    await side.acquireRunLease('run-y', a.replicaId, now.toISOString(), new Date(now.getTime() + 60_000).toISOString())
    const view = await client(b).replicas()
    expect(view.store).toBe(kind)
    expect(view.self).toBe(b.replicaId)
    const byId = new Map(view.replicas.map((r) => [r.id, r]))
    expect(byId.get(a.replicaId)).toMatchObject({ alive: true, runsOwned: 2, pid: process.pid, url: a.url })
    expect(byId.get(b.replicaId)).toMatchObject({ alive: true, runsOwned: 0, url: b.url })
    expect(byId.get(a.replicaId)?.version).toMatch(/^\d+\.\d+\.\d+/)
    await side.releaseRunLease('run-x', a.replicaId)
    await side.releaseRunLease('run-y', a.replicaId)
  })

  it('readiness and liveness answer without a key, and say nothing more', async () => {
    for (const plane of [a, b]) {
      const ready = await fetch(`${plane.url}/readyz`)
      expect(ready.status).toBe(200)
      expect(await ready.json()).toEqual({ status: 'ok' })
      expect((await fetch(`${plane.url}/healthz`)).status).toBe(200)
    }
  })

  it('a key created on one replica works on the other, whose audit shows the first one\'s actions', async () => {
    await client(a).createUser({ id: 'carol', name: 'Carol', type: 'person' })
    const key = await client(a).createApiKey('carol', { name: 'on-a' })
    expect((await client(b, key.token).whoami()).id).toBe('carol')
    const entries = await client(b).audit({ limit: 1000 })
    expect(entries.filter((e) => e.target.startsWith('user:carol')).map((e) => [e.actor, e.action, e.result])).toEqual([
      ['admin', 'user-create', 'ok'],
      ['admin', 'apikey-create', 'ok'],
    ])
  })

  it('failed authentications spread over both replicas reach the limit at their sum', async () => {
    const wrong = 'ctl_SAMEPREFIX0000-wrong-'
    const statuses: number[] = []
    for (const [i, plane] of [a, b, a, b].entries()) {
      const res = await fetch(`${plane.url}/api/v1/whoami`, { headers: { authorization: `Bearer ${wrong}${i}` } })
      statuses.push(res.status)
    }
    // Four failures, two on each: the limit (4) is reached on both, though neither saw more than two.
    expect(statuses).toEqual([401, 401, 401, 401])
    for (const plane of [a, b]) {
      const res = await fetch(`${plane.url}/api/v1/whoami`, { headers: { authorization: `Bearer ${wrong}x` } })
      expect(res.status).toBe(429)
    }
    // Per key prefix: the admin's key still works from the same address, on either replica.
    expect((await client(a).whoami()).id).toBe('admin')
    expect((await client(b).whoami()).id).toBe('admin')
  })

  it('a signed webhook delivery is accepted once across replicas: replayed to the other one, it is refused', async () => {
    await client(a).apply('public', [
      doc({ name: 'fleet-hook', version: 'v1', type: 'secret', secret: { type: 'key-value', acl: 'r', data: { HMAC_KEY: 'k' } } }),
      doc(workflow('fleet-hooked', { main: 'true' }, { triggers: [{ name: 'go', webhook: { secret: 'fleet-hook' } }] }), 'h.yaml', 1),
    ])
    const body = '{}'
    const ts = String(Math.floor(Date.now() / 1000))
    const headers = { 'content-type': 'application/json', 'x-ctl-timestamp': ts, 'x-ctl-signature': `sha256=${signHook('k', ts, body)}` }
    const first = await fetch(`${a.url}/api/v1/hooks/public/fleet-hooked/go`, { method: 'POST', headers, body })
    expect(first.status).toBe(202)
    const replayed = await fetch(`${b.url}/api/v1/hooks/public/fleet-hooked/go`, { method: 'POST', headers, body })
    expect(replayed.status).toBe(401)
    expect(((await replayed.json()) as { error: { message: string } }).error.message).toMatch(/already used/)
  })

  it('bad webhook calls spread over both replicas reach the limit at their sum', async () => {
    const statuses: number[] = []
    // One failure already counted: the replay refused just above, on b.
    for (const plane of [a, b, a, b]) {
      const res = await fetch(`${plane.url}/api/v1/hooks/public/nothing/here`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
      statuses.push(res.status)
    }
    expect(statuses).toEqual([401, 401, 401, 429])
    expect((await fetch(`${a.url}/api/v1/hooks/public/nothing/here`, { method: 'POST', body: '{}' })).status).toBe(429)
  })

  it('replicas are for tenant-admins (they name hosts)', async () => {
    const key = await client(a).createApiKey('carol', { name: 'plain' })
    expect((await rejection(client(b, key.token).replicas())).code).toBe('E_FORBIDDEN')
  })

  it('a graceful stop removes the replica from the list', async () => {
    const c = await startControlPlane({ dataDir: join(dir, 'c'), storeUrl, masterKeyFile })
    expect((await client(a).replicas()).replicas.map((r) => r.id)).toContain(c.replicaId)
    await c.close()
    expect((await client(a).replicas()).replicas.map((r) => r.id)).not.toContain(c.replicaId)
  })
})
