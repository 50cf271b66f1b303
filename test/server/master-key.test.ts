// The master key at rest, through real control planes: a data folder from an older version (its
// master.key inside) has the key moved out on start and keeps working; a copy of the data folder
// alone does not start (no key, and no new key is made up for sealed secrets) and decrypts nothing;
// given the key file, the copy opens its secrets.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { CtlError } from '../../src/errors.js'
import { defaultMasterKeyFile } from '../../src/secrets/master-key.js'
import { startControlPlane } from '../../src/server/server.js'
import { doc } from './helpers.js'

const VALUE = 'p@ss w/rd+42!'
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-mk-'))
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))

const secretDoc = { name: 'db', version: 'v1', type: 'secret', secret: { type: 'key-value', acl: 'r', data: { PASSWORD: VALUE } } }
type Clear = { secret: { data: Record<string, string> } }

async function readSecret(url: string, token: string): Promise<Record<string, string>> {
  const got = await new CtlClient({ baseUrl: url, apiKey: token }).get({ workspace: 'public', type: 'secret', name: 'db' }, { unsanitized: true })
  return (got.manifest as Clear).secret.data
}

describe('the master key outside the data folder', () => {
  const dataDir = path.join(root, 'data')
  const legacy = path.join(dataDir, 'master.key')
  let token = ''

  it('a data folder holding its own master.key (as older versions made it) has it moved out on start, with a notice', async () => {
    // Set up the old layout: the key file explicitly inside the data folder (warned about).
    const old = await startControlPlane({ dataDir, port: 0, masterKeyFile: legacy })
    expect(old.notices.some((n) => /^warning: the master key file .* lies inside the data folder/.test(n))).toBe(true)
    token = old.adminToken!
    await new CtlClient({ baseUrl: old.url, apiKey: token }).apply('public', [doc(secretDoc)])
    await old.close()
    const key = fs.readFileSync(legacy, 'utf8')

    const plane = await startControlPlane({ dataDir, port: 0 })
    try {
      const target = defaultMasterKeyFile(dataDir)
      expect(plane.notices).toEqual([`moved the master key out of the data folder: ${legacy} → ${target} (back it up apart from the data folder)`])
      expect(fs.existsSync(legacy)).toBe(false)
      expect(fs.readFileSync(target, 'utf8')).toBe(key)
      expect(fs.statSync(target).mode & 0o777).toBe(0o600)
      expect(await readSecret(plane.url, token)).toEqual({ PASSWORD: VALUE })
    } finally {
      await plane.close()
    }
    const again = await startControlPlane({ dataDir, port: 0 })
    expect(again.notices).toEqual([])
    await again.close()
  })

  it('a copy of the data folder alone does not start and makes up no key; with the key file named it opens its secrets', async () => {
    const copy = path.join(root, 'copy')
    fs.cpSync(dataDir, copy, { recursive: true })
    const refused = await startControlPlane({ dataDir: copy, port: 0 }).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(CtlError)
    expect((refused as CtlError).message).toMatch(/^no master key at .*, and the secrets in .*copy were sealed with one/)
    expect(fs.existsSync(defaultMasterKeyFile(copy))).toBe(false)

    const plane = await startControlPlane({ dataDir: copy, port: 0, masterKeyFile: defaultMasterKeyFile(dataDir) })
    try {
      expect(await readSecret(plane.url, token)).toEqual({ PASSWORD: VALUE })
    } finally {
      await plane.close()
    }
  })
})
