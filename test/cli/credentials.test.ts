// Where `ctl login` keeps API keys: the OS keychain through @napi-rs/keyring when one answers
// (a real Secret Service: gnome-keyring on a private D-Bus session), else a 0600 file with one
// warning line. Real stores, real `ctl` processes, a real embedded control plane.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FileCredentialStore, KeychainCredentialStore, openCredentialStore } from '../../src/cli/credentials.js'
import { CtlError } from '../../src/errors.js'
import { cliEntry, repoRoot, runCli, type CliResult } from './helpers.js'

const tmp = mkdtempSync(join(tmpdir(), 'ctl-cred-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n')
  expect(lines).toHaveLength(1)
  return lines[0]!
}

const haveScript = spawnSync('sh', ['-c', 'command -v script']).status === 0

/** No session bus: on Linux the Secret Service cannot answer, whatever the machine has. */
const noBus = { DBUS_SESSION_BUS_ADDRESS: '' }

describe('FileCredentialStore', () => {
  it('keeps keys per context in a file only its owner can read, and removes the file with the last key', async () => {
    const file = join(tmp, 'file-store', 'credentials.yaml')
    const store = new FileCredentialStore(file)
    expect(await store.get('prod')).toBeUndefined()
    await store.set('prod', 'key-1')
    await store.set('staging', 'key-2')
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(await store.get('prod')).toBe('key-1')
    expect(await store.delete('prod')).toBe(true)
    expect(await store.delete('prod')).toBe(false)
    expect(await store.get('staging')).toBe('key-2')
    await store.delete('staging')
    expect(existsSync(file)).toBe(false)
  })
})

describe.runIf(process.platform === 'linux')('openCredentialStore without a keychain', () => {
  it('falls back to $CTL_HOME/credentials.yaml with one warning line naming it', async () => {
    const home = join(tmp, 'fallback')
    const warnings: string[] = []
    const store = await openCredentialStore({ env: { CTL_HOME: home, ...noBus }, warn: (l) => warnings.push(l) })
    expect(store.kind).toBe('file')
    expect(store.location).toBe(join(home, 'credentials.yaml'))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/^warning: no OS keychain available \(.+\); API keys are stored in .+credentials\.yaml \(mode 0600\)$/)
    expect(warnings[0]).toContain(join(home, 'credentials.yaml'))
  })

  it('refuses when CTL_CREDENTIALS=keychain demands one, and skips it silently with CTL_CREDENTIALS=file', async () => {
    const home = join(tmp, 'demand')
    await expect(openCredentialStore({ env: { CTL_HOME: home, CTL_CREDENTIALS: 'keychain', ...noBus } })).rejects.toMatchObject({ code: 'E_UNAVAILABLE' })
    await expect(KeychainCredentialStore.open({ CTL_HOME: home, ...noBus })).rejects.toBeInstanceOf(CtlError)
    const warnings: string[] = []
    const store = await openCredentialStore({ env: { CTL_HOME: home, CTL_CREDENTIALS: 'file' }, warn: (l) => warnings.push(l) })
    expect(store.kind).toBe('file')
    expect(warnings).toEqual([])
    await expect(openCredentialStore({ env: { CTL_HOME: home, CTL_CREDENTIALS: 'vault' } })).rejects.toMatchObject({ code: 'E_USAGE' })
  })
})

