// The master key at rest, through real control planes: a data folder from an older version (its
// master.key inside) has the key moved out on start and keeps working; a copy of the data folder
// alone does not start (no key, and no new key is made up for sealed secrets) and decrypts nothing;
// given the key file, the copy opens its secrets. A key file in a system folder that local steps see is refused
// before anything is created.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { CtlError } from '../../src/errors.js'
import { shownToSteps } from '../../src/runtime/local/index.js'
import { defaultMasterKeyFile, masterKeyFileOf } from '../../src/secrets/master-key.js'
import { startControlPlane } from '../../src/controlplane/control-plane.js'
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

describe('a master key file that local steps could see', () => {
  it('shownToSteps names the system folder that shows a path to bubblewrap steps, comparing real paths', () => {
    expect(shownToSteps('/etc/ctl/master.key')).toBe('/etc')
    expect(shownToSteps('/usr/local/etc/../share/ctl.key')).toBe('/usr')
    expect(shownToSteps('/opt/ctl-test-does-not-exist/master.key')).toBe(fs.existsSync('/opt') ? '/opt' : undefined)
    // /bin is often a link to /usr/bin: what it shows is /usr's.
    expect(shownToSteps('/bin/sh')).toBe(fs.lstatSync('/bin').isSymbolicLink() && fs.realpathSync('/bin').startsWith('/usr/') ? '/usr' : '/bin')
    expect(shownToSteps(path.join(root, 'keys', 'master.key'))).toBeUndefined()
    expect(shownToSteps('/etcetera/master.key')).toBeUndefined()
    expect(shownToSteps('/')).toBeUndefined()
    // A link on the way counts where it leads, even to a file that does not exist yet.
    fs.symlinkSync('/etc', path.join(root, 'etc-link'))
    expect(shownToSteps(path.join(root, 'etc-link', 'ctl-test-does-not-exist', 'master.key'))).toBe('/etc')
    fs.symlinkSync('/etc/ctl-test-does-not-exist/master.key', path.join(root, 'dangling.key'))
    expect(shownToSteps(path.join(root, 'dangling.key'))).toBe('/etc')
  })

  it('refuses to start the local runtime with a key file there, before anything is created; a key file elsewhere is fine', async () => {
    const file = `/etc/ctl-test-does-not-exist-${process.pid}/master.key`
    const dataDir = path.join(root, 'shown')
    const refused = await startControlPlane({ dataDir, port: 0, masterKeyFile: file }).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(CtlError)
    expect((refused as CtlError).code).toBe('E_USAGE')
    expect((refused as CtlError).message).toBe(`the master key file ${file} lies in /etc, which local steps see (read-only): a step could read the key and decrypt every secret; `
      + 'keep the key outside /usr, /bin, /sbin, /lib*, /etc and /opt, e.g. the default $CTL_HOME/keys (--master-key-file, CTL_MASTER_KEY_FILE or masterKeyFile in the server config), '
      + 'or give the key itself in CTL_MASTER_KEY')
    expect(fs.existsSync(path.dirname(file))).toBe(false)
    expect(fs.existsSync(dataDir)).toBe(false)

    const elsewhere = path.join(root, 'keys', 'elsewhere.key')
    const plane = await startControlPlane({ dataDir, port: 0, masterKeyFile: elsewhere })
    await plane.close()
    expect(fs.statSync(elsewhere).mode & 0o777).toBe(0o600)
    // The key itself in CTL_MASTER_KEY: no file is read, so none is refused.
    expect(masterKeyFileOf({ dataDir, file, env: { CTL_MASTER_KEY: Buffer.alloc(32, 1).toString('base64') } })).toBeUndefined()
    expect(masterKeyFileOf({ dataDir, file, env: {} })).toBe(file)
  })
})
