// The master key and sealing of secret values: where the key comes from, what the store gets,
// and that a ciphertext opens only with its key and in its place.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CtlError } from '../../src/errors.js'
import { openSqliteStore } from '../../src/store/index.js'
import {
  KEY_CHECK_META, SecretBox, isSealed, loadMasterKey, openSecretManifest, openSecretValues, parseMasterKey, sealSecretManifest, verifyMasterKey,
} from '../../src/secrets/crypto.js'
import { sealForStore } from '../../src/server/secrets.js'
import { locateSecretRef } from '../../src/server/use-issues.js'

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

  it('creates <dataDir>/master.key (0600) on first use and reads the same key afterwards', () => {
    const first = loadMasterKey(dir, {})
    expect(first.source).toBe('created')
    const file = path.join(dir, 'master.key')
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    const again = loadMasterKey(dir, {})
    expect(again).toMatchObject({ source: 'file' })
    expect(again.key).toEqual(first.key)
    expect(fs.readdirSync(dir)).toEqual(['master.key']) // no temporary file left behind
  })

  it('prefers CTL_MASTER_KEY and writes no file then; refuses a malformed key', () => {
    const key = randomBytes(32)
    expect(loadMasterKey(dir, { CTL_MASTER_KEY: key.toString('hex') })).toEqual({ key, source: 'env' })
    expect(fs.existsSync(path.join(dir, 'master.key'))).toBe(false)
    expect(() => loadMasterKey(dir, { CTL_MASTER_KEY: 'abc' })).toThrow(/CTL_MASTER_KEY must be 32 bytes/)
    fs.writeFileSync(path.join(dir, 'master.key'), 'garbage\n')
    expect(() => loadMasterKey(dir, {})).toThrow(/not a valid master key/)
  })

  it('verifyMasterKey records the key on first start and refuses another key later', async () => {
    const store = openSqliteStore(path.join(dir, 'ctl.db'))
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
