// Run params through the built CLI and a local control plane: `runtime run --param` (typed by the
// declaration) and `--params-file`, usage errors (exit 2) and refusals (exit 1) naming the param,
// `runtime get` showing a run's params (secret ones masked), and `apply --wait --param`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, type CliResult } from './helpers.js'

const home = mkdtempSync(join(tmpdir(), 'ctl-cli-params-'))
const env = { CTL_HOME: home, CTL_PORT: '0', CTL_APIKEY: '' }
const ctl = (args: string[]): Promise<CliResult> => runCli(args, { env })

function file(name: string, text: string): string {
  const path = join(home, name)
  writeFileSync(path, text)
  return path
}

const PARAMS = `
  params:
    - {name: environment, type: string, enum: [staging, production], default: staging}
    - {name: version, type: string, required: true}
    - {name: replicas, type: integer, default: 1}
    - {name: regions, type: array, default: [eu, us]}
    - {name: token, type: string, default: none, secret: true}
`
const deploy = file('deploy.yaml', `
version: v2alpha
name: deploy
type: workflow
spec:${PARAMS}  dag:
    - name: only
      spec: {stack: script, stackSpec: {interpreter: sh, script: 'echo hi'}}
`)

interface RunJson { run: { run: { id: string; params?: Record<string, unknown> } } }

async function paramsOfLatest(name: string): Promise<Record<string, unknown> | undefined> {
  const r = await ctl(['resource', 'runtime', 'get', '-n', name, '-o', 'json'])
  expect(r.code, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as RunJson).run.run.params
}

beforeAll(async () => {
  // A required param without a default, none given: applied, no run, and it says how to start one.
  const r = await ctl(['resource', 'apply', '-f', deploy])
  expect(r.code, r.stderr).toBe(0)
  expect(r.stdout).toContain('no run started: param "version" is required')
  expect(r.stdout).toContain('ctl resource runtime run -t workflow -n deploy --param')
})

afterAll(async () => {
  await ctl(['server', 'stop'])
  rmSync(home, { recursive: true, force: true })
})

