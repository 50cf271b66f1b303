// The master key and sealing of secret values: where the key comes from, what the store gets,
// and that a ciphertext opens only with its key and in its place.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CtlError } from '../../src/errors.js'
import { openTestStore } from '../support/store.js'
import {
  KEY_CHECK_META, SecretBox, isSealed, openSecretManifest, openSecretValues, parseMasterKey, sealSecretManifest, verifyMasterKey,
} from '../../src/secrets/crypto.js'
import { sealForStore } from '../../src/controlplane/secrets.js'
import { locateSecretRef } from '../../src/controlplane/use-issues.js'
import { defaultMasterKeyFile, loadMasterKey } from '../../src/secrets/master-key.js'

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-secrets-'))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const secret = (name: string, data: Record<string, string>, files: Record<string, string> = {}, workspace: string | undefined = 'public') => ({
  meta: { name, version: 'v1', type: 'secret', tags: [], layer: 'user', ...(workspace ? { workspace } : {}) },
  secret: { type: 'key-value', acl: 'r', data, files },
})

describe('master key', () => {
  it('parses 32 bytes as hex, base64 or base64url, and nothing else', () => {
    const key = randomBytes(32)
    expect(parseMasterKey(key.toString('hex'))).toEqual(key)
    expect(parseMasterKey(key.toString('base64'))).toEqual(key)
    expect(parseMasterKey(`${key.toString('base64url')}\n`)).toEqual(key)
    expect(parseMasterKey(randomBytes(16).toString('hex'))).toBeUndefined()
    expect(parseMasterKey('not a key')).toBeUndefined()
  })

  // Each test: a data folder and a CTL_HOME beside it, both under `dir`.
  const home = () => path.join(dir, 'home')
  const data = () => path.join(dir, 'data')
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ CTL_HOME: home(), ...extra })

  it('creates the key outside the data folder, 0600 in a 0700 folder, and reads the same key afterwards', () => {
    const first = loadMasterKey({ dataDir: data(), env: env() })
    expect(first.source).toBe('created')
    const file = defaultMasterKeyFile(data(), env())
    expect(first.file).toBe(file)
    expect(path.relative(data(), file).startsWith('..')).toBe(true)
    expect(path.dirname(file)).toBe(path.join(home(), 'keys'))
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700)
    expect(first.notices.join('\n')).toMatch(/created the master key .* back it up/)
    const again = loadMasterKey({ dataDir: data(), env: env() })
    expect(again).toMatchObject({ source: 'file', notices: [] })
    expect(again.key).toEqual(first.key)
    expect(fs.readdirSync(path.dirname(file))).toEqual([path.basename(file)]) // no temporary file left behind
  })

  it('the embedded data folder ($CTL_HOME/server) keeps its key at $CTL_HOME/keys/master.key; other folders get a file each', () => {
    expect(defaultMasterKeyFile(path.join(home(), 'server'), env())).toBe(path.join(home(), 'keys', 'master.key'))
    const a = defaultMasterKeyFile(path.join(dir, 'a', 'data'), env())
    const b = defaultMasterKeyFile(path.join(dir, 'b', 'data'), env())
    expect(a).not.toBe(b)
    expect(path.basename(a)).toMatch(/^data-[0-9a-f]{12}\.key$/)
  })

  it('moves a master.key found in the data folder out, once, with a notice, keeping the key', () => {
    fs.mkdirSync(data(), { recursive: true })
    const key = randomBytes(32)
    fs.writeFileSync(path.join(data(), 'master.key'), key.toString('base64') + '\n', { mode: 0o600 })
    const moved = loadMasterKey({ dataDir: data(), env: env(), mayCreate: false })
    expect(moved).toMatchObject({ source: 'moved', file: defaultMasterKeyFile(data(), env()) })
    expect(moved.key).toEqual(key)
    expect(moved.notices).toEqual([expect.stringMatching(/^moved the master key out of the data folder: .*master\.key → .*\.key/)])
    expect(fs.existsSync(path.join(data(), 'master.key'))).toBe(false)
    expect(loadMasterKey({ dataDir: data(), env: env() })).toMatchObject({ source: 'file', key })
    // A leftover copy of the same key is dropped; another key is refused, and neither file is touched.
    fs.writeFileSync(path.join(data(), 'master.key'), key.toString('hex'))
    expect(loadMasterKey({ dataDir: data(), env: env() })).toMatchObject({ source: 'moved', key })
    fs.writeFileSync(path.join(data(), 'master.key'), randomBytes(32).toString('hex'))
    expect(() => loadMasterKey({ dataDir: data(), env: env() })).toThrow(/two different master keys/)
    expect(fs.existsSync(path.join(data(), 'master.key'))).toBe(true)
    expect(loadMasterKey({ dataDir: path.join(dir, 'elsewhere'), file: moved.file, env: env() }).key).toEqual(key)
  })

  it('never creates a new key for a data folder whose secrets were sealed already', () => {
    expect(() => loadMasterKey({ dataDir: data(), env: env(), mayCreate: false })).toThrow(/no master key at .*restore that file from a backup/)
    expect(fs.existsSync(path.join(home(), 'keys'))).toBe(false)
  })

  it('takes a configured key file; one inside the data folder works but is warned about', () => {
    const file = path.join(dir, 'etc', 'ctl.key')
    const made = loadMasterKey({ dataDir: data(), file, env: env() })
    expect(made).toMatchObject({ source: 'created', file })
    const inside = loadMasterKey({ dataDir: data(), file: path.join(data(), 'master.key'), env: env() })
    expect(inside.source).toBe('created')
    expect(inside.notices[0]).toMatch(/^warning: the master key file .* lies inside the data folder/)
  })

  it('prefers CTL_MASTER_KEY and writes no file then; refuses a malformed key', () => {
    const key = randomBytes(32)
    expect(loadMasterKey({ dataDir: data(), env: env({ CTL_MASTER_KEY: key.toString('hex') }) })).toEqual({ key, source: 'env', notices: [] })
    expect(fs.existsSync(path.join(home(), 'keys'))).toBe(false)
    expect(() => loadMasterKey({ dataDir: data(), env: env({ CTL_MASTER_KEY: 'abc' }) })).toThrow(/CTL_MASTER_KEY must be 32 bytes/)
    fs.mkdirSync(path.join(home(), 'keys'), { recursive: true })
    fs.writeFileSync(defaultMasterKeyFile(data(), env()), 'garbage\n')
    expect(() => loadMasterKey({ dataDir: data(), env: env() })).toThrow(/not a valid master key/)
  })

  it('verifyMasterKey records the key on first start and refuses another key later', async () => {
    const store = await openTestStore(dir)
    try {
      const a = new SecretBox(randomBytes(32))
      await verifyMasterKey(store, a)
      expect(await store.getMeta(KEY_CHECK_META)).toBe(a.keyCheck())
      await verifyMasterKey(store, a)
      const err = await verifyMasterKey(store, new SecretBox(randomBytes(32))).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(CtlError)
      expect((err as CtlError).code).toBe('E_USAGE')
    } finally {
      await store.close()
    }
  })
})

