// The CLI contract through the real CLI against a real control plane: exit codes of named
// lookups, -o json on every reporting verb (a script gets the run id from `runtime run`),
// deleted resources still readable, unknown flags a usage error on every command.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { repoRoot, runCli, type CliResult } from './helpers.js'

const home = mkdtempSync(join(tmpdir(), 'ctl-contract-'))
const env = { CTL_HOME: home, CTL_PORT: '0', CTL_APIKEY: '' }
const ctl = (args: string[]): Promise<CliResult> => runCli(args, { env })

function manifestFile(name: string, text: string): string {
  const file = join(home, name)
  writeFileSync(file, text)
  return file
}

const workflow = (name: string, script: string): string => `
version: v2alpha
name: ${name}
type: workflow
spec:
  dag:
    - name: only
      spec:
        stack: script
        stackSpec:
          interpreter: sh
          script: |
            ${script}
`

function json(r: CliResult): Record<string, unknown> {
  expect(r.stderr.includes('error:') ? r.stderr : '').toBe('')
  return JSON.parse(r.stdout) as Record<string, unknown>
}

afterAll(async () => {
  await ctl(['server', 'stop'])
  rmSync(home, { recursive: true, force: true })
})

describe('named lookups that find nothing exit 3', () => {
  it('applies a workflow first (starting the embedded control plane)', async () => {
    const r = await ctl(['resource', 'apply', '-f', manifestFile('ok.yaml', workflow('contract-ok', 'echo hello from contract')), '--wait'])
    expect(r.code).toBe(0)
  })

  it('get -t workflow -n nope: exit 3 and one line saying what is missing', async () => {
    const r = await ctl(['resource', 'get', '-t', 'workflow', '-n', 'nope'])
    expect(r.code).toBe(3)
    expect(r.stdout).toBe('')
    expect(r.stderr.trim()).toBe('error: workflow nope not found in workspace public')
  })

  it('get -n NAME -o json of a missing resource exits 3 too', async () => {
    expect((await ctl(['resource', 'get', '-t', 'workflow', '-n', 'nope', '-o', 'json'])).code).toBe(3)
  })

  it('get -w no-such-workspace: exit 3', async () => {
    const r = await ctl(['resource', 'get', '-w', 'no-such-workspace'])
    expect(r.code).toBe(3)
    expect(r.stderr.trim()).toBe('error: workspace no-such-workspace not found')
  })

  it('get of an existing named resource still answers 0', async () => {
    const r = await ctl(['resource', 'get', '-t', 'workflow', '-n', 'contract-ok'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('contract-ok')
  })
})

describe('-o json on every reporting verb', () => {
  it('runtime run -o json carries the run id; --wait -o json the final run, progress on stderr', async () => {
    const started = await ctl(['resource', 'runtime', 'run', '-n', 'contract-ok', '-o', 'json'])
    expect(started.code).toBe(0)
    const run = json(started).run as { id: string; resourceName: string }
    expect(run.id).toMatch(/^r-/)
    const waited = await ctl(['resource', 'runtime', 'run', '-n', 'contract-ok', '--wait', '-o', 'json'])
    expect(waited.code).toBe(0)
    const detail = JSON.parse(waited.stdout) as { run: { id: string; state: string }; steps: unknown[] }
    expect(detail.run.state).toBe('succeeded')
    expect(detail.steps.length).toBeGreaterThan(0)
  })

  it('runtime run -o yaml prints YAML', async () => {
    const r = await ctl(['resource', 'runtime', 'run', '-n', 'contract-ok', '-o', 'yaml'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^run:\n {2}id: r-/)
  })

  it('runtime stop, suspend, resume -o json list the runs they acted on', async () => {
    for (const verb of ['stop', 'suspend', 'resume']) {
      const r = await ctl(['resource', 'runtime', verb, '-n', 'contract-ok', '-o', 'json'])
      expect(r.code, `${verb}: ${r.stderr}`).toBe(0)
      expect(Array.isArray(json(r).runs)).toBe(true)
    }
  })

  it('runtime retry -o json carries the new run id and the run it retries; --wait -o json exits 1 on failure', async () => {
    const applied = await ctl(['resource', 'apply', '-f', manifestFile('bad.yaml', workflow('contract-bad', 'exit 7'))])
    expect(applied.code).toBe(0)
    const failed = await ctl(['resource', 'runtime', 'run', '-n', 'contract-bad', '--wait', '-o', 'json'])
    expect(failed.code).toBe(1)
    const failedRun = (JSON.parse(failed.stdout) as { run: { id: string; state: string } }).run
    expect(failedRun.state).toBe('failed')
    const retried = await ctl(['resource', 'runtime', 'retry', '-n', 'contract-bad', '--run', failedRun.id, '-o', 'json'])
    expect(retried.code).toBe(0)
    const run = json(retried).run as { id: string; retryOf: string; trigger: string }
    expect(run.id).toMatch(/^r-/)
    expect(run.retryOf).toBe(failedRun.id)
    expect(run.trigger).toBe('retry')
  })

  it('log -o json: the run id and each node with its lines', async () => {
    const r = await ctl(['resource', 'log', '-n', 'contract-ok', '-o', 'json'])
    expect(r.code).toBe(0)
    const report = json(r) as { runId: string; nodes: { node: string; state: string; lines: { text: string }[] }[] }
    expect(report.runId).toMatch(/^r-/)
    expect(report.nodes[0]!.node).toBe('only-1')
    expect(report.nodes[0]!.lines.map((l) => l.text)).toContain('hello from contract')
  })

  it('lint -o json: valid with the resources; invalid exits 1 with the issues, still JSON', async () => {
    const ok = await ctl(['resource', 'lint', '-f', join(home, 'ok.yaml'), '-o', 'json'])
    expect(ok.code).toBe(0)
    expect(json(ok)).toMatchObject({ valid: true, resources: [{ name: 'contract-ok', type: 'workflow', workspace: 'public' }], issues: [] })
    const bad = await ctl(['resource', 'lint', '-f', manifestFile('invalid.yaml', 'version: v2alpha\nname: Bad_Name\ntype: workflow\nspec: {dag: []}\n'), '-o', 'json'])
    expect(bad.code).toBe(1)
    const report = JSON.parse(bad.stdout) as { valid: boolean; issues: { file: string; line: number; message: string }[] }
    expect(report.valid).toBe(false)
    expect(report.issues.length).toBeGreaterThan(0)
    expect(report.issues[0]!.file).toContain('invalid.yaml')
  })

  it('diff -o json: changed and each resource with its outcome and diff; exit 1 when something would change', async () => {
    const same = await ctl(['resource', 'diff', '-f', join(home, 'ok.yaml'), '-o', 'json'])
    expect(same.code).toBe(0)
    expect(json(same)).toMatchObject({ changed: false, resources: [{ name: 'contract-ok', outcome: 'unchanged', diff: '' }] })
    const changed = await ctl(['resource', 'diff', '-f', manifestFile('ok2.yaml', workflow('contract-ok', 'echo changed')), '-o', 'json'])
    expect(changed.code).toBe(1)
    const report = JSON.parse(changed.stdout) as { changed: boolean; resources: { outcome: string; diff: string }[] }
    expect(report.changed).toBe(true)
    expect(report.resources[0]!.outcome).toBe('updated')
    expect(report.resources[0]!.diff).toContain('+            echo changed')
  })

  it('server status -o json: running, url, pid', async () => {
    const r = await ctl(['server', 'status', '-o', 'json'])
    expect(r.code).toBe(0)
    expect(json(r)).toMatchObject({ running: true, url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+/), pid: expect.any(Number) })
  })

  it('workspace create and delete -o json: the workspace, and what went with it', async () => {
    const created = await ctl(['workspace', 'create', '-n', 'contract-ws', '-o', 'json'])
    expect(created.code).toBe(0)
    expect(json(created)).toMatchObject({ workspace: { name: 'contract-ws', layer: 'user' } })
    const deleted = await ctl(['workspace', 'delete', '-n', 'contract-ws', '-o', 'json'])
    expect(deleted.code).toBe(0)
    expect(json(deleted)).toEqual({ deleted: { name: 'contract-ws', resources: 0 } })
  })

  it('delete -o json: what was deleted', async () => {
    const r = await ctl(['resource', 'delete', '-t', 'workflow', '-n', 'contract-ok', '-o', 'json'])
    expect(r.code).toBe(0)
    expect(json(r)).toEqual({ deleted: [{ workspace: 'public', type: 'workflow', name: 'contract-ok', version: 'v2alpha', revision: 1 }] })
  })
})

describe('-o json on the commands that confirm something', () => {
  it('version -o json: version, node, platform, arch; the text line unchanged', async () => {
    const r = await ctl(['version', '-o', 'json'])
    expect(r.code).toBe(0)
    expect(json(r)).toEqual({ version: expect.stringMatching(/^\d+\.\d+\.\d+/), node: process.version, platform: process.platform, arch: process.arch })
    expect((await ctl(['version'])).stdout).toMatch(/^ctl \d+\.\d+\.\d+ \(node v[\d.]+, \w+-\w+\)\n$/)
  })

  it('context add, select, delete -o json: the context and what became current', async () => {
    const added = await ctl(['context', 'add', 'contract-ctx', '--server', 'http://ctl.example.com:7419', '-w', 'sales', '-o', 'json'])
    expect(added.code).toBe(0)
    expect(json(added)).toEqual({ context: { name: 'contract-ctx', server: 'http://ctl.example.com:7419', workspace: 'sales' }, added: true, selected: false })
    const selected = await ctl(['context', 'select', 'contract-ctx', '-o', 'yaml'])
    expect(selected.stdout).toBe('currentContext: contract-ctx\n')
    const deleted = await ctl(['context', 'delete', 'contract-ctx', '-o', 'json'])
    expect(json(deleted)).toEqual({ deleted: 'contract-ctx', currentContext: 'local' })
  })

  it('user tag add|delete, apikey delete, user delete -o json: ids and names of what changed', async () => {
    expect((await ctl(['user', 'create', '-u', 'contract-bob', '-n', 'Bob'])).code).toBe(0)
    const tagged = await ctl(['user', 'tag', 'add', '-i', 'contract-bob', '-t', 'roles:id:viewer', '-t', 'roles:id:data-dev', '-w', 'public', '-o', 'json'])
    expect(json(tagged)).toEqual({ user: 'contract-bob', action: 'add', tags: [
      { tag: 'roles:id:viewer', workspace: 'public', changed: true },
      { tag: 'roles:id:data-dev', workspace: 'public', changed: true },
    ] })
    const untagged = await ctl(['user', 'tag', 'delete', '-i', 'contract-bob', '-t', 'roles:id:operator', '-o', 'json'])
    expect(json(untagged)).toEqual({ user: 'contract-bob', action: 'delete', tags: [{ tag: 'roles:id:operator', workspace: null, changed: false }] })
    const key = json(await ctl(['user', 'apikey', 'create', '-i', 'contract-bob', '-n', 'laptop', '-o', 'json'])) as { id: string }
    const keyDeleted = await ctl(['user', 'apikey', 'delete', '-i', 'contract-bob', '-n', 'laptop', '-o', 'json'])
    expect(json(keyDeleted)).toEqual({ deleted: { user: 'contract-bob', id: key.id, name: 'laptop' } })
    const userDeleted = await ctl(['user', 'delete', '-i', 'contract-bob', '-o', 'json'])
    expect(json(userDeleted)).toEqual({ deleted: { id: 'contract-bob' } })
  })

  it('login and logout -o json: the context, who, and where the key went', async () => {
    const key = json(await ctl(['user', 'apikey', 'create', '-n', 'contract-login', '-o', 'json'])) as { token: string }
    const fileEnv = { ...env, CTL_CREDENTIALS: 'file' }
    const login = await runCli(['login', '--apikey', key.token, '-o', 'json'], { env: fileEnv })
    expect(login.code, login.stderr).toBe(0)
    expect(JSON.parse(login.stdout)).toMatchObject({ context: { name: 'local', server: 'local' }, principal: { id: 'admin' }, storedIn: expect.stringContaining('credentials.yaml') })
    const logout = await runCli(['logout', '-o', 'json'], { env: fileEnv })
    expect(logout.code).toBe(0)
    expect(JSON.parse(logout.stdout)).toEqual({ context: 'local', removedFrom: [expect.stringContaining('credentials.yaml')] })
  })

  it('develop schema get prints JSON by default and with -o json, YAML with -o yaml', async () => {
    const plain = await ctl(['develop', 'schema', 'get', '-t', 'secret', '-v', 'v1'])
    expect((await ctl(['develop', 'schema', 'get', '-t', 'secret', '-v', 'v1', '-o', 'json'])).stdout).toBe(plain.stdout)
    expect(JSON.parse(plain.stdout)).toMatchObject({ title: 'secret v1' })
    expect((await ctl(['develop', 'schema', 'get', '-t', 'secret', '-v', 'v1', '-o', 'yaml'])).stdout).toContain('title: secret v1\n')
  })

  it('server start --detach -o json and server stop -o json: url, pid, data dir; stopped', async () => {
    const dataDir = join(home, 'second-server')
    const started = await ctl(['server', 'start', '--detach', '--data-dir', dataDir, '-p', '0', '-o', 'json'])
    expect(started.code, started.stderr).toBe(0)
    expect(JSON.parse(started.stdout)).toMatchObject({ url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+/), pid: expect.any(Number), dataDir, detached: true })
    const stopped = await ctl(['server', 'stop', '--data-dir', dataDir, '-o', 'json'])
    expect(json(stopped)).toEqual({ stopped: true, dataDir })
    expect(json(await ctl(['server', 'stop', '--data-dir', dataDir, '-o', 'json']))).toEqual({ stopped: false, dataDir })
  }, 60_000)
})

/** Commands that print nothing to report, so need no -o (none today). */
const WITHOUT_OUTPUT: readonly string[] = []

describe('every command has -o json|yaml', () => {
  it('each command of the oclif manifest has the shared -o flag, but the documented few', () => {
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, { flags: Record<string, { char?: string; options?: string[] }> }> }
    const missing = Object.entries(manifest.commands)
      .filter(([id, c]) => !WITHOUT_OUTPUT.includes(id) && !(c.flags.output?.char === 'o' && ['json', 'yaml'].every((f) => c.flags.output!.options?.includes(f))))
      .map(([id]) => id)
    expect(missing).toEqual([])
  })
})

