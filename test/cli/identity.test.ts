// Identity and access through the real CLI, as a tenant meets them: the admin makes a
// workspace and users, binds roles with `user tag add`, hands out API keys; users log in,
// find what they may and may not do, grant each other, ask `auth can-i`; the admin reads
// the audit log. Real `ctl` processes against a real embedded control plane.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuditEntry, CreateApiKeyResponse } from '../../src/api/types.js'
import { runCli, type CliResult } from './helpers.js'

const tmp = mkdtempSync(join(tmpdir(), 'ctl-identity-'))
// No session bus: the keychain cannot answer, so logins use the 0600 file (credentials.test.ts covers the keychain).
const base = { CTL_PORT: '0', CTL_APIKEY: '', DBUS_SESSION_BUS_ADDRESS: '', CTL_CREDENTIALS: '' }
const homes = { admin: join(tmp, 'admin'), bob: join(tmp, 'bob'), carol: join(tmp, 'carol') }
type Who = keyof typeof homes
const as = (who: Who, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> => runCli(args, { env: { ...base, CTL_HOME: homes[who], ...env } })

const workflow = (name: string): string => {
  const file = join(tmp, `${name}.yaml`)
  writeFileSync(file, `
version: v2alpha
name: ${name}
type: workflow
spec:
  dag:
    - name: hello
      spec:
        stack: script
        stackSpec: {interpreter: sh, script: "echo hello from ${name}"}
`)
  return file
}

function oneLineError(r: CliResult): string {
  const lines = r.stderr.trim().split('\n')
  expect(lines, r.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^error: /)
  return lines[0]!
}

let url = ''
const tokens: Record<string, string> = {}

beforeAll(async () => {
  const started = await as('admin', ['server', 'start', '--detach', '-p', '0'])
  expect(started.code, started.stderr).toBe(0)
  url = /running at (http:\S+)/.exec(started.stdout)![1]!
})
afterAll(async () => {
  // Users' homes too: a command run there without a login would have started a local control plane.
  await Promise.all((Object.keys(homes) as Who[]).map((who) => as(who, ['server', 'stop'])))
  rmSync(tmp, { recursive: true, force: true })
})

describe('the tenant admin sets up a workspace, users, roles and keys', () => {
  it('is the first user, bound tenant-wide to tenant-admin', async () => {
    const r = await as('admin', ['user', 'get', '-o', 'json'])
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual([expect.objectContaining({ id: 'admin', type: 'person', tags: [expect.objectContaining({ tag: 'roles:id:tenant-admin', workspace: null })] })])
  })

  it('creates a workspace; public and system exist from the start', async () => {
    const created = await as('admin', ['workspace', 'create', '-n', 'sales', '-d', 'Sales analytics', '--tags', 'team:sales'])
    expect(created.code, created.stderr).toBe(0)
    expect(created.stdout).toBe('workspace "sales" created (layer user)\n')
    const list = await as('admin', ['workspace', 'get'])
    expect(list.stdout.split('\n')[0]).toMatch(/^NAME\s+\| LAYER\s+\| DESCRIPTION\s+\| TAGS\s+\| CREATED$/)
    for (const ws of ['public', 'system', 'sales']) expect(list.stdout).toMatch(new RegExp(`^${ws}\\s+\\|`, 'm'))
    expect(list.stdout).toMatch(/^sales\s+\| user\s+\| Sales analytics\s+\| team:sales/m)
  })

  it('creates users, and binds roles with user tag add', async () => {
    for (const [id, name] of [['bob', 'Bob Builder'], ['carol', 'Carol Reader']]) {
      const r = await as('admin', ['user', 'create', '-n', name!, '-u', id!, '-t', 'person', '-e', `${id}@example.com`])
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toMatch(new RegExp(`^user "${id}" created \\(person\\)`))
    }
    const tag = await as('admin', ['user', 'tag', 'add', '-i', 'bob', '-t', 'roles:id:data-dev', '-w', 'sales'])
    expect(tag.code, tag.stderr).toBe(0)
    expect(tag.stdout).toBe('user "bob": added roles:id:data-dev in workspace sales\n')
    const again = await as('admin', ['user', 'tag', 'add', '-i', 'bob', '-t', 'roles:id:data-dev', '-w', 'sales'])
    expect(again.stdout).toBe('user "bob" already had roles:id:data-dev in workspace sales\n')
    const bad = await as('admin', ['user', 'tag', 'add', '-i', 'bob', '-t', 'roles:id:wizard'])
    expect(bad.code).toBe(2)
    expect(oneLineError(bad)).toContain('roles:id:data-dev')
    const all = await as('admin', ['user', 'get', '-a'])
    expect(all.stdout.split('\n')[0]).toMatch(/^ID\s+\| NAME\s+\| TYPE\s+\| EMAIL\s+\| TAGS\s+\| CREATED$/)
    expect(all.stdout).toMatch(/^bob\s+\| Bob Builder\s+\| person \| bob@example\.com\s+\| roles:id:data-dev@sales\s+\|/m)
    expect(all.stdout).toMatch(/^carol\s+\| Carol Reader \| person \| carol@example\.com \|\s+\|/m)
  })

  it('removes a binding with user tag delete', async () => {
    expect((await as('admin', ['user', 'create', '-n', 'Dave', '-u', 'dave', '-t', 'application'])).code).toBe(0)
    const viewer = await as('admin', ['user', 'tag', 'add', '-i', 'dave', '-t', 'roles:id:viewer'])
    expect(viewer.stdout).toBe('user "dave": added roles:id:viewer tenant-wide\n')
    const removed = await as('admin', ['user', 'tag', 'delete', '-i', 'dave', '-t', 'roles:id:viewer'])
    expect(removed.code, removed.stderr).toBe(0)
    expect(removed.stdout).toBe('user "dave": removed roles:id:viewer tenant-wide\n')
    const again = await as('admin', ['user', 'tag', 'delete', '-i', 'dave', '-t', 'roles:id:viewer'])
    expect(again.stdout).toBe('user "dave" did not have roles:id:viewer tenant-wide\n')
    const dave = await as('admin', ['user', 'get', '-i', 'dave', '-o', 'json'])
    expect(JSON.parse(dave.stdout)).toEqual([expect.objectContaining({ id: 'dave', type: 'application', tags: [] })])
  })

  it('creates API keys: -o json holds the token, shown once; get never shows it', async () => {
    for (const id of ['bob', 'carol']) {
      const r = await as('admin', ['user', 'apikey', 'create', '-i', id, '-n', 'laptop', '-d', '30d', '-o', 'json'])
      expect(r.code, r.stderr).toBe(0)
      const key = JSON.parse(r.stdout) as CreateApiKeyResponse
      expect(key).toMatchObject({ name: 'laptop', token: expect.any(String), expiresAt: expect.any(String) })
      tokens[id] = key.token
    }
    const listed = await as('admin', ['user', 'apikey', 'get', '-i', 'bob'])
    expect(listed.code, listed.stderr).toBe(0)
    expect(listed.stdout.split('\n')[0]).toMatch(/^NAME\s+\| ID\s+\| USER \| STATUS \| CREATED\s+\| EXPIRES\s+\| LAST USED$/)
    expect(listed.stdout).toMatch(/^laptop \| \S+\s+\| bob\s+\| active/m)
    expect(listed.stdout).not.toContain(tokens.bob)
    const json = await as('admin', ['user', 'apikey', 'get', '-i', 'bob', '-o', 'json'])
    expect(json.stdout).not.toContain(tokens.bob)
    const table = await as('admin', ['user', 'apikey', 'create', '-i', 'bob', '-n', 'spare'])
    expect(table.stdout).toMatch(/^TOKEN: \S+$/m)
    expect(table.stderr).toContain('shown only this once')
  })
})

describe('users log in and meet their rights', () => {
  it('bob logs in (file fallback, one warning line) and is a data-dev in sales only', async () => {
    const r = await as('bob', ['login', '--server', url, '--apikey', tokens.bob!, '-w', 'sales'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^warning: no OS keychain available .*credentials\.yaml \(mode 0600\)$/)])
    expect(r.stdout).toMatch(/^logged in to http:\/\/127\.0\.0\.1:\d+ \(context "127\.0\.0\.1-\d+"\) as bob \(person, Bob Builder; roles:id:data-dev in sales\)$/m)
    const carol = await as('carol', ['login', '--server', url, '--apikey', tokens.carol!, '-w', 'sales'])
    expect(carol.stdout).toMatch(/as carol \(person, Carol Reader; no roles\)$/m)
  })

  it('bob creates a workflow in sales (and owns it) but not in public: 403 is exit 4 with one line', async () => {
    const ok = await as('bob', ['resource', 'apply', '-f', workflow('bobflow')])
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout).toContain('applying(sales) bobflow:v2alpha:workflow...created')
    const mine = await as('bob', ['resource', 'get'])
    expect(mine.stdout).toMatch(/^bobflow\s+\| v2alpha \| workflow \| sales\s+\| \S+\s+\| \S+\s+\| bob$/m)
    const denied = await as('bob', ['resource', 'apply', '-f', workflow('bobflow'), '-w', 'public'])
    expect(denied.code).toBe(4)
    expect(oneLineError(denied)).toMatch(/bob/)
  })

  it('bob is refused admin verbs: other users, workspaces, audit', async () => {
    for (const args of [['user', 'get', '-a'], ['user', 'create', '-n', 'Eve', '-u', 'eve'], ['workspace', 'create', '-n', 'bobs'], ['audit', 'get'], ['user', 'apikey', 'get', '-i', 'carol']]) {
      const r = await as('bob', args)
      expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(4)
      oneLineError(r)
    }
    const self = await as('bob', ['user', 'get'])
    expect(self.code, self.stderr).toBe(0)
    expect(self.stdout).toMatch(/^bob\s+\|/m)
  })

  it('can-i answers yes/no with what decided, exit 0 or 1', async () => {
    const yes = await as('bob', ['auth', 'can-i', 'apply', 'workflow'])
    expect(yes.code, yes.stderr).toBe(0)
    expect(yes.stdout).toMatch(/^yes - .*roles:id:data-dev.*sales/)
    const owner = await as('bob', ['auth', 'can-i', 'delete', 'workflow', '-n', 'bobflow'])
    expect(owner.code, owner.stderr).toBe(0)
    expect(owner.stdout).toMatch(/^yes - .*owner/)
    const no = await as('bob', ['auth', 'can-i', 'apply', 'workflow', '-w', 'public'])
    expect(no.code).toBe(1)
    expect(no.stdout).toMatch(/^no - /)
    const quiet = await as('bob', ['auth', 'can-i', 'admin', 'workflow', '-q'])
    expect(quiet).toMatchObject({ code: 1, stdout: '' })
    const json = await as('carol', ['auth', 'can-i', 'run', 'workflow', '-n', 'bobflow', '-o', 'json'])
    expect(json.code).toBe(1)
    expect(JSON.parse(json.stdout)).toEqual({ allowed: false, reason: expect.any(String) })
  })

  it('bob grants carol run on his workflow; carol may then read and run it; revoke takes it back', async () => {
    const before = await as('carol', ['resource', 'get', '-t', 'workflow', '-n', 'bobflow', '-d'])
    expect(before.code).toBe(4)
    oneLineError(before)
    const grant = await as('bob', ['resource', 'grant', '-t', 'workflow', '-n', 'bobflow', '--to', 'user:carol', '--permission', 'run'])
    expect(grant.code, grant.stderr).toBe(0)
    expect(grant.stdout).toBe('granted run on workflow bobflow in workspace sales to user:carol\n')
    const list = await as('bob', ['resource', 'grant', '-t', 'workflow', '-n', 'bobflow', '--list'])
    expect(list.stdout).toMatch(/^user:carol \| run\s+\| bob\s+\|/m)
    const canI = await as('carol', ['auth', 'can-i', 'run', 'workflow', '-n', 'bobflow'])
    expect(canI.code, canI.stdout + canI.stderr).toBe(0)
    expect(canI.stdout).toMatch(/^yes - .*grant run/)
    const cannot = await as('carol', ['auth', 'can-i', 'delete', 'workflow', '-n', 'bobflow'])
    expect(cannot.code).toBe(1)
    const read = await as('carol', ['resource', 'get', '-t', 'workflow', '-n', 'bobflow', '-d'])
    expect(read.code, read.stderr).toBe(0)
    expect(read.stdout).toContain('bobflow')
    const run = await as('carol', ['resource', 'runtime', 'run', '-n', 'bobflow', '--wait'])
    expect(run.code, run.stdout + run.stderr).toBe(0)
    const revoke = await as('bob', ['resource', 'revoke', '-t', 'workflow', '-n', 'bobflow', '--to', 'user:carol', '--permission', 'run'])
    expect(revoke.code, revoke.stderr).toBe(0)
    expect(revoke.stdout).toBe('revoked run on workflow bobflow in workspace sales from user:carol\n')
    const after = await as('carol', ['auth', 'can-i', 'run', 'workflow', '-n', 'bobflow'])
    expect(after.code).toBe(1)
  })

  it('CTL_APIKEY overrides the stored login', async () => {
    const r = await as('bob', ['user', 'get', '-o', 'json'], { CTL_APIKEY: tokens.carol })
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual([expect.objectContaining({ id: 'carol' })])
  })
})

