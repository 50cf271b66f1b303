// Failure handling through the built CLI on the embedded control plane (issue 12): `runtime run --wait` and
// `runtime get` show an allowed failure as `failed (allowed)` and the finally steps after the DAG; `runtime stop`
// says a run is stopping while its finally steps run, and `--force` ends it at once.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli, type CliResult } from './helpers.js'

const home = mkdtempSync(join(tmpdir(), 'ctl-cli-rules-'))
const env = { CTL_HOME: home, CTL_PORT: '0', CTL_APIKEY: '' }
const ctl = (args: string[]): Promise<CliResult> => runCli(args, { env })

afterAll(async () => {
  await ctl(['server', 'stop'])
  rmSync(home, { recursive: true, force: true })
})

const rules = `
version: v2alpha
name: rules
type: workflow
spec:
  dag:
    - name: optional
      allowFailure: true
      spec: {stack: script, stackSpec: {interpreter: sh, script: "exit 1"}}
    - name: build
      depends: [optional]
      spec: {stack: script, stackSpec: {interpreter: sh, script: "echo built"}}
  finally:
    - name: report
      spec: {stack: script, stackSpec: {interpreter: sh, script: "echo status={{.workflow.status}}"}}
`

const holder = `
version: v2alpha
name: holder
type: workflow
spec:
  dag:
    - name: nap
      spec: {stack: script, stackSpec: {interpreter: sh, script: "sleep 60"}}
  finally:
    - name: tidy
      spec: {stack: script, stackSpec: {interpreter: sh, script: "echo tidy"}}
`

async function runtimeOf(name: string): Promise<string | undefined> {
  const rows = JSON.parse((await ctl(['get', '-t', 'workflow', '-n', name, '-o', 'json'])).stdout) as { runtime: string }[]
  return rows[0]?.runtime
}

describe('failure handling in the CLI', () => {
  it('--wait and runtime get show failed (allowed) and the finally step after the DAG', async () => {
    const file = join(home, 'rules.yaml')
    writeFileSync(file, rules)
    expect((await ctl(['lint', '-f', file])).code).toBe(0)
    expect((await ctl(['apply', '-f', file])).code).toBe(0)
    let runtime: string | undefined
    for (let i = 0; i < 200 && runtime !== 'succeeded'; i++) runtime = await runtimeOf('rules')
    const run = await ctl(['resource', 'runtime', 'run', '-t', 'workflow', '-n', 'rules', '--wait'])
    expect(run.code, run.stdout + run.stderr).toBe(0)
    expect(run.stdout).toMatch(/^optional-1 failed \(allowed\) /m)
    expect(run.stdout).toMatch(/^report-1 \(finally\) succeeded /m)
    // The finally step is told after the DAG's; the DAG's end (when a look caught the run between the two) between them.
    const at = (re: RegExp) => run.stdout.search(re)
    expect(at(/^build-1 succeeded/m)).toBeLessThan(at(/^report-1 \(finally\)/m))
    const dagEnd = at(/^run \S+ running \(finally; DAG Succeeded\)$/m)
    if (dagEnd >= 0) expect([at(/^build-1 succeeded/m) < dagEnd, dagEnd < at(/^report-1 \(finally\) succeeded/m)]).toEqual([true, true])
    expect(run.stdout).toMatch(/^run \S+ succeeded \(2 succeeded, 1 failed, 0 skipped of 3 steps\)$/m)
    const get = await ctl(['resource', 'runtime', 'get', '-t', 'workflow', '-n', 'rules'])
    expect(get.code).toBe(0)
    const nodes = get.stdout.split('\n').filter((l) => /^(optional|build|report)-1/.test(l))
    expect(nodes.map((l) => l.split('|')[0]!.trim())).toEqual(['optional-1', 'build-1', 'report-1'])
    expect(nodes[0]).toMatch(/\| failed \(allowed\)/)
    expect(nodes[2]).toMatch(/\| report \(finally\)/)
  }, 60_000)

  it('runtime stop lets the finally steps run; --force ends the run without them', async () => {
    const file = join(home, 'holder.yaml')
    writeFileSync(file, holder)
    expect((await ctl(['apply', '-f', file])).code).toBe(0)
    let runtime: string | undefined
    for (let i = 0; i < 200 && runtime !== 'running'; i++) runtime = await runtimeOf('holder')
    const stop = await ctl(['resource', 'runtime', 'stop', '-t', 'workflow', '-n', 'holder'])
    expect(stop.code, stop.stdout + stop.stderr).toBe(0)
    expect(stop.stdout).toMatch(/^run \S+ of holder (stopping \(finally steps run; --force skips them\)|killed)$/m)
    for (let i = 0; i < 200 && runtime !== 'killed'; i++) runtime = await runtimeOf('holder')
    expect(runtime).toBe('killed')
    const get = await ctl(['resource', 'runtime', 'get', '-t', 'workflow', '-n', 'holder'])
    expect(get.stdout).toMatch(/tidy-1\s+\| tidy \(finally\).*\| succeeded/)

    expect((await ctl(['resource', 'runtime', 'run', '-t', 'workflow', '-n', 'holder'])).code).toBe(0)
    for (let i = 0; i < 200 && runtime !== 'running'; i++) runtime = await runtimeOf('holder')
    const force = await ctl(['resource', 'runtime', 'stop', '-t', 'workflow', '-n', 'holder', '--force'])
    expect(force.stdout).toMatch(/^run \S+ of holder killed$/m)
    const after = await ctl(['resource', 'runtime', 'get', '-t', 'workflow', '-n', 'holder'])
    expect(after.stdout).toMatch(/tidy-1\s+\| tidy \(finally\).*\| cancelled/)
  }, 60_000)
})