describe('a deleted workflow stays readable', () => {
  it('get --deleted lists it (and only deleted ones); a plain get -n says not found', async () => {
    const listed = await ctl(['resource', 'get', '--deleted', '-t', 'workflow'])
    expect(listed.code).toBe(0)
    expect(listed.stdout).toMatch(/contract-ok \| v2alpha \| workflow \| public\s+\| deleted/)
    expect(listed.stdout).not.toContain('contract-bad')
    expect((await ctl(['resource', 'get', '-t', 'workflow', '-n', 'contract-ok'])).code).toBe(3)
    const named = await ctl(['resource', 'get', '--deleted', '-t', 'workflow', '-n', 'contract-ok', '-o', 'json'])
    expect((JSON.parse(named.stdout) as { status: string }[])[0]!.status).toBe('deleted')
  })

  it('get -d and --revisions still answer, with STATUS deleted', async () => {
    const details = await ctl(['resource', 'get', '-t', 'workflow', '-n', 'contract-ok', '-d', '-o', 'json'])
    expect(details.code).toBe(0)
    expect((JSON.parse(details.stdout) as { resource: { status: string } }).resource.status).toBe('deleted')
    const revisions = await ctl(['resource', 'get', '-t', 'workflow', '-n', 'contract-ok', '--revisions'])
    expect(revisions.code).toBe(0)
    expect(revisions.stdout).toMatch(/REVISION \| HASH/)
  })

  it('runtime get and log of the deleted workflow still work', async () => {
    const runtime = await ctl(['resource', 'runtime', 'get', '-n', 'contract-ok', '-o', 'json'])
    expect(runtime.code).toBe(0)
    const value = JSON.parse(runtime.stdout) as { resource: { status: string }; recentRuns: unknown[] }
    expect(value.resource.status).toBe('deleted')
    expect(value.recentRuns.length).toBeGreaterThan(0)
    const log = await ctl(['resource', 'log', '-n', 'contract-ok'])
    expect(log.code).toBe(0)
    expect(log.stdout).toContain('hello from contract')
  })

  it('nothing new starts on it: runtime run answers not found', async () => {
    expect((await ctl(['resource', 'runtime', 'run', '-n', 'contract-ok'])).code).toBe(3)
  })
})

