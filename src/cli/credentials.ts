// Where API keys live on the user's machine: the OS keychain (macOS Keychain, Windows
// Credential Manager, the Secret Service on Linux) through @napi-rs/keyring, else a
// 0600 file under $CTL_HOME. One small interface so callers do not care which.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { yaml } from './lazy-yaml.js'
import { ctlHome } from '../home.js'
import { CtlError } from '../errors.js'

export interface CredentialStore {
  readonly kind: 'keychain' | 'file'
  /** Where the keys are, for messages: the file path, or the keychain's service name. */
  readonly location: string
  get(context: string): Promise<string | undefined>
  set(context: string, apiKey: string): Promise<void>
  /** True when a key was there to remove. */
  delete(context: string): Promise<boolean>
}

export function credentialsFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(ctlHome(env), 'credentials.yaml')
}

/** `$CTL_HOME/credentials.yaml`, readable only by the user (mode 0600). */
export class FileCredentialStore implements CredentialStore {
  readonly kind = 'file' as const
  constructor(private readonly file: string = credentialsFile()) {}

  get location(): string {
    return this.file
  }

  private read(): Record<string, string> {
    if (!existsSync(this.file)) return {}
    const parsed = yaml().parse(readFileSync(this.file, 'utf8')) as { apikeys?: Record<string, string> } | null
    return parsed?.apikeys ?? {}
  }

  private write(keys: Record<string, string>): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 })
    const tmp = `${this.file}.${process.pid}.tmp`
    writeFileSync(tmp, yaml().stringify({ apikeys: keys }), { mode: 0o600 })
    renameSync(tmp, this.file)
    chmodSync(this.file, 0o600)
  }

  async get(context: string): Promise<string | undefined> {
    return this.read()[context]
  }

  async set(context: string, apiKey: string): Promise<void> {
    this.write({ ...this.read(), [context]: apiKey })
  }

  async delete(context: string): Promise<boolean> {
    const keys = this.read()
    if (!(context in keys)) return false
    delete keys[context]
    if (Object.keys(keys).length === 0) rmSync(this.file, { force: true })
    else this.write(keys)
    return true
  }
}

export const KEYCHAIN_SERVICE = 'ctl'

/** The part of @napi-rs/keyring's AsyncEntry that ctl uses. */
interface KeyringEntry {
  getPassword(): Promise<string | null>
  setPassword(password: string): Promise<void>
  deleteCredential(): Promise<boolean>
}
type KeyringModule = {
  AsyncEntry: new (service: string, account: string, options?: { linux?: { store?: 'secret-service' | 'keyutils' } }) => KeyringEntry
}

/**
 * The OS keychain. Entries are service `ctl`, account `CONTEXT@CTL_HOME`: two ctl homes
 * (say, a test's temp one and the user's) never read each other's keys.
 */
export class KeychainCredentialStore implements CredentialStore {
  readonly kind = 'keychain' as const
  readonly location: string
  private readonly home: string

  private constructor(private readonly keyring: KeyringModule, env: NodeJS.ProcessEnv, readonly service: string) {
    this.home = resolve(ctlHome(env))
    this.location = `the OS keychain (service "${service}")`
  }

  /** Loads the native module; throws a CtlError E_UNAVAILABLE saying why when there is no keychain. */
  static async open(env: NodeJS.ProcessEnv = process.env, opts: { service?: string; probe?: boolean } = {}): Promise<KeychainCredentialStore> {
    // On Linux the Secret Service lives on the session bus: without one the library
    // would fail anyway, so do not pay for loading it (this runs on every command).
    if (process.platform === 'linux' && !env.DBUS_SESSION_BUS_ADDRESS) {
      throw new CtlError('E_UNAVAILABLE', 'no D-Bus session bus for the Secret Service')
    }
    let keyring: KeyringModule
    try {
      keyring = (await import('@napi-rs/keyring')) as unknown as KeyringModule
    } catch (error) {
      throw new CtlError('E_UNAVAILABLE', `the keychain library did not load: ${firstLine(error)}`)
    }
    const store = new KeychainCredentialStore(keyring, env, opts.service ?? KEYCHAIN_SERVICE)
    // A locked or absent keychain only shows when it is asked: ask once now, harmlessly.
    if (opts.probe !== false) await store.get('(probe)')
    return store
  }

  private entry(context: string): KeyringEntry {
    try {
      // Pinned to the Secret Service on Linux: the kernel keyring (the library's other
      // choice) forgets everything at logout, which a stored login must survive.
      return new this.keyring.AsyncEntry(this.service, `${context}@${this.home}`, { linux: { store: 'secret-service' } })
    } catch (error) {
      throw keychainError(error)
    }
  }

  async get(context: string): Promise<string | undefined> {
    try {
      return (await this.entry(context).getPassword()) ?? undefined
    } catch (error) {
      throw keychainError(error)
    }
  }

  async set(context: string, apiKey: string): Promise<void> {
    try {
      await this.entry(context).setPassword(apiKey)
    } catch (error) {
      throw keychainError(error)
    }
  }

  async delete(context: string): Promise<boolean> {
    try {
      return await this.entry(context).deleteCredential()
    } catch (error) {
      throw keychainError(error)
    }
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!
}

function keychainError(error: unknown): CtlError {
  if (error instanceof CtlError) return error
  return new CtlError('E_UNAVAILABLE', `the OS keychain did not answer: ${firstLine(error)}`)
}

export interface OpenCredentialStoreOptions {
  env?: NodeJS.ProcessEnv
  /** Default true: ask the keychain once so a locked or absent one falls back now, not at first use. */
  probe?: boolean
  /** Called at most once, with one line, when the keychain is unavailable and the file is used. */
  warn?: (line: string) => void
}

/**
 * The keychain when one answers, else the 0600 file (with one warning line naming it).
 * `CTL_CREDENTIALS=file` skips the keychain; `CTL_CREDENTIALS=keychain` requires it.
 */
export async function openCredentialStore(opts: OpenCredentialStoreOptions = {}): Promise<CredentialStore> {
  const env = opts.env ?? process.env
  const file = new FileCredentialStore(credentialsFile(env))
  const wanted = env.CTL_CREDENTIALS?.trim().toLowerCase() || 'auto'
  if (!['auto', 'file', 'keychain'].includes(wanted)) {
    throw new CtlError('E_USAGE', `CTL_CREDENTIALS "${env.CTL_CREDENTIALS}" is not one of auto, file, keychain`)
  }
  if (wanted === 'file') return file
  try {
    return await KeychainCredentialStore.open(env, { probe: opts.probe })
  } catch (error) {
    if (wanted === 'keychain') throw keychainError(error)
    opts.warn?.(`warning: no OS keychain available (${firstLine(error)}); API keys are stored in ${file.location} (mode 0600)`)
    return file
  }
}

/**
 * The stored key of a context: the keychain first, then the file (a key stored there while
 * no keychain answered stays usable once one does).
 */
export async function storedApiKey(context: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  // No probe: the read itself tells whether the keychain answers (one round trip per command).
  const store = await openCredentialStore({ env, probe: false })
  const key = await store.get(context).catch(() => undefined)
  if (key) return key
  return store.kind === 'file' ? undefined : new FileCredentialStore(credentialsFile(env)).get(context)
}
