// Secret values at rest: AES-256-GCM under a key derived from the master key, which comes
// from CTL_MASTER_KEY or a key file outside the data folder (see master-key.ts). The store only
// ever sees `enc:v1:<base64(iv|tag|ciphertext)>`; its content hash is computed over HMACs of
// the values instead, so applying the same secret twice still answers `unchanged` although
// every seal draws a fresh IV.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto'
import { CtlError } from '../errors.js'

export const MASTER_KEY_FILE = 'master.key'
export const MASTER_KEY_ENV = 'CTL_MASTER_KEY'
/** Store meta entry: an HMAC that tells whether the key at hand is the one this data dir's secrets were sealed with. */
export const KEY_CHECK_META = 'secrets_key_check'

const SEALED_PREFIX = 'enc:v1:'
const IV_BYTES = 12
const TAG_BYTES = 16
const KEY_BYTES = 32

/** The two `secret` body fields whose values are sealed; key names stay readable. */
export const SEALED_FIELDS = ['data', 'files'] as const
const SECRET_TYPES: ReadonlySet<string> = new Set(['secret', 'instance-secret'])

export function isSecretType(type: string): boolean {
  return SECRET_TYPES.has(type)
}

export function isSealed(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(SEALED_PREFIX)
}

/** 32 bytes from hex (64 digits) or base64 / base64url; undefined when it is neither. */
export function parseMasterKey(text: string): Buffer | undefined {
  const t = text.trim()
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex')
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) {
    const b = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
    if (b.length === KEY_BYTES) return b
  }
  return undefined
}


/** Seals, opens and MACs secret values. Keeps only keys derived from the master key, never the master key itself. */
export class SecretBox {
  private readonly encKey: Buffer
  private readonly macKey: Buffer

  constructor(masterKey: Buffer) {
    if (masterKey.length !== KEY_BYTES) throw new CtlError('E_INTERNAL', `the master key must be ${KEY_BYTES} bytes, not ${masterKey.length}`)
    // Separate keys per purpose: a MAC published as a content hash says nothing about the cipher key.
    this.encKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'ctl secrets aes-256-gcm v1', KEY_BYTES))
    this.macKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'ctl secrets hmac-sha256 v1', KEY_BYTES))
  }

  /** `context` names where the value belongs (bound as associated data: a ciphertext copied elsewhere does not open). */
  seal(plain: string, context: string): string {
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.encKey, iv)
    cipher.setAAD(Buffer.from(context, 'utf8'))
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
    return SEALED_PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')
  }

  open(sealed: string, context: string): string {
    if (!isSealed(sealed)) return sealed // stored before secrets were encrypted
    const raw = Buffer.from(sealed.slice(SEALED_PREFIX.length), 'base64')
    if (raw.length < IV_BYTES + TAG_BYTES) throw undecryptable(context)
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.encKey, raw.subarray(0, IV_BYTES))
      decipher.setAAD(Buffer.from(context, 'utf8'))
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES))
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8')
    } catch {
      throw undecryptable(context)
    }
  }

  /** Keyed digest of a value: equal values give equal digests, and nothing about the value can be learnt without the key. */
  mac(value: string, context: string): string {
    return 'hmac:' + createHmac('sha256', this.macKey).update(context).update('\u0000').update(value).digest('hex')
  }

  /** What KEY_CHECK_META holds for this key. */
  keyCheck(): string {
    return this.mac('key check', 'ctl')
  }
}

function undecryptable(context: string): CtlError {
  return new CtlError('E_SECRET', `cannot decrypt ${placeOf(context)}: it was sealed with another master key `
    + `(was ${MASTER_KEY_ENV} or the master key file changed?)`)
}

/**
 * Refuses a master key other than the one this data dir's secrets were sealed with (e.g. a lost
 * master.key silently replaced by a new one). The first start records the check value.
 */
