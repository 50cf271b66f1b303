// The tenant admin's first API key from a file (a mounted Secret, the replicas overlay): stored instead of a new
// key in the data folder, so it outlives the Pod that started first; a bad file is refused naming the file only.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { startControlPlane } from '../../src/controlplane/control-plane.js'
import { ADMIN_KEY_FILE } from '../../src/controlplane/process.js'
import { CtlClient } from '../../src/client/client.js'
import { CtlError } from '../../src/errors.js'

let dir: string
let saved: string | undefined
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-admin-key-'))
  saved = process.env.CTL_MASTER_KEY
  process.env.CTL_MASTER_KEY = Buffer.alloc(32, 5).toString('base64')
})
afterEach(() => {
  if (saved === undefined) delete process.env.CTL_MASTER_KEY
  else process.env.CTL_MASTER_KEY = saved
  fs.rmSync(dir, { recursive: true, force: true })
})

it('the key in --admin-key-file is the admin\'s; nothing is written to the data folder; a later file is ignored', async () => {
  const token = `ctl_${'a1'.repeat(24)}`
  const keyFile = path.join(dir, 'admin-key')
  fs.writeFileSync(keyFile, `${token}\n`)
  const dataDir = path.join(dir, 'data')
  const plane = await startControlPlane({ dataDir, port: 0, adminKeyFile: keyFile })
  try {
    expect(plane.adminToken).toBeUndefined()
    expect(fs.existsSync(path.join(dataDir, ADMIN_KEY_FILE))).toBe(false)
    // Tenant-admin only: the audit log.
    expect(Array.isArray(await new CtlClient({ baseUrl: plane.url, apiKey: token }).audit({ limit: 1 }))).toBe(true)
  } finally {
    await plane.close()
  }
  // The admin has a key now: a restart with another file neither adds nor replaces one.
  fs.writeFileSync(keyFile, `ctl_${'b2'.repeat(24)}\n`)
  const again = await startControlPlane({ dataDir, port: 0, adminKeyFile: keyFile })
  try {
    expect(Array.isArray(await new CtlClient({ baseUrl: again.url, apiKey: token }).audit({ limit: 1 }))).toBe(true)
  } finally {
    await again.close()
  }
})

it('a file that holds no key, or none at all, is refused naming the file, never its content', async () => {
  const keyFile = path.join(dir, 'admin-key')
  fs.writeFileSync(keyFile, 'password=hunter2\n')
  const bad = await startControlPlane({ dataDir: path.join(dir, 'one'), port: 0, adminKeyFile: keyFile }).catch((e: unknown) => e)
  expect(bad).toBeInstanceOf(CtlError)
  expect((bad as CtlError).code).toBe('E_USAGE')
  expect((bad as CtlError).message).toContain(keyFile)
  expect((bad as CtlError).message).not.toContain('hunter2')
  const missing = await startControlPlane({ dataDir: path.join(dir, 'two'), port: 0, adminKeyFile: path.join(dir, 'nope') }).catch((e: unknown) => e)
  expect((missing as CtlError).message).toMatch(/cannot be read \(ENOENT\)/)
})
