// --skip / --only and `runtime backfill --dry-run` through the built CLI and a local control plane.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, type CliResult } from './helpers.js'

const home = mkdtempSync(join(tmpdir(), 'ctl-cli-skip-'))
const env = { CTL_HOME: home, CTL_PORT: '0', CTL_APIKEY: '' }
const ctl = (args: string[]): Promise<CliResult> => runCli(args, { env })

function file(name: string, text: string): string {
  const path = join(home, name)
  writeFileSync(path, text)
  return path
}

const step = (name: string, depends?: string) =>
  `    - name: ${name}\n${depends ? `      depends: [${depends}]\n` : ''}      spec: {stack: script, stackSpec: {interpreter: sh, script: 'echo ${name}'}}\n`

const etl = file('etl.yaml', `version: v2alpha
name: etl
type: workflow
spec:
  dag:
${step('extract')}${step('transform', 'extract')}${step('load', 'transform')}${step('notify', 'load')}`)

const nightly = file('nightly.yaml', `version: v2alpha
name: nightly
type: workflow
spec:
  schedule:
    crons: ['0 2 * * *']
    timezone: Europe/Berlin
    catchUp: all
    maxCatchUp: 3
  dag:
${step('work')}`)

beforeAll(async () => {
  const r = await ctl(['resource', 'apply', '-f', etl, '-f', nightly, '--wait'])
  expect(r.code, r.stderr).toBe(0)
})

afterAll(async () => {
  await ctl(['server', 'stop'])
  rmSync(home, { recursive: true, force: true })
})

interface StepJson { step: string; state: string; message?: string }

describe('runtime run --skip / --only', () => {
  it('--skip leaves the step and its dependents out and the run succeeds; runtime get says why', async () => {
    const r = await ctl(['resource', 'runtime', 'run', '-n', 'etl', '--skip', 'load', '--wait'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/started \(trigger manual\): skipping load/)
    expect(r.stdout).toMatch(/ succeeded \(2 succeeded, 0 failed, 2 skipped of 4 steps\)/)
    const got = await ctl(['resource', 'runtime', 'get', '-n', 'etl'])
    expect(got.stdout).toContain('skipped on request (--skip)')
    expect(got.stdout).toContain('dependency "load" skipped')
  })

  it('--only runs the step and its ancestors (repeatable flags); an unknown step is refused with exit 1', async () => {
    const r = await ctl(['resource', 'runtime', 'run', '-n', 'etl', '--only', 'transform', '--wait', '-o', 'json'])
    expect(r.code, r.stderr).toBe(0)
    const steps = (JSON.parse(r.stdout) as { steps: StepJson[] }).steps
    expect(Object.fromEntries(steps.map((s) => [s.step, s.state]))).toEqual({ extract: 'succeeded', transform: 'succeeded', load: 'skipped', notify: 'skipped' })
    expect(steps.find((s) => s.step === 'notify')?.message).toBe('not selected (--only)')
    const bad = await ctl(['resource', 'runtime', 'run', '-n', 'etl', '--skip', 'lode', '--skip', 'nofity'])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('unknown steps "lode", "nofity"')
  })
})

describe('runtime backfill', () => {
  it('--dry-run lists the fire times in the schedule zone and starts nothing', async () => {
    const r = await ctl(['resource', 'runtime', 'backfill', '-n', 'nightly', '--from', '2024-05-01', '--to', '2024-05-03', '--dry-run'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('nightly: a backfill would start 3 runs (dry run: nothing started)')
    expect(r.stdout).toContain('2024-05-01T00:00:00Z')
    expect(r.stdout).toContain('2024-05-03T00:00:00Z')
    const runs = await ctl(['resource', 'runtime', 'get', '-n', 'nightly', '-o', 'json'])
    expect(runs.stdout).not.toContain('"trigger": "backfill"')
    const json = await ctl(['resource', 'runtime', 'backfill', '-n', 'nightly', '--from', '2024-05-01', '--to', '2024-05-01', '--dry-run', '-o', 'json'])
    expect(JSON.parse(json.stdout)).toEqual({ times: ['2024-05-01T00:00:00.000Z'], runs: [], dryRun: true })
  })

  it('refuses a bad range (exit 2) and too many fire times (exit 1, naming the count)', async () => {
    const bad = await ctl(['resource', 'runtime', 'backfill', '-n', 'nightly', '--from', 'yesterday', '--to', '2024-05-03', '--dry-run'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--from "yesterday" is neither an RFC 3339 time')
    const big = await ctl(['resource', 'runtime', 'backfill', '-n', 'nightly', '--from', '2020-01-01', '--to', '2024-01-01', '--dry-run'])
    expect(big.code).toBe(1)
    expect(big.stderr).toContain('the range holds 1462 fire times; one backfill may run at most 1000')
  })

  it('starts the runs, trigger backfill', async () => {
    const r = await ctl(['resource', 'runtime', 'backfill', '-n', 'nightly', '--from', '2024-05-01', '--to', '2024-05-02', '--parallel', '2'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/backfill bf-\S+ of nightly: 2 fire times, at most 2 at once; 2 started now/)
    expect(r.stdout).toContain('2024-05-01T00:00:00Z')
  })
})
