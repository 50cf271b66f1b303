// Through the built CLI on the embedded control plane: get -l / --tag filter on the server, get --revision N
// prints an old revision, rollback applies it again, and get -d shows each webhook trigger's URL.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { runCli, type CliResult } from './helpers.js'

const home = mkdtempSync(join(tmpdir(), 'ctl-cli-labels-'))
const env = { CTL_HOME: home, CTL_PORT: '0', CTL_APIKEY: '' }
const ctl = (args: string[]): Promise<CliResult> => runCli(args, { env })

afterAll(async () => {
  await ctl(['server', 'stop'])
  rmSync(home, { recursive: true, force: true })
})

const file = (name: string, text: string): string => {
  const path = join(home, name)
  writeFileSync(path, text)
  return path
}

const volumes = `
name: core-data
version: v1beta
type: volume
labels: {team: core, env: prod}
tags: [batch]
volume: {size: 1Gi, accessMode: ReadWriteOnce, type: temp}
---
name: dev-data
version: v1beta
type: volume
labels: {team: core, env: dev}
volume: {size: 1Gi, accessMode: ReadWriteOnce, type: temp}
---
name: web-data
version: v1beta
type: volume
labels: {team: web}
tags: [batch, nightly]
volume: {size: 1Gi, accessMode: ReadWriteOnce, type: temp}
`

const hooked = (echo: string) => `
name: release
version: v2alpha
type: workflow
spec:
  params:
    - {name: version, type: string, default: "0.0.0"}
  triggers:
    - name: on-release
      webhook:
        secret: release-hook
        params:
          version: "body.release.tag_name"
  dag:
    - name: main
      spec:
        stack: script
        stackSpec: {interpreter: sh, script: "echo ${echo}"}
---
name: release-hook
version: v1
type: secret
secret: {type: key-value, acl: r, data: {HMAC_KEY: s3cret}}
`

const names = (r: CliResult): string[] => (JSON.parse(r.stdout) as { name: string }[]).map((x) => x.name).sort()

describe('labels, revisions and webhook URLs in the CLI', () => {
  it('get -l and --tag', async () => {
    expect((await ctl(['apply', '-f', file('v.yaml', volumes)])).code).toBe(0)
    expect(names(await ctl(['get', '-t', 'volume', '-l', 'team=core,env!=dev', '-o', 'json']))).toEqual(['core-data'])
    expect(names(await ctl(['get', '-t', 'volume', '-l', 'team in (core,web)', '-o', 'json']))).toEqual(['core-data', 'dev-data', 'web-data'])
    expect(names(await ctl(['get', '--tag', 'batch', '-o', 'json']))).toEqual(['core-data', 'web-data'])
    expect(names(await ctl(['get', '--tag', 'batch', '--tag', 'nightly', '-o', 'json']))).toEqual(['web-data'])
    const table = await ctl(['get', '-t', 'volume', '-l', '!env'])
    expect(table.code).toBe(0)
    expect(table.stdout).toContain('web-data')
    expect(table.stdout).not.toContain('core-data')
    const bad = await ctl(['get', '-l', 'team in core'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('invalid label selector')
  })

  it('get --revision N -o yaml, rollback --to-revision N, and get -d shows the trigger URLs', async () => {
    expect((await ctl(['apply', '-f', file('r1.yaml', hooked('one'))])).code).toBe(0)
    expect((await ctl(['apply', '-f', file('r2.yaml', hooked('two'))])).code).toBe(0)
    const old = await ctl(['resource', 'get', '-t', 'workflow', '-n', 'release', '--revision', '1', '-o', 'yaml'])
    expect(old.code).toBe(0)
    const manifest = parseYaml(old.stdout) as { meta: { name: string }; workflow: { dag: { spec: { stackSpec: { script: string } } }[] } }
    expect(manifest.meta.name).toBe('release')
    expect(manifest.workflow.dag[0]!.spec.stackSpec.script).toBe('echo one')

    const back = await ctl(['resource', 'rollback', '-t', 'workflow', '-n', 'release', '--to-revision', '1'])
    expect(back.code).toBe(0)
    expect(back.stdout).toMatch(/rolling back \(public\) release:v2alpha:workflow to revision 1\.\.\.now revision 3/)
    const same = await ctl(['resource', 'rollback', '-t', 'workflow', '-n', 'release', '--to-revision', '3'])
    expect(same.stdout).toContain('unchanged')
    expect((await ctl(['resource', 'rollback', '-t', 'workflow', '-n', 'release', '--to-revision', '9'])).code).toBe(3)

    const described = await ctl(['resource', 'get', '-t', 'workflow', '-n', 'release', '-d'])
    expect(described.code).toBe(0)
    expect(described.stdout).toMatch(/on-release\s+\|?\s*http:\/\/127\.0\.0\.1:\d+\/api\/v1\/hooks\/public\/release\/on-release/)
  })
})
