// Replicas started together on a new, empty PostgreSQL database (a Deployment of three starts them at once):
// every one comes up, one admin user exists, and they seal secrets with the one master key.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { startControlPlane, type ControlPlane } from '../../src/controlplane/control-plane.js'
import { freshDatabase } from '../support/postgres.js'

const dir = mkdtempSync(join(tmpdir(), 'ctl-replicas-start-'))
const planes: ControlPlane[] = []
afterAll(async () => {
  for (const p of planes) await p.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('replicas starting together on an empty database', () => {
  it('all three come up on one admin and one master key', async () => {
    const storeUrl = await freshDatabase()
    const masterKeyFile = join(dir, 'master.key')
    writeFileSync(masterKeyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 })
    const started = await Promise.allSettled(['a', 'b', 'c'].map((n) => startControlPlane({ dataDir: join(dir, n), storeUrl, masterKeyFile })))
    for (const s of started) if (s.status === 'fulfilled') planes.push(s.value)
    expect(started.map((s) => (s.status === 'rejected' ? String(s.reason) : 'ok'))).toEqual(['ok', 'ok', 'ok'])
    const withKey = planes.filter((p) => p.adminToken !== undefined)
    expect(withKey.length).toBeGreaterThanOrEqual(1)
    const admin = new CtlClient({ baseUrl: planes[2]!.url, apiKey: withKey[0]!.adminToken })
    expect((await admin.whoami()).id).toBe('admin')
    expect((await admin.replicas()).replicas).toHaveLength(3)
  }, 90_000)
})