describe('lint through the CLI', () => {
  it('a missing file: no such file: PATH, exit 1', async () => {
    const r = await ctl(['resource', 'lint', '-f', 'none.yaml'])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe('no such file: none.yaml\nerror: 1 problem found\n')
  })
})

describe('unknown flags are usage errors everywhere', () => {
  it('exit 2 with one line in ctl\'s format on a sample of commands', async () => {
    for (const args of [['version'], ['resource', 'get'], ['resource', 'lint', '-f', 'x.yaml'], ['server', 'status'], ['resource', 'runtime', 'run', '-n', 'x']]) {
      const r = await ctl([...args, '--bogus'])
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stdout).toBe('')
      expect(r.stderr.trim().split('\n')).toEqual([`error: Nonexistent flag: --bogus; see 'ctl ${args.slice(0, args[0] === 'resource' && args[1] === 'runtime' ? 3 : args[0] === 'resource' ? 2 : args.length === 1 ? 1 : 2).join(' ')} --help'`])
    }
  })

  it('every command in the oclif manifest is strict and refuses an unknown flag', async () => {
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, { strict?: boolean }> }
    const ids = Object.keys(manifest.commands)
    expect(ids.length).toBeGreaterThan(30)
    for (const id of ids) expect(manifest.commands[id]!.strict, id).not.toBe(false)
    // Strict is not enough: a command that never parses (version did not) accepts anything.
    const queue = [...ids]
    const worker = async (): Promise<void> => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const r = await ctl([...id.split(':'), '--no-such-flag-anywhere'])
        expect(r.code, `${id}: ${r.stdout}${r.stderr}`).toBe(2)
        expect(r.stderr).toMatch(/^error: .*--no-such-flag-anywhere/)
      }
    }
    await Promise.all([worker(), worker()])
  }, 120_000)
})
