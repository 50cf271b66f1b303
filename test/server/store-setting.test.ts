// Choosing the store: `--store`, CTL_STORE and the config file's `store` layered like every server setting, a
// SQLite path made absolute (relative to the file in the file), an unknown scheme refused with the file's line,
// and a password in the URL never shown (one helper, redactUrl).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CtlError, ManifestError, formatIssue } from '../../src/errors.js'
import { SERVER_CONFIG_FILE, resolveServerSettings } from '../../src/controlplane/config-file.js'
import { redactUrl, storeKindOf } from '../../src/store/url.js'
import { storeAnswers } from '../../src/http/app.js'
import { openStore } from '../../src/store/open.js'

const root = mkdtempSync(join(tmpdir(), 'ctl-store-setting-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let count = 0
function folder(text?: string): string {
  const dir = join(root, `case-${++count}`)
  mkdirSync(dir)
  if (text !== undefined) writeFileSync(join(dir, SERVER_CONFIG_FILE), text)
  return dir
}

describe('redactUrl', () => {
  it('masks the password in the user info and in the query, and nothing else', () => {
    expect(redactUrl('postgresql://ctl:s3cret@db:5432/ctl')).toBe('postgresql://ctl:***@db:5432/ctl')
    // Unencoded characters a URL should not hold in a password are still masked.
    expect(redactUrl('postgresql://ctl:pa/ss@w?rd@db/ctl')).toBe('postgresql://ctl:***@db/ctl')
    expect(redactUrl('postgres://:only@db/ctl')).toBe('postgres://:***@db/ctl')
    expect(redactUrl('postgresql://db/ctl?user=ctl&password=s3cret&sslmode=require')).toBe('postgresql://db/ctl?user=ctl&password=***&sslmode=require')
    expect(redactUrl('postgresql://db/ctl?sslpassword=k')).toBe('postgresql://db/ctl?sslpassword=***')
    expect(redactUrl('postgresql://ctl@db/ctl')).toBe('postgresql://ctl@db/ctl')
    expect(redactUrl('/var/lib/ctl/ctl.db')).toBe('/var/lib/ctl/ctl.db')
  })

  it('an unknown scheme is refused without its password', () => {
    const err = (() => {
      try {
        storeKindOf('mysql://root:hunter2@db/ctl')
      } catch (e) {
        return e as CtlError
      }
    })()
    expect(err?.code).toBe('E_USAGE')
    expect(err?.message).not.toContain('hunter2')
    expect(err?.message).toContain('mysql://root:***@db/ctl')
  })

  it('text that is neither a URL nor a plain path is refused, and not shown (it may hold a password)', () => {
    for (const text of ['host=db user=ctl password=s3cret dbname=ctl', 'postgresql:ctl:s3cret@db/ctl', 'postgres:ctl@db', 'dbname=ctl', 'mysql:s3cret@db', '/var/lib/ctl/password-s3cret.db']) {
      let err: CtlError | undefined
      try {
        storeKindOf(text)
      } catch (e) {
        err = e as CtlError
      }
      expect(err?.code, text).toBe('E_USAGE')
      expect(err?.message, text).not.toContain('s3cret')
      expect(err?.message, text).not.toContain('db')
    }
    for (const path of ['/var/lib/ctl/ctl.db', 'ctl.db', './data/ctl.db', 'sqlite:/tmp/x.db', 'C:\\ctl\\ctl.db', ':memory:']) expect(storeKindOf(path), path).toBe('sqlite')
  })
})

describe('the store setting', () => {
  it('defaults to the data folder (no storeUrl); the flag beats CTL_STORE, which beats the file', async () => {
    expect((await resolveServerSettings({ flags: {}, env: {}, dataDir: folder() })).options.storeUrl).toBeUndefined()
    const dir = folder('store: postgresql://from-file@db/ctl\n')
    const file = await resolveServerSettings({ flags: {}, env: {}, dataDir: dir })
    expect(file.options.storeUrl).toBe('postgresql://from-file@db/ctl')
    expect(file.source.settings.store).toBe('file')
    const env = await resolveServerSettings({ flags: {}, env: { CTL_STORE: 'postgresql://from-env@db/ctl' }, dataDir: dir })
    expect(env.options.storeUrl).toBe('postgresql://from-env@db/ctl')
    expect(env.source.settings.store).toBe('env')
    const flag = await resolveServerSettings({ flags: { store: 'postgresql://from-flag@db/ctl' }, env: { CTL_STORE: 'postgresql://from-env@db/ctl' }, dataDir: dir })
    expect(flag.options.storeUrl).toBe('postgresql://from-flag@db/ctl')
    // A detached child gets it through its environment, not its command line.
    expect(flag.childEnv['CTL_STORE']).toBe('postgresql://from-flag@db/ctl')
  })

  it('a SQLite path is relative to the config file there, to the working folder on the command line', async () => {
    const dir = folder('store: sqlite:shared/ctl.db\n')
    expect((await resolveServerSettings({ flags: {}, env: {}, dataDir: dir })).options.storeUrl).toBe(join(dir, 'shared/ctl.db'))
    expect((await resolveServerSettings({ flags: { store: 'x/ctl.db' }, env: {}, dataDir: folder() })).options.storeUrl).toBe(join(process.cwd(), 'x/ctl.db'))
  })

  it('a libpq connection string on the command line: E_USAGE naming the flag, never the value', async () => {
    const flag = await resolveServerSettings({ flags: { store: 'host=db user=ctl password=s3cret' }, env: {}, dataDir: folder() }).catch((e: unknown) => e)
    expect(flag).toBeInstanceOf(CtlError)
    expect((flag as CtlError).code).toBe('E_USAGE')
    expect((flag as CtlError).message).toMatch(/^--store: the store is neither/)
    expect((flag as CtlError).message).not.toContain('s3cret')
  })

  it('an unknown scheme: the flag and the file are refused, the file with its line, no password shown', async () => {
    const flag = await resolveServerSettings({ flags: { store: 'mysql://root:hunter2@db/ctl' }, env: {}, dataDir: folder() }).catch((e: unknown) => e)
    expect(flag).toBeInstanceOf(CtlError)
    expect((flag as CtlError).message).toMatch(/^--store: unknown store URL scheme in "mysql:\/\/root:\*\*\*@db\/ctl"/)
    const dir = folder('port: 8080\nstore: mysql://root:hunter2@db/ctl\n')
    const file = await resolveServerSettings({ flags: {}, env: {}, dataDir: dir }).catch((e: unknown) => e)
    expect(file).toBeInstanceOf(ManifestError)
    const lines = (file as ManifestError).issues.map((i) => formatIssue({ ...i, file: i.file.slice(dir.length + 1) }))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^server\.yaml:2:\d+\s+store: unknown store URL scheme/)
    expect(lines[0]).not.toContain('hunter2')
  })
})

describe('readiness of the store', () => {
  it('a store that answers is ready; a closed one is not', async () => {
    const store = await openStore(join(folder(), 'ctl.db'))
    expect(await storeAnswers(store)).toBe(true)
    await store.close()
    expect(await storeAnswers(store)).toBe(false)
  })
})