describe.runIf(process.platform === 'linux')('ctl login with the file fallback', () => {
  const home = join(tmp, 'login-home')
  const env = { CTL_HOME: home, CTL_APIKEY: '', ...noBus }
  const ctl = (args: string[], extra: NodeJS.ProcessEnv = {}, input?: string): Promise<CliResult> => runCli(args, { env: { ...env, ...extra }, input })
  let url = ''
  let adminKey = ''

  beforeAll(async () => {
    const started = await ctl(['server', 'start', '--detach', '-p', '0'])
    expect(started.code, started.stderr).toBe(0)
    url = /running at (http:\S+)/.exec(started.stdout)![1]!
    adminKey = readFileSync(join(home, 'server', 'admin.apikey'), 'utf8').trim()
  })
  afterAll(async () => {
    await ctl(['server', 'stop'])
  })

  it('refuses a key the control plane does not know (exit 4) and stores nothing', async () => {
    const r = await ctl(['login', '--server', url, '--apikey', 'ctl_not-a-real-key'])
    expect(r.code).toBe(4)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/^error: /)
    expect(existsSync(join(home, 'credentials.yaml'))).toBe(false)
  })

  it('checks the key, stores it in a 0600 file with one warning line, and adds and selects a context for --server', async () => {
    const r = await ctl(['login', '--server', url, '--apikey', adminKey])
    expect(r.code, r.stderr).toBe(0)
    const file = join(home, 'credentials.yaml')
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^warning: no OS keychain available .*credentials\.yaml \(mode 0600\)$/)])
    expect(r.stderr).toContain(file)
    expect(r.stdout).toMatch(/^logged in to http:\/\/127\.0\.0\.1:\d+ \(context "127\.0\.0\.1-\d+"\) as admin /)
    expect(r.stdout).toContain(`API key stored in ${file}`)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(readFileSync(file, 'utf8')).toContain(adminKey)
    const contexts = await ctl(['context', 'list', '-o', 'json'])
    expect(JSON.parse(contexts.stdout)).toMatchObject({ currentContext: expect.stringMatching(/^127\.0\.0\.1-\d+$/) })
  })

  it('then `ctl resource get` works with the stored key, and CTL_APIKEY overrides it', async () => {
    const ok = await ctl(['resource', 'get', '-a'])
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stderr).toBe('')
    const overridden = await ctl(['resource', 'get', '-a'], { CTL_APIKEY: 'ctl_wrong' })
    expect(overridden.code).toBe(4)
    expect(overridden.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('reads the key from standard input with --apikey -, and never asks without a terminal', async () => {
    const piped = await ctl(['login', '--apikey', '-'], {}, `${adminKey}\n`)
    expect(piped.code, piped.stderr).toBe(0)
    const noKey = await ctl(['login'])
    expect(noKey.code).toBe(2)
    expect(noKey.stderr).toContain('give --apikey KEY')
  })

  // `script` gives ctl a terminal; the key typed there must not be echoed back.
  it.runIf(haveScript)('asks for the key on a terminal without echoing it', async () => {
    const out = await new Promise<{ code: number | null; text: string }>((resolve, reject) => {
      const child = spawn('script', ['-qfec', `"${process.execPath}" "${cliEntry}" login`, '/dev/null'], { env: { ...process.env, ...env, NO_COLOR: '1' } })
      let text = ''
      let typed = false
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        text += d
        if (!typed && text.includes('API key for')) {
          typed = true
          child.stdin.write(`${adminKey}\r`)
        }
      })
      child.on('error', reject)
      child.on('close', (code) => (clearTimeout(timer), resolve({ code, text })))
    })
    expect(out.code, out.text).toBe(0)
    expect(out.text).toMatch(/API key for http:\/\/127\.0\.0\.1:\d+: /)
    expect(out.text).toMatch(/logged in to .* as admin /)
    expect(out.text).not.toContain(adminKey)
  })

  it('logout removes the stored key: the remote context is then unauthenticated', async () => {
    const out = await ctl(['logout'])
    expect(out.code, out.stderr).toBe(0)
    expect(out.stdout).toMatch(/^logged out of context "127\.0\.0\.1-\d+": removed its API key from .*credentials\.yaml$/m)
    expect(existsSync(join(home, 'credentials.yaml'))).toBe(false)
    const denied = await ctl(['resource', 'get', '-a'])
    expect(denied.code).toBe(4)
    const again = await ctl(['logout'])
    expect(again.stdout).toMatch(/^no API key was stored for context/)
  })

  it('answers too many failed logins of one key prefix from one client with exit 4 and a one-line reason (429)', async () => {
    let last: CliResult | undefined
    for (let i = 0; i < 12; i++) {
      // Guesses that share their prefix: failures are counted per client address and key prefix.
      last = await ctl(['login', '--apikey', `ctl_wrong-guess-${i}`])
      expect(last.code).toBe(4)
      if (/rate|too many/i.test(last.stderr)) break
    }
    expect(oneLine(last!.stderr)).toMatch(/^error: .*(rate|too many)/i)
  })
})

// The library's own behaviour with a real keychain: a private session bus and an unlocked
// gnome-keyring, made the way CI makes them (see .ci/run).
const haveKeyring = ['gnome-keyring-daemon', 'dbus-run-session'].every((p) => spawnSync('sh', ['-c', `command -v ${p}`]).status === 0)
const keyringSkip = haveKeyring ? '' : ' (SKIPPED: gnome-keyring-daemon or dbus-run-session is not installed; apt-get install gnome-keyring dbus)'

function inKeyringSession(script: string, extraEnv: NodeJS.ProcessEnv = {}): { result: Record<string, unknown>; stderr: string } {
  const dir = mkdtempSync(join(tmp, 'keyring-'))
  const runtimeDir = join(dir, 'run')
  mkdirSync(runtimeDir, { mode: 0o700 })
  const file = join(dir, 'script.mjs')
  writeFileSync(file, script)
  const r = spawnSync('dbus-run-session', ['--', 'sh', '-c', `eval "$(printf pw | gnome-keyring-daemon --unlock --components=secrets)"; exec "${process.execPath}" "${file}"`], {
    // A fresh HOME: a new login keyring, unlocked with the password given; never the user's own.
    env: { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_RUNTIME_DIR: runtimeDir, CTL_HOME: join(dir, 'ctl'), CTL_APIKEY: '', CTL_CREDENTIALS: '', ...extraEnv },
    encoding: 'utf8',
    timeout: 60_000,
  })
  const last = r.stdout.trim().split('\n').pop() ?? ''
  if (r.status !== 0 || !last.startsWith('{')) throw new Error(`keyring session failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`)
  return { result: JSON.parse(last) as Record<string, unknown>, stderr: r.stderr }
}

