// kubectl's habits through the built CLI against a real (embedded) control plane:
// `get TYPE [NAME]`, short and plural type names, `describe`, `logs TYPE/NAME -c STEP`,
// next to the dataos-ctl flags they stand for, and "did you mean" for mistyped commands.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, type CliResult } from './helpers.js'

const home = mkdtempSync(join(tmpdir(), 'ctl-kubectl-'))
const env = { CTL_HOME: home, CTL_PORT: '0', CTL_APIKEY: '' }
const ctl = (...args: string[]): Promise<CliResult> => runCli(args, { env })

const manifest = `
version: v2alpha
name: kube-demo
type: workflow
spec:
  dag:
    - name: extract
      spec:
        stack: script
        stackSpec: {interpreter: sh, script: "echo hello-from-extract"}
    - name: publish
      depends: [extract]
      spec:
        stack: script
        stackSpec: {interpreter: sh, script: "echo hello-from-publish"}
`

beforeAll(async () => {
  const file = join(home, 'kube-demo.yaml')
  writeFileSync(file, manifest)
  const r = await ctl('resource', 'apply', '-f', file, '--wait')
  expect(r.stderr + r.stdout).toMatch(/succeeded/)
  expect(r.code).toBe(0)
})

afterAll(async () => {
  await ctl('server', 'stop')
  rmSync(home, { recursive: true, force: true })
})

const ROW = /kube-demo \| v2alpha \| workflow \| public\s+\| active \| succeeded \| admin/

describe('get as kubectl users type it', () => {
  it('get workflow NAME, get wf/NAME and get -t workflow -n NAME print the same row', async () => {
    const kubectl = await ctl('get', 'workflow', 'kube-demo')
    expect(kubectl.code).toBe(0)
    expect(kubectl.stdout).toMatch(ROW)
    const slash = await ctl('get', 'wf/kube-demo')
    const dataos = await ctl('resource', 'get', '-t', 'workflow', '-n', 'kube-demo')
    expect(slash.stdout).toBe(kubectl.stdout)
    expect(dataos.stdout).toBe(kubectl.stdout)
  })

  it('get wf and get workflows list the workflows; -t takes the same names', async () => {
    for (const args of [['get', 'wf'], ['get', 'workflows'], ['get', 'WORKFLOWS'], ['resource', 'get', '-t', 'wf'], ['get', '-t', 'workflows']]) {
      const r = await ctl(...args)
      expect(r.code, args.join(' ')).toBe(0)
      expect(r.stdout, args.join(' ')).toMatch(ROW)
    }
  })

  it('get workflow NAME -d shows the stored manifest, as resource get -d does', async () => {
    const r = await ctl('get', 'workflow', 'kube-demo', '-d')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('hello-from-extract')
  })

  it('a mistyped type is a usage error with a suggestion; a type given twice too', async () => {
    const typo = await ctl('get', 'wrkflow')
    expect(typo.code).toBe(2)
    expect(typo.stderr).toContain('error: unknown type "wrkflow"; did you mean "workflow"?')
    const twice = await ctl('get', 'workflow', 'kube-demo', '-t', 'workflow')
    expect(twice.code).toBe(2)
    expect(twice.stderr).toContain('give the type once')
  })
})

describe('describe', () => {
  it('describe workflow NAME shows the get row, then the runtime: steps, run and nodes', async () => {
    const r = await ctl('describe', 'workflow', 'kube-demo')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/NAME\s+\| VERSION \| TYPE\s+\| WORKSPACE \| STATUS \| RUNTIME\s+\| OWNER/)
    expect(r.stdout).toMatch(ROW)
    expect(r.stdout).toMatch(/JOB NAME \| STACK/)
    expect(r.stdout).toMatch(/RUN ID\s+\| TRIGGER/)
    expect(r.stdout).toMatch(/extract-1\s+\| extract/)
    expect(r.stdout).toMatch(/publish-1\s+\| publish/)
  })

  it('describe wf/NAME -o json is runtime get\'s document, resource included', async () => {
    const r = await ctl('describe', 'wf/kube-demo', '-o', 'json')
    expect(r.code).toBe(0)
    const doc = JSON.parse(r.stdout) as { resource: { name: string }; run: { run: { state: string } } }
    expect(doc.resource.name).toBe('kube-demo')
    expect(doc.run.run.state).toBe('succeeded')
  })

  it('describe needs a name', async () => {
    const r = await ctl('describe', 'workflow')
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('say which resource')
  })
})

describe('logs', () => {
  it('logs workflow/NAME -c STEP prints that step only, as resource log --container does', async () => {
    const r = await ctl('logs', 'workflow/kube-demo', '-c', 'extract')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('extract-1 | extract')
    expect(r.stdout).toContain('hello-from-extract')
    expect(r.stdout).not.toContain('hello-from-publish')
    const dataos = await ctl('resource', 'log', '-t', 'workflow', '-n', 'kube-demo', '--container', 'extract')
    expect(dataos.stdout).toBe(r.stdout)
  })

  it('logs NAME and logs wf/NAME print every step', async () => {
    for (const target of ['kube-demo', 'wf/kube-demo']) {
      const r = await ctl('logs', target)
      expect(r.code, target).toBe(0)
      expect(r.stdout, target).toContain('hello-from-extract')
      expect(r.stdout, target).toContain('hello-from-publish')
    }
  })

  it('logs of another type, or without a workflow, is a usage error', async () => {
    expect((await ctl('logs', 'volume/x')).code).toBe(2)
    const none = await ctl('logs')
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('say which workflow')
  })
})

describe('auth can-i knows every verb the CLI has', () => {
  it('suspend and resume are asked as the control plane decides them (as stop)', async () => {
    for (const verb of ['suspend', 'resume']) {
      const r = await ctl('auth', 'can-i', verb, 'wf', '-n', 'kube-demo')
      expect(r.code, verb).toBe(0)
      expect(r.stdout, verb).toMatch(/^yes - /)
    }
    const typo = await ctl('auth', 'can-i', 'suspnd', 'workflow')
    expect(typo.code).toBe(2)
    expect(typo.stderr).toContain('did you mean "suspend"?')
  })
})

describe('mistyped commands', () => {
  it.each([
    [['aply', '-f', 'x.yaml'], 'aply', 'apply'],
    [['resource', 'aply'], 'resource aply', 'resource apply'],
    [['resource', 'runtime', 'gte', '-n', 'x'], 'resource runtime gte', 'resource runtime get'],
    [['describ', 'workflow', 'x'], 'describ', 'describe'],
  ])('ctl %j suggests the nearest command, exit 2', async (args, typed, nearest) => {
    const r = await ctl(...args)
    expect(r.code).toBe(2)
    expect(r.stderr.split('\n')[0]).toBe(`error: unknown command "${typed}"; did you mean "${nearest}"?`)
    expect(r.stdout).toBe('')
  })

  it('a word near nothing says so without a guess', async () => {
    const r = await ctl('zzzzzzzz')
    expect(r.code).toBe(2)
    expect(r.stderr.split('\n')[0]).toBe('error: unknown command "zzzzzzzz"')
  })
})
