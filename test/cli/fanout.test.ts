// Issue 11 acceptance through the built CLI: the example workflow applied with --param, `runtime get`
// grouping instances under their step, `log --container` for a whole fanned step or one instance, and
// a condition's skip shown with its reason. (Retrying one instance: test/engine/fanout.test.ts.)
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { repoRoot, runCli, type CliResult } from './helpers.js'

const home = mkdtempSync(join(tmpdir(), 'ctl-cli-fanout-'))
const env = { CTL_HOME: home, CTL_PORT: '0', CTL_APIKEY: '' }
const ctl = (args: string[]): Promise<CliResult> => runCli(args, { env, timeoutMs: 120_000 })

afterAll(async () => {
  await ctl(['server', 'stop'])
  rmSync(home, { recursive: true, force: true })
})

describe('params, conditions and fan-out in the CLI', () => {
  it('apply --wait --param runs the example; runtime get groups instances; log --container shows one or all', async () => {
    const example = join(repoRoot, 'examples', 'data-flow.yaml')
    const applied = await ctl(['resource', 'apply', '-f', example, '--wait', '--param', 'version=1.2.3', '--param', 'environment=production'])
    expect(applied.stderr + applied.stdout).toMatch(/succeeded/)
    expect(applied.code).toBe(0)
    // --wait tells a fanned step by its name (it is no attempt), each instance by its node name.
    const waited = (applied.stderr + applied.stdout).split('\n')
    expect(waited).toContainEqual(expect.stringMatching(/^shard succeeded/))
    expect(waited).toContainEqual(expect.stringMatching(/^shard-1-1 succeeded/))

    const got = await ctl(['runtime', 'get', '-n', 'data-flow'])
    expect(got.code).toBe(0)
    const rows = got.stdout.split('\n')
    const at = (re: RegExp) => rows.findIndex((l) => re.test(l))
    // The step's own row (no attempt in its node name), then its instances indented under it, in order.
    const shard = at(/^shard\s+\| shard\s/)
    expect(shard).toBeGreaterThan(0)
    expect(rows.slice(shard + 1, shard + 4).map((l) => l.split('|')[0]!.trimEnd())).toEqual(['  shard-0-1', '  shard-1-1', '  shard-2-1'])
    const test = at(/^test\s+\| test\s/)
    expect(rows.slice(test + 1, test + 5).map((l) => l.split('|')[1]!.trim()).sort()).toEqual(['test-alpine-3.12', 'test-debian-3.11', 'test-debian-3.12', 'test-debian-3.13'])
    expect(got.stdout).toMatch(/4 succeeded, 0 failed, 0 skipped of 4 steps/)

    const all = await ctl(['resource', 'log', '-n', 'data-flow', '--container', 'shard'])
    expect(all.code).toBe(0)
    for (const [i, f] of ['a.csv', 'b.csv', 'c.csv'].entries()) expect(all.stdout).toContain(`[shard-${i}] ${f} #${i}`)
    const one = await ctl(['resource', 'log', '-n', 'data-flow', '--container', 'shard-1'])
    expect(one.code).toBe(0)
    expect(one.stdout).toContain('b.csv #1')
    expect(one.stdout).not.toContain('a.csv')
    const deploy = await ctl(['resource', 'log', '-n', 'data-flow', '--container', 'deploy'])
    expect(deploy.stdout).toContain('deploy app-1.2.3.tar')

    // staging: deploy skipped with its reason, the run succeeds.
    const staging = await ctl(['runtime', 'run', '-n', 'data-flow', '--wait', '--param', 'version=1.2.3', '--param', 'environment=staging'])
    expect(staging.code).toBe(0)
    const after = await ctl(['runtime', 'get', '-n', 'data-flow'])
    expect(after.stdout.split('\n').find((l) => /^deploy-1\s/.test(l))).toMatch(/skipped\s+\| condition false: params\.environment == 'production'/)
  })
})