describe('runtime run --param / --params-file', () => {
  it('types each --param by its declaration (JSON for arrays); runtime get shows the params, the secret masked', async () => {
    const r = await ctl(['resource', 'runtime', 'run', '-n', 'deploy', '--param', 'version=1.2.3', '--param', 'replicas=3',
      '--param', 'regions=["eu","ap"]', '--param', 'token=s3cr3t-t0k', '--wait'])
    expect(r.code, r.stderr).toBe(0)
    expect(await paramsOfLatest('deploy')).toEqual({ environment: 'staging', version: '1.2.3', replicas: 3, regions: ['eu', 'ap'], token: '***' })
    const table = await ctl(['resource', 'runtime', 'get', '-n', 'deploy'])
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).toMatch(/PARAM\s+\|\s+VALUE/)
    expect(table.stdout).toMatch(/version\s+\|\s+1\.2\.3/)
    expect(table.stdout).toMatch(/regions\s+\|\s+\["eu","ap"\]/)
    expect(table.stdout).toMatch(/token\s+\|\s+\*\*\*/)
    expect(table.stdout + table.stderr).not.toContain('s3cr3t-t0k')
  })

  it('reads --params-file (YAML), --param winning over its keys', async () => {
    const params = file('params.yaml', 'version: 2.0.0\nreplicas: 5\nenvironment: production\n')
    const r = await ctl(['resource', 'runtime', 'run', '-n', 'deploy', '--params-file', params, '--param', 'replicas=6'])
    expect(r.code, r.stderr).toBe(0)
    expect(await paramsOfLatest('deploy')).toMatchObject({ version: '2.0.0', replicas: 6, environment: 'production' })
  })

  it('a --param without "=" or with a bad name is a usage error (exit 2) naming it', async () => {
    const noEq = await ctl(['resource', 'runtime', 'run', '-n', 'deploy', '--param', 'version'])
    expect(noEq.code).toBe(2)
    expect(noEq.stderr).toContain('--param "version": expected NAME=VALUE')
    const badKey = await ctl(['resource', 'runtime', 'run', '-n', 'deploy', '--param', '9lives=1'])
    expect(badKey.code).toBe(2)
    expect(badKey.stderr).toContain('"9lives" is not a param name')
  })

  it("the server's refusal (422) is exit 1 with its message naming the param", async () => {
    const enumMiss = await ctl(['resource', 'runtime', 'run', '-n', 'deploy', '--param', 'version=1', '--param', 'environment=qa'])
    expect(enumMiss.code).toBe(1)
    expect(enumMiss.stderr).toContain('param "environment"')
    const missing = await ctl(['resource', 'runtime', 'run', '-n', 'deploy', '--param', 'replicas=2'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('param "version" is required')
    const unknown = await ctl(['resource', 'runtime', 'run', '-n', 'deploy', '--param', 'version=1', '--param', 'versoin=2'])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('unknown param "versoin"')
    const typed = await ctl(['resource', 'runtime', 'run', '-n', 'deploy', '--param', 'version=1', '--param', 'replicas=many'])
    expect(typed.code).toBe(1)
    expect(typed.stderr).toContain('param "replicas" must be an integer')
  })

  it('a missing params file says so; a file that is not a mapping is a located error', async () => {
    const missing = join(home, 'nope.yaml')
    const gone = await ctl(['resource', 'runtime', 'run', '-n', 'deploy', '--params-file', missing])
    expect(gone.code).toBe(1)
    expect(gone.stderr).toContain(`no such file: ${missing}`)
    const list = file('list.yaml', '# params\n- version\n')
    const notMap = await ctl(['resource', 'runtime', 'run', '-n', 'deploy', '--params-file', list])
    expect(notMap.code).toBe(1)
    expect(notMap.stderr).toContain(`${list}:2:1  a params file holds a mapping of param names to values, not a list`)
  })
})

describe('apply --param', () => {
  const echo = file('echo.yaml', `
version: v2alpha
name: echo-version
type: workflow
spec:${PARAMS}  dag:
    - name: say
      spec: {stack: script, stackSpec: {interpreter: sh, script: 'echo "version {{.params.version}}"'}}
`)

  it('apply --wait --param gives the run its params; an unchanged re-apply starts nothing without --rerun', async () => {
    const r = await ctl(['resource', 'apply', '-f', echo, '--wait', '--param', 'version=1.2.3', '--param', 'token=hidden-value'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toContain('params: environment=staging version=1.2.3 replicas=1 regions=["eu","us"] token=***')
    expect(await paramsOfLatest('echo-version')).toMatchObject({ version: '1.2.3', token: '***' })
    const again = await ctl(['resource', 'apply', '-f', echo, '--param', 'version=2'])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toContain('echo-version is unchanged: no run started with these params (add --rerun to start one)')
    const rerun = await ctl(['resource', 'apply', '-f', echo, '--rerun', '--wait', '--param', 'version=2'])
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0)
    expect(await paramsOfLatest('echo-version')).toMatchObject({ version: '2' })
  })

  it("the step's log shows the rendered param", async () => {
    const log = await ctl(['resource', 'log', '-n', 'echo-version'])
    expect(log.code, log.stderr).toBe(0)
    expect(log.stdout).toContain('version 2')
  })

  it('--dry-run --param shows the Pods rendered with the params', async () => {
    const r = await ctl(['resource', 'apply', '-f', echo, '--dry-run', '-o', 'yaml', '--param', 'version=9.9.9'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('echo "version 9.9.9"')
    const bad = await ctl(['resource', 'apply', '-f', echo, '--dry-run', '--param', 'replicas=x'])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('param "replicas" must be an integer')
  })

  it('--dry-run=server --param shows the params and the Pods the run would start', async () => {
    const r = await ctl(['resource', 'apply', '-f', echo, '--dry-run=server', '--param', 'version=4.5.6'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('params: environment=staging version=4.5.6 replicas=1 regions=["eu","us"] token=***')
    expect(r.stdout).toMatch(/say\s+\|\s+echo-version-say-dryrun-1/)
    const yaml = await ctl(['resource', 'apply', '-f', echo, '--dry-run=server', '-o', 'yaml', '--param', 'version=4.5.6'])
    expect(yaml.stdout).toContain('echo "version 4.5.6"')
    const refused = await ctl(['resource', 'apply', '-f', echo, '--dry-run=server', '--param', 'version=1', '--param', 'environment=qa'])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('param "environment"')
  })
})
