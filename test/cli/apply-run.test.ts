// apply and run through the real CLI: an unchanged re-apply with --wait starts nothing and never
// presents an old run as new (exit 0 even when that run failed); --rerun starts exactly one new run;
// the apply answer names the run it started; secrets and keys a workflow projects are checked at apply.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli, type CliResult } from './helpers.js'

const home = mkdtempSync(join(tmpdir(), 'ctl-cli-applyrun-'))
const env = { CTL_HOME: home, CTL_PORT: '0', CTL_APIKEY: '' }
const ctl = (args: string[]): Promise<CliResult> => runCli(args, { env })

function manifestFile(name: string, text: string): string {
  const file = join(home, name)
  writeFileSync(file, text)
  return file
}

const failing = manifestFile('fails.yaml', `
version: v2alpha
name: fails-once
type: workflow
spec:
  dag:
    - name: only
      spec:
        stack: script
        stackSpec:
          interpreter: sh
          script: |
            echo "no input"; exit 3
`)

interface RunRow { id: string; trigger: string; state: string }

async function runsOf(name: string): Promise<RunRow[]> {
  const r = await ctl(['resource', 'runtime', 'get', '-n', name, '-o', 'json'])
  expect(r.code, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as { recentRuns: RunRow[] }).recentRuns
}

afterAll(async () => {
  await ctl(['server', 'stop'])
  rmSync(home, { recursive: true, force: true })
})

describe('apply --wait of an unchanged workflow', () => {
  let firstRun = ''

  it('the first apply names the run it started in -o json', async () => {
    const json = await ctl(['resource', 'apply', '-f', failing, '-o', 'json'])
    expect(json.code, json.stderr).toBe(0)
    const answer = JSON.parse(json.stdout) as { results: { name: string; outcome: string; runId?: string }[] }
    expect(answer.results[0]).toMatchObject({ name: 'fails-once', outcome: 'created' })
    firstRun = answer.results[0]!.runId!
    expect(firstRun).toMatch(/^r-/)
    // Let it end, so that the next apply meets a failed last run.
    for (;;) {
      const [run] = await runsOf('fails-once')
      if (run?.state === 'failed') break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  })

  it('says unchanged, starts nothing, tells the last run in one line and exits 0 although that run failed', async () => {
    const before = await runsOf('fails-once')
    expect(before.map((r) => r.id)).toEqual([firstRun])
    const r = await ctl(['resource', 'apply', '-f', failing, '--wait'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('fails-once:v2alpha:workflow...unchanged')
    expect(r.stdout).toMatch(new RegExp(`^fails-once is unchanged; its last run ${firstRun} failed \\S+ ago \\(use --rerun to run it again\\)$`, 'm'))
    expect(r.stdout).not.toContain('waiting for run')
    expect((await runsOf('fails-once')).length).toBe(1)
  })

  it('--rerun starts exactly one new run, which --wait follows (and reports failed, exit 1)', async () => {
    const r = await ctl(['apply', '-f', failing, '--rerun', '--wait'])
    expect(r.code).toBe(1)
    const runs = await runsOf('fails-once')
    expect(runs.length).toBe(2)
    const fresh = runs.find((x) => x.id !== firstRun)!
    expect(fresh.trigger).toBe('manual')
    expect(r.stdout).toContain(`waiting for run ${fresh.id} of fails-once...`)
    expect(r.stdout).toMatch(new RegExp(`run ${fresh.id} of fails-once failed`))
    expect(r.stdout).not.toContain(firstRun)
  })

  it('--rerun alone starts one run and returns; -o json names it', async () => {
    const r = await ctl(['apply', '-f', failing, '--rerun', '-o', 'json'])
    expect(r.code, r.stderr).toBe(0)
    const answer = JSON.parse(r.stdout) as { results: { outcome: string; runId?: string }[] }
    expect(answer.results[0]!.outcome).toBe('unchanged')
    const runs = await runsOf('fails-once')
    expect(runs.length).toBe(3)
    expect(runs.map((x) => x.id)).toContain(answer.results[0]!.runId)
  })

  it('--rerun with --dry-run is a usage error', async () => {
    const r = await ctl(['apply', '-f', failing, '--rerun', '--dry-run=server'])
    expect(r.code).toBe(2)
  })
})

describe('secrets a workflow projects, checked at apply', () => {
  const consumer = manifestFile('needs-secret.yaml', `version: v2alpha
name: needs-secret
type: workflow
spec:
  dag:
    - name: only
      spec:
        use:
          projection:
            secrets:
              - id: app-secret
                contextAlias: app
            projections:
              envVars:
                - key: TOKEN
                  value: "{{.secrets.app.TOKEN}}"
        stack: script
        stackSpec: {interpreter: sh, script: 'test -n "$TOKEN"'}
`)
  const secretWith = (key: string): string => manifestFile(`secret-${key}.yaml`, `version: v1
name: app-secret
type: secret
secret:
  type: key-value
  acl: r
  data:
    ${key}: sealed-value-${key}
`)

  it('a missing secret is a located error at apply and at --dry-run=server (exit 1), and nothing is stored', async () => {
    for (const extra of [[], ['--dry-run=server']]) {
      const r = await ctl(['apply', '-f', consumer, ...extra])
      expect(r.code).toBe(1)
      expect(r.stderr).toContain(`${consumer}:11:17  secret "app-secret" not found in workspace "public"`)
      expect(r.stderr).toContain('(spec.dag[0].spec.use.projection.secrets[0].id)')
    }
    expect((await ctl(['get', '-t', 'workflow', '-n', 'needs-secret'])).stdout).not.toContain('needs-secret')
  })

  it('a key the secret lacks is located at the template, also when the secret comes in the same apply', async () => {
    const r = await ctl(['apply', '-f', consumer, '-f', secretWith('OTHER')])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`${consumer}:16:19  secret "app-secret" (alias "app") in workspace "public" has no key "TOKEN"; its keys: OTHER`)
    expect(r.stderr).not.toContain('sealed-value')
    const dry = await ctl(['apply', '-f', consumer, '-f', secretWith('OTHER'), '--dry-run=server'])
    expect(dry.code).toBe(1)
    expect(dry.stderr).toContain('has no key "TOKEN"')
  })

  it('applies and runs once the secret of the same apply has the key', async () => {
    const r = await ctl(['apply', '-f', consumer, '-f', secretWith('TOKEN'), '--wait'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/run r-\S+ of needs-secret succeeded/)
  })
})
