// The work folder (--work-dir, CTL_WORK_DIR, workDir in the server config file), layered like every server setting:
// a relative path is relative to the file in the file, to the working folder on the command line; it reaches a
// detached child absolute; unset, runs and volumes stay in the data folder. A started control plane keeps its runs
// folder and volumes there, owner only.
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ManifestError, formatIssue } from '../../src/errors.js'
import { SERVER_CONFIG_FILE, resolveServerSettings } from '../../src/controlplane/config-file.js'
import { MAX_WORK_DIR_LENGTH } from '../../src/controlplane/config-load.js'
import { startControlPlane } from '../../src/controlplane/control-plane.js'

const root = mkdtempSync(join(tmpdir(), 'ctl-workdir-setting-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let count = 0
function folder(text?: string): string {
  const dir = join(root, `case-${++count}`)
  mkdirSync(dir)
  if (text !== undefined) writeFileSync(join(dir, SERVER_CONFIG_FILE), text)
  return dir
}

async function problems(text: string): Promise<string[]> {
  const dataDir = folder(text)
  const err = await resolveServerSettings({ flags: {}, env: {}, dataDir }).then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(ManifestError)
  return (err as ManifestError).issues.map((i) => formatIssue({ ...i, file: i.file.replace(`${dataDir}/`, '') }))
}

describe('the workDir setting', () => {
  it('defaults to the data folder (no workDir); the flag beats CTL_WORK_DIR, which beats the file (relative to the file)', async () => {
    const none = await resolveServerSettings({ flags: {}, env: {}, dataDir: folder() })
    expect(none.options).not.toHaveProperty('workDir')
    expect(none.childEnv).not.toHaveProperty('CTL_WORK_DIR')
    const dir = folder('workDir: ../shared-work\n')
    const fromFile = await resolveServerSettings({ flags: {}, env: {}, dataDir: dir })
    expect(fromFile.options.workDir).toBe(join(root, 'shared-work'))
    expect(fromFile.source.settings.workDir).toBe('file')
    expect(fromFile.childEnv.CTL_WORK_DIR).toBe(join(root, 'shared-work'))
    const fromEnv = await resolveServerSettings({ flags: {}, env: { CTL_WORK_DIR: '/srv/ctl/work' }, dataDir: dir })
    expect([fromEnv.options.workDir, fromEnv.source.settings.workDir]).toEqual(['/srv/ctl/work', 'env'])
    const fromFlag = await resolveServerSettings({ flags: { 'work-dir': 'work' }, env: { CTL_WORK_DIR: '/srv/ctl/work' }, dataDir: dir })
    expect([fromFlag.options.workDir, fromFlag.source.settings.workDir]).toEqual([resolve('work'), 'flag'])
    // The detached child gets the same folder whatever its working folder and config file.
    const child = await resolveServerSettings({ flags: {}, env: fromFlag.childEnv, dataDir: dir })
    expect(child.options.workDir).toBe(resolve('work'))
    const home = await resolveServerSettings({ flags: {}, env: {}, dataDir: folder('workDir: ~/ctl-work\n') })
    expect(home.options.workDir).toBe(join(homedir(), 'ctl-work'))
  })

  it('is a non-empty path of bounded length, located in the file', async () => {
    expect(await problems('port: 1\nworkDir: 42\n')).toEqual(['server.yaml:2:1  must be a string (workDir)'])
    expect((await problems('workDir: ""\n')).join('\n')).toContain('(workDir)')
    expect((await problems(`workDir: /${'x'.repeat(MAX_WORK_DIR_LENGTH)}\n`)).join('\n')).toContain('(workDir)')
    const long = await resolveServerSettings({ flags: { 'work-dir': `/${'x'.repeat(MAX_WORK_DIR_LENGTH)}` }, env: {}, dataDir: folder() }).then(() => undefined, (e: Error) => e)
    expect(long?.message).toBe(`--work-dir is longer than ${MAX_WORK_DIR_LENGTH} characters`)
  })
})

describe('a control plane with a work folder', () => {
  it('keeps runs and volumes there (owner only), and server.json, the admin key and the store in the data folder', async () => {
    const dataDir = folder()
    const workDir = join(root, 'work-of-plane')
    const plane = await startControlPlane({ dataDir, workDir, masterKeyFile: join(root, 'plane.key') })
    try {
      expect(existsSync(join(dataDir, 'admin.apikey'))).toBe(true)
      expect(existsSync(join(dataDir, 'ctl.db'))).toBe(true)
      for (const dir of [workDir, join(workDir, 'runs'), join(workDir, 'volumes')]) expect(statSync(dir).mode & 0o777, dir).toBe(0o700)
      // Nothing of the runs or volumes in the data folder.
      expect(existsSync(join(dataDir, 'runs'))).toBe(false)
      expect(existsSync(join(dataDir, 'volumes'))).toBe(false)
    } finally {
      await plane.close()
    }
  })
})
