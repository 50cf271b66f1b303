// Where API keys live on the user's machine. One small interface so the OS
// keychain (added with logins) and the 0600 file fallback are interchangeable.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { yaml } from './lazy-yaml.js'
import { ctlHome } from './config.js'

export interface CredentialStore {
  readonly kind: 'keychain' | 'file'
  get(context: string): Promise<string | undefined>
  set(context: string, apiKey: string): Promise<void>
  delete(context: string): Promise<void>
}

/** `$CTL_HOME/credentials.yaml`, readable only by the user (mode 0600). */
export class FileCredentialStore implements CredentialStore {
  readonly kind = 'file' as const
  constructor(private readonly file: string = join(ctlHome(), 'credentials.yaml')) {}

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

  async delete(context: string): Promise<void> {
    const keys = this.read()
    delete keys[context]
    if (Object.keys(keys).length === 0) rmSync(this.file, { force: true })
    else this.write(keys)
  }
}