describe('sealing', () => {
  const box = new SecretBox(randomBytes(32))

  it('seals data and files values (fresh IV each time), keeps keys and the rest readable, and opens them again', () => {
    const m = secret('db', { PASSWORD: 'pw-1', USER: 'u' }, { 'cert.pem': '-----BEGIN-----\nabc\n' })
    const a = sealSecretManifest('secret', m, box)
    const b = sealSecretManifest('secret', m, box)
    const body = (a.manifest as { secret: { data: Record<string, string>; files: Record<string, string>; type: string } }).secret
    expect(Object.keys(body.data)).toEqual(['PASSWORD', 'USER'])
    expect(Object.values(body.data).every(isSealed)).toBe(true)
    expect(isSealed(body.files['cert.pem'])).toBe(true)
    expect(body.type).toBe('key-value')
    expect(JSON.stringify(a.manifest)).not.toContain('pw-1')
    expect(JSON.stringify(a.manifest)).not.toEqual(JSON.stringify(b.manifest))
    // The hash source is the same for the same values (so "unchanged" works) and holds no value.
    expect(a.hashSource).toEqual(b.hashSource)
    expect(JSON.stringify(a.hashSource)).not.toContain('pw-1')
    expect(sealSecretManifest('secret', secret('db', { PASSWORD: 'pw-2', USER: 'u' }), box).hashSource).not.toEqual(a.hashSource)
    expect(openSecretManifest('secret', a.manifest, box)).toEqual(m)
    expect(openSecretValues(a.manifest, box)).toEqual({ PASSWORD: 'pw-1', USER: 'u', 'cert.pem': '-----BEGIN-----\nabc\n' })
  })

  it('a ciphertext opens only with its key and in its place (secret, workspace, key)', () => {
    const sealed = sealSecretManifest('secret', secret('db', { PASSWORD: 'pw-1' }), box).manifest as ReturnType<typeof secret>
    const other = new SecretBox(randomBytes(32))
    expect(() => openSecretValues(sealed, other)).toThrow(/cannot decrypt value PASSWORD of secret db in workspace public: it was sealed with another master key/)
    const moved = secret('db2', { PASSWORD: sealed.secret.data.PASSWORD! })
    expect(() => openSecretValues(moved, box)).toThrow(CtlError)
    const renamedKey = secret('db', { OTHER: sealed.secret.data.PASSWORD! })
    expect(() => openSecretValues(renamedKey, box)).toThrow(CtlError)
    const tampered = secret('db', { PASSWORD: sealed.secret.data.PASSWORD!.slice(0, -4) + 'AAAA' })
    expect(() => openSecretValues(tampered, box)).toThrow(CtlError)
  })

  it('instance-secrets are sealed too; other types pass through; values stored before sealing still read', () => {
    const inst = { ...secret('shared', { K: 'v-inst' }, {}, undefined), meta: { name: 'shared', version: 'v1', type: 'instance-secret', tags: [], layer: 'user' } }
    const sealed = sealSecretManifest('instance-secret', inst, box)
    expect(JSON.stringify(sealed.manifest)).not.toContain('v-inst')
    expect(openSecretValues(sealed.manifest, box)).toEqual({ K: 'v-inst' })
    const wf = { meta: { name: 'w', type: 'workflow' }, workflow: { dag: [] } }
    expect(sealSecretManifest('workflow', wf, box)).toEqual({ manifest: wf, hashSource: undefined })
    expect(openSecretValues(secret('legacy', { K: 'plain' }), box)).toEqual({ K: 'plain' })
    expect(() => openSecretValues(sealed.manifest, undefined)).toThrow(/encrypted and no master key/)
  })

  it('sealForStore refuses to store a secret without a master key', () => {
    expect(() => sealForStore(undefined, 'secret', secret('db', { K: 'v' }))).toThrow(/no master key/)
    expect(sealForStore(undefined, 'volume', { a: 1 })).toEqual({ manifest: { a: 1 }, hashSource: undefined })
  })
})

describe('locateSecretRef', () => {
  it('finds v2alpha projection ids, v1 secrets names and dataosSecrets names', () => {
    const v2 = { spec: { dag: [{ name: 'a', spec: { use: { projection: { secrets: [{ id: 'x', contextAlias: 'x' }, { id: 'db', contextAlias: 'd' }] } } } }] } }
    expect(locateSecretRef(v2, 'db')).toEqual(['spec', 'dag', 0, 'spec', 'use', 'projection', 'secrets', 1, 'id'])
    const v1 = { workflow: { dag: [{ spec: { secrets: ['db'], dataosSecrets: [{ name: 'other' }] } }] } }
    expect(locateSecretRef(v1, 'db')).toEqual(['workflow', 'dag', 0, 'spec', 'secrets', 0])
    expect(locateSecretRef(v1, 'other')).toEqual(['workflow', 'dag', 0, 'spec', 'dataosSecrets', 0, 'name'])
    expect(locateSecretRef(v1, 'missing')).toBeUndefined()
  })
})