const credentialsModule = pathToFileURL(join(repoRoot, 'dist', 'src', 'cli', 'credentials.js')).href

describe.runIf(haveKeyring)(`the OS keychain through @napi-rs/keyring${keyringSkip}`, () => {
  it('stores, reads and deletes through KeychainCredentialStore, and openCredentialStore picks it without a warning', () => {
    const { result } = inKeyringSession(`
      import { KeychainCredentialStore, openCredentialStore } from ${JSON.stringify(credentialsModule)}
      const store = await KeychainCredentialStore.open(process.env)
      const out = { kind: store.kind, before: (await store.get('prod')) ?? null }
      await store.set('prod', 'ctl_secret-1')
      out.got = await store.get('prod')
      await store.set('prod', 'ctl_secret-2')
      out.replaced = await store.get('prod')
      // Another CTL_HOME is another account: it does not see this key.
      const other = await KeychainCredentialStore.open({ ...process.env, CTL_HOME: process.env.CTL_HOME + '-other' })
      out.otherHome = (await other.get('prod')) ?? null
      out.deleted = await store.delete('prod')
      out.after = (await store.get('prod')) ?? null
      out.deletedAgain = await store.delete('prod')
      const warnings = []
      const opened = await openCredentialStore({ env: process.env, warn: (l) => warnings.push(l) })
      out.opened = opened.kind
      out.warnings = warnings
      console.log(JSON.stringify(out))
    `)
    expect(result).toEqual({
      kind: 'keychain', before: null, got: 'ctl_secret-1', replaced: 'ctl_secret-2', otherHome: null,
      deleted: true, after: null, deletedAgain: false, opened: 'keychain', warnings: [],
    })
  })

  it('ctl login stores the key in the keychain (no file, no warning), ctl resource get uses it, ctl logout removes it', () => {
    if (!existsSync(join(repoRoot, 'dist', 'commands'))) throw new Error('dist/ is missing: run `npm run build` (npm test does it)')
    const { result } = inKeyringSession(`
      import { spawn, spawnSync } from 'node:child_process'
      import { existsSync, readFileSync } from 'node:fs'
      import { join } from 'node:path'
      import { KeychainCredentialStore } from ${JSON.stringify(credentialsModule)}
      const ctl = (...args) => {
        const r = spawnSync(process.execPath, [${JSON.stringify(cliEntry)}, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } })
        return { code: r.status, stdout: r.stdout, stderr: r.stderr }
      }
      const home = process.env.CTL_HOME
      const out = {}
      const started = ctl('server', 'start', '--detach', '-p', '0')
      try {
        const url = /running at (http:\\S+)/.exec(started.stdout)[1]
        const adminKey = readFileSync(join(home, 'server', 'admin.apikey'), 'utf8').trim()
        const login = ctl('login', '--server', url, '--apikey', adminKey, '--context', 'kc')
        out.login = { code: login.code, stdout: login.stdout, stderr: login.stderr }
        out.fileAfterLogin = existsSync(join(home, 'credentials.yaml'))
        const store = await KeychainCredentialStore.open(process.env)
        out.inKeychain = (await store.get('kc')) === adminKey
        const get = ctl('resource', 'get', '-a')
        out.get = { code: get.code, stderr: get.stderr }
        const logout = ctl('logout')
        out.logout = { code: logout.code, stdout: logout.stdout }
        out.afterLogout = (await store.get('kc')) ?? null
        out.getAfterLogout = ctl('resource', 'get', '-a').code
      } finally {
        ctl('server', 'stop')
      }
      console.log(JSON.stringify(out))
    `)
    expect(result.login).toMatchObject({ code: 0, stderr: '' })
    expect((result.login as { stdout: string }).stdout).toMatch(/^logged in to http:\/\/127\.0\.0\.1:\d+ \(context "kc"\) as admin .*\nAPI key stored in the OS keychain \(service "ctl"\)\n$/)
    expect(result.fileAfterLogin).toBe(false)
    expect(result.inKeychain).toBe(true)
    expect(result.get).toEqual({ code: 0, stderr: '' })
    expect(result.logout).toEqual({ code: 0, stdout: 'logged out of context "kc": removed its API key from the OS keychain (service "ctl")\n' })
    expect(result.afterLogout).toBeNull()
    expect(result.getAfterLogout).toBe(4)
  })
})
