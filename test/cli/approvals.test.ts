// `ctl resource runtime approve|reject` and the waiting list of `runtime get`, through the built CLI on the
// embedded control plane.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli, type CliResult } from './helpers.js'

const home = mkdtempSync(join(tmpdir(), 'ctl-cli-approvals-'))
const env = { CTL_HOME: home, CTL_PORT: '0', CTL_APIKEY: '' }
const ctl = (args: string[]): Promise<CliResult> => runCli(args, { env })

afterAll(async () => {
  await ctl(['server', 'stop'])
  rmSync(home, { recursive: true, force: true })
})

const release = (name: string) => `
version: v2alpha
name: ${name}
type: workflow
spec:
  params:
    - {name: environment, type: string, default: production}
    - {name: version, type: string, default: "3.1.4"}
  dag:
    - name: build
      spec: {stack: script, stackSpec: {interpreter: sh, script: "echo build"}}
    - name: deploy
      depends: [build]
      approval:
        required: "params.environment == 'production'"
        approvers: [roles:id:tenant-admin, users:id:alice]
        timeout: 24h
        message: "Deploy {{.params.version}} to production?"
      spec: {stack: script, stackSpec: {interpreter: sh, script: "echo deploy"}}
    - name: after
      depends: [deploy]
      spec: {stack: script, stackSpec: {interpreter: sh, script: "echo after"}}
`

type Detail = { run: { id: string; state: string }; steps: { step: string; state: string; message?: string }[] }

async function detailOf(name: string): Promise<Detail | undefined> {
  const r = await ctl(['resource', 'runtime', 'get', '-t', 'workflow', '-n', name, '-o', 'json'])
  return (JSON.parse(r.stdout) as { run?: Detail }).run
}

async function untilWaiting(name: string): Promise<Detail> {
  for (let i = 0; i < 200; i++) {
    const d = await detailOf(name)
    if (d?.steps.some((s) => s.step === 'deploy' && s.state === 'waiting')) return d
  }
  throw new Error(`${name}: deploy never waited`)
}

async function untilEnded(name: string): Promise<Detail> {
  for (let i = 0; i < 200; i++) {
    const d = await detailOf(name)
    if (d && !['pending', 'running'].includes(d.run.state)) return d
  }
  throw new Error(`${name}: the run never ended`)
}

describe('runtime approve / reject', () => {
  it('runtime get lists what waits for whom with the message; approve starts the step', async () => {
    const file = join(home, 'release.yaml')
    writeFileSync(file, release('release'))
    expect((await ctl(['apply', '-f', file])).code).toBe(0)
    const waiting = await untilWaiting('release')
    expect(waiting.run.state).toBe('running')

    const get = await ctl(['resource', 'runtime', 'get', '-t', 'workflow', '-n', 'release'])
    expect(get.stdout).toMatch(/WAITING FOR APPROVAL\s*\|\s*APPROVERS/)
    expect(get.stdout).toMatch(/deploy\s*\|\s*roles:id:tenant-admin, users:id:alice\s*\|.*\|\s*Deploy 3\.1\.4 to production\?/)

    const ok = await ctl(['resource', 'runtime', 'approve', '-t', 'workflow', '-n', 'release', '--step', 'deploy', '-m', 'change 42'])
    expect([ok.code, ok.stdout.trim()], ok.stderr).toEqual([0, `step deploy of run ${waiting.run.id} approved: it starts now`])
    const end = await untilEnded('release')
    expect(end.run.state).toBe('succeeded')
    // Nothing waits any more: not found, exit 3.
    const again = await ctl(['resource', 'runtime', 'approve', '-n', 'release', '--step', 'deploy'])
    expect(again.code).toBe(3)
    expect(again.stderr).toContain('waits for approval of step "deploy"')
  })

  it('reject with --run fails the step with who and why; a usage error without --step', async () => {
    const file = join(home, 'release2.yaml')
    writeFileSync(file, release('release2'))
    expect((await ctl(['apply', '-f', file])).code).toBe(0)
    const waiting = await untilWaiting('release2')
    expect((await ctl(['resource', 'runtime', 'reject', '-n', 'release2'])).code).toBe(2)
    const no = await ctl(['resource', 'runtime', 'reject', '-n', 'release2', '--run', waiting.run.id, '--step', 'deploy', '-m', 'not today'])
    expect([no.code, no.stdout.trim()], no.stderr).toEqual([0, `step deploy of run ${waiting.run.id} rejected: Rejected by admin: not today`])
    const end = await untilEnded('release2')
    expect(end.run.state).toBe('failed')
    expect(end.steps.map((s) => [s.step, s.state])).toEqual([['after', 'skipped'], ['build', 'succeeded'], ['deploy', 'failed']])
    const get = await ctl(['resource', 'runtime', 'get', '-n', 'release2'])
    expect(get.stdout).toContain('Rejected: Rejected by admin: not today')
    expect(get.stdout).not.toContain('WAITING FOR APPROVAL')
  })

  it('the approve permission is grantable from the CLI', async () => {
    expect((await ctl(['user', 'create', '-n', 'Carol', '-u', 'carol', '-t', 'person'])).code).toBe(0)
    const granted = await ctl(['resource', 'grant', '-t', 'workflow', '-n', 'release', '--to', 'user:carol', '--permission', 'approve'])
    expect(granted.code, granted.stderr).toBe(0)
    const list = await ctl(['resource', 'grant', '-t', 'workflow', '-n', 'release', '--list', '-o', 'json'])
    expect(JSON.parse(list.stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ to: 'user:carol', permission: 'approve' })]))
  })

  it('auth can-i approve', async () => {
    const r = await ctl(['auth', 'can-i', 'approve', 'workflow', '-n', 'release'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^yes/)
  })
})
