// `ctl resource runtime suspend|resume` through the built CLI on the embedded control plane.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli, type CliResult } from './helpers.js'

const home = mkdtempSync(join(tmpdir(), 'ctl-cli-suspend-'))
const env = { CTL_HOME: home, CTL_PORT: '0', CTL_APIKEY: '' }
const ctl = (args: string[]): Promise<CliResult> => runCli(args, { env })

afterAll(async () => {
  await ctl(['server', 'stop'])
  rmSync(home, { recursive: true, force: true })
})

const holder = `
version: v2alpha
name: holder
type: workflow
spec:
  dag:
    - name: nap
      spec:
        stack: script
        stackSpec: {interpreter: sh, script: "sleep 60"}
    - name: after
      depends: [nap]
      spec:
        stack: script
        stackSpec: {interpreter: sh, script: "echo after"}
`

async function runtimeOf(name: string): Promise<string | undefined> {
  const rows = JSON.parse((await ctl(['get', '-t', 'workflow', '-n', name, '-o', 'json'])).stdout) as { runtime: string }[]
  return rows[0]?.runtime
}

describe('runtime suspend / resume', () => {
  it('suspends and resumes a running run, shows it suspended, and says when there is nothing to do', async () => {
    const file = join(home, 'holder.yaml')
    writeFileSync(file, holder)
    expect((await ctl(['apply', '-f', file])).code).toBe(0)
    let runtime: string | undefined
    for (let i = 0; i < 100 && runtime !== 'running'; i++) runtime = await runtimeOf('holder')
    expect(runtime).toBe('running')

    const suspend = await ctl(['resource', 'runtime', 'suspend', '-t', 'workflow', '-n', 'holder'])
    expect(suspend.code).toBe(0)
    const runId = /^run (r-\S+) of holder suspended$/m.exec(suspend.stdout)?.[1]
    expect(runId, suspend.stdout + suspend.stderr).toBeDefined()
    expect(await runtimeOf('holder')).toBe('suspended')
    const get = await ctl(['resource', 'runtime', 'get', '-t', 'workflow', '-n', 'holder'])
    expect(get.stdout).toMatch(new RegExp(`${runId}\\s+\\| apply\\s+\\| suspended`))

    const resume = await ctl(['runtime', 'resume', '-n', 'holder', '--run', runId!])
    expect([resume.code, resume.stdout.trim()]).toEqual([0, `run ${runId} of holder resumed`])
    expect(await runtimeOf('holder')).toBe('running')
    expect((await ctl(['runtime', 'resume', '-n', 'holder'])).stdout.trim()).toBe('holder: no suspended run to resume')

    expect((await ctl(['runtime', 'stop', '-n', 'holder'])).stdout).toContain(`run ${runId} of holder killed`)
    expect((await ctl(['runtime', 'suspend', '-n', 'holder'])).stdout.trim()).toBe('holder: no active run to suspend')
    const ended = await ctl(['runtime', 'suspend', '-n', 'holder', '--run', runId!])
    expect(ended.code).toBe(1)
    expect(ended.stderr).toContain('only a pending or running run can be suspended')
  })
})