describe('the audit log and the end of things', () => {
  it('shows secret values only with --unsanitized and only to whom may read them', async () => {
    const file = join(tmp, 'secret.yaml')
    writeFileSync(file, 'version: v1\nname: db-creds\ntype: secret\nsecret:\n  type: key-value\n  acl: r\n  data:\n    password: hunter2-in-clear\n')
    expect((await as('admin', ['resource', 'apply', '-f', file])).code).toBe(0)
    const masked = await as('admin', ['resource', 'get', '-t', 'secret', '-n', 'db-creds', '-d'])
    expect(masked.stdout).toContain('password: "***"')
    expect(masked.stdout).not.toContain('hunter2-in-clear')
    const clear = await as('admin', ['resource', 'get', '-t', 'secret', '-n', 'db-creds', '--unsanitized', '-o', 'json'])
    expect(clear.code, clear.stderr).toBe(0)
    expect(JSON.parse(clear.stdout)).toMatchObject({ manifest: { secret: { data: { password: 'hunter2-in-clear' } } } })
    const bob = await as('bob', ['resource', 'get', '-t', 'secret', '-n', 'db-creds', '-w', 'public', '--unsanitized'])
    expect(bob.code).toBe(4)
    expect(oneLineError(bob)).not.toContain('hunter2-in-clear')
    const usage = await as('admin', ['resource', 'get', '-t', 'secret', '--unsanitized'])
    expect(usage.code).toBe(2)
  })

  it('audit get shows who did what, for the admin only', async () => {
    const r = await as('admin', ['audit', 'get', '--since', '1h', '-o', 'json'])
    expect(r.code, r.stderr).toBe(0)
    const entries = JSON.parse(r.stdout) as AuditEntry[]
    expect(entries.some((e) => e.actor === 'admin' && e.result === 'ok' && /user/.test(e.action + e.target))).toBe(true)
    expect(entries.some((e) => e.actor === 'bob' && e.result === 'ok' && e.target.includes('bobflow'))).toBe(true)
    expect(entries.some((e) => e.actor === 'bob' && e.result !== 'ok')).toBe(true)
    expect(entries.some((e) => e.actor === 'admin' && e.action === 'secret-read' && e.target.includes('db-creds'))).toBe(true)
    expect(r.stdout).not.toContain('hunter2-in-clear')
    const table = await as('admin', ['audit', 'get', '--since', '1h'])
    expect(table.stdout.split('\n')[0]).toMatch(/^SEQ\s*\| TIME\s+\| ACTOR\s*\| ACTION\s+\| TARGET\s+\| RESULT\s*\| DETAIL$/)
    const carol = await as('carol', ['audit', 'get'])
    expect(carol.code).toBe(4)
  })

  it('a workspace holding resources is deleted only with --force', async () => {
    const refused = await as('admin', ['workspace', 'delete', '-n', 'sales'])
    expect(refused.code).not.toBe(0)
    expect(oneLineError(refused)).toMatch(/resource/)
    const forced = await as('admin', ['workspace', 'delete', '-n', 'sales', '--force'])
    expect(forced.code, forced.stderr).toBe(0)
    expect(forced.stdout).toBe('workspace "sales" deleted with its 1 resource\n')
    const gone = await as('admin', ['workspace', 'get', '-n', 'sales'])
    expect(gone.code).toBe(3)
  })

  it('a deleted API key and a deleted user stop working at once; logout forgets the key', async () => {
    const del = await as('admin', ['user', 'apikey', 'delete', '-i', 'bob', '-n', 'laptop'])
    expect(del.code, del.stderr).toBe(0)
    expect(del.stdout).toMatch(/^API key "laptop" \(\S+\) of user "bob" deleted/)
    const bob = await as('bob', ['user', 'get'])
    expect(bob.code).toBe(4)
    oneLineError(bob)
    const revoked = await as('admin', ['user', 'apikey', 'get', '-i', 'bob'])
    expect(revoked.stdout).toMatch(/^laptop \| \S+\s+\| bob\s+\| revoked/m)
    const user = await as('admin', ['user', 'delete', '-i', 'carol'])
    expect(user.code, user.stderr).toBe(0)
    expect((await as('carol', ['user', 'get'])).code).toBe(4)
    const logout = await as('bob', ['logout'])
    expect(logout.stdout).toMatch(/^logged out of context "127\.0\.0\.1-\d+": removed its API key from .*credentials\.yaml$/m)
  })
})
