// `ctl server start` and the master key, through the built CLI: an embedded data folder from an older
// version (master.key inside) has its key moved to $CTL_HOME/keys/master.key, and the command says so;
// --master-key-file names another file, and a copy of the data folder without its key does not start.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli } from './helpers.js'

const home = mkdtempSync(join(tmpdir(), 'ctl-cli-mk-'))
const env = { CTL_HOME: home, CTL_APIKEY: '', CTL_MASTER_KEY: '', CTL_MASTER_KEY_FILE: '' }
const ctl = (args: string[]) => runCli(args, { env })
afterAll(async () => {
  await ctl(['server', 'stop'])
  await ctl(['server', 'stop', '--data-dir', join(home, 'copy')])
  rmSync(home, { recursive: true, force: true })
})

describe('ctl server start and the master key', () => {
  it('moves an old <data-dir>/master.key to $CTL_HOME/keys/master.key and says so; a second start says nothing', async () => {
    const dataDir = join(home, 'server')
    mkdirSync(dataDir, { recursive: true, mode: 0o700 })
    const key = randomBytes(32).toString('base64')
    writeFileSync(join(dataDir, 'master.key'), `${key}\n`, { mode: 0o600 })
    const started = await ctl(['server', 'start', '--detach', '-p', '0'])
    expect(started.code).toBe(0)
    const target = join(home, 'keys', 'master.key')
    expect(started.stderr).toContain(`moved the master key out of the data folder: ${join(dataDir, 'master.key')} → ${target}`)
    expect(readFileSync(target, 'utf8').trim()).toBe(key)
    expect(statSync(target).mode & 0o777).toBe(0o600)
    expect(existsSync(join(dataDir, 'master.key'))).toBe(false)
    expect((await ctl(['server', 'stop'])).code).toBe(0)
    const again = await ctl(['server', 'start', '--detach', '-p', '0'])
    expect(again.code).toBe(0)
    expect(again.stderr).not.toContain('master key')
    // A secret sealed now, for the copy below.
    const applied = await runCli(['resource', 'apply', '-f', '-'], {
      env, input: 'name: db\nversion: v1\ntype: secret\nsecret:\n  type: key-value\n  acl: r\n  data:\n    PASSWORD: hunter2-xyz\n',
    })
    expect(applied.code).toBe(0)
    expect((await ctl(['server', 'stop'])).code).toBe(0)
  })

  it('a copy of the data folder does not start without its key, and starts with --master-key-file', async () => {
    const copy = join(home, 'copy')
    cpSync(join(home, 'server'), copy, { recursive: true })
    const refused = await ctl(['server', 'start', '--detach', '-p', '0', '--data-dir', copy])
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/no master key at .*, and the secrets in .*copy were sealed with one/)
    const started = await ctl(['server', 'start', '--detach', '-p', '0', '--data-dir', copy, '--master-key-file', join(home, 'keys', 'master.key')])
    expect(started.code).toBe(0)
    expect((await ctl(['server', 'stop', '--data-dir', copy])).code).toBe(0)
  })
})