export async function verifyMasterKey(meta: { getMeta(key: string): Promise<string | undefined>; setMeta(key: string, value: string): Promise<void> }, box: SecretBox): Promise<void> {
  const expected = box.keyCheck()
  const stored = await meta.getMeta(KEY_CHECK_META)
  if (stored === undefined) {
    await meta.setMeta(KEY_CHECK_META, expected)
    return
  }
  const a = Buffer.from(stored)
  const b = Buffer.from(expected)
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new CtlError('E_USAGE', `the master key (${MASTER_KEY_ENV} or the master key file) is not the one this data dir's secrets were sealed with; `
      + 'start with the original key')
  }
}

/** `value PASSWORD of secret db in workspace public` from a context string. */
function placeOf(context: string): string {
  const [type, ws, name, , key] = context.replace(/^secret:/, '').split('/')
  return `value ${key} of ${type} ${name}${ws ? ` in workspace ${ws}` : ''}`
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

/** `secret:<type>/<workspace>/<name>/<field>/<key>`: where a value belongs, bound into its ciphertext. */
function contextOf(manifest: Obj, field: string, key: string): string {
  const meta = isObj(manifest.meta) ? manifest.meta : {}
  return `secret:${String(meta.type)}/${typeof meta.workspace === 'string' ? meta.workspace : ''}/${String(meta.name)}/${field}/${key}`
}

/** A copy of a stored secret manifest with every data / files value passed through `fn`. */
function mapValues(manifest: unknown, fn: (value: string, context: string) => string): unknown {
  if (!isObj(manifest) || !isObj(manifest.secret)) return manifest
  const body: Obj = { ...manifest.secret }
  for (const field of SEALED_FIELDS) {
    const values = body[field]
    if (!isObj(values)) continue
    body[field] = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, typeof v === 'string' ? fn(v, contextOf(manifest, field, k)) : v]))
  }
  return { ...manifest, secret: body }
}

export interface SealedSecret {
  /** What the store keeps: values sealed. */
  manifest: unknown
  /** What the content hash is computed over: values replaced by their MACs. */
  hashSource: unknown
}

/**
 * Seals the values of a normalized `secret` / `instance-secret` manifest (`{meta, secret: {data, files}}`,
 * meta carrying type, name and, for workspace secrets, the workspace). Other types pass through.
 */
export function sealSecretManifest(type: string, manifest: unknown, box: SecretBox): SealedSecret {
  if (!isSecretType(type)) return { manifest, hashSource: undefined }
  return {
    manifest: mapValues(manifest, (v, ctx) => box.seal(v, ctx)),
    hashSource: mapValues(manifest, (v, ctx) => box.mac(v, ctx)),
  }
}

/** The stored manifest with its values in clear (for `get --unsanitized`). Values stored unsealed pass as they are. */
export function openSecretManifest(type: string, manifest: unknown, box: SecretBox): unknown {
  if (!isSecretType(type)) return manifest
  return mapValues(manifest, (v, ctx) => box.open(v, ctx))
}

/** Key → value in clear of a stored secret, `data` and `files` together (as projections see them). */
export function openSecretValues(manifest: unknown, box: SecretBox | undefined): Record<string, string> {
  const opened = box ? mapValues(manifest, (v, ctx) => box.open(v, ctx)) : manifest
  const body = isObj(opened) && isObj(opened.secret) ? opened.secret : {}
  const out: Record<string, string> = {}
  for (const field of SEALED_FIELDS) {
    const values = body[field]
    if (!isObj(values)) continue
    for (const [k, v] of Object.entries(values)) {
      if (typeof v !== 'string') continue
      if (isSealed(v)) throw new CtlError('E_SECRET', `${placeOf(contextOf(manifest as Obj, field, k))} is encrypted and no master key was given to read it`)
      out[k] = v
    }
  }
  return out
}

/**
 * A key for one purpose derived from the master key (HKDF-SHA256, `purpose` as info). Replicas share the
 * master key, so they derive the same key: what one signs, every other verifies, with no shared state.
 */
export function deriveKey(masterKey: Buffer, purpose: string): Buffer {
  if (masterKey.length !== KEY_BYTES) throw new CtlError('E_INTERNAL', `the master key must be ${KEY_BYTES} bytes, not ${masterKey.length}`)
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), `ctl ${purpose} v1`, KEY_BYTES))
}
