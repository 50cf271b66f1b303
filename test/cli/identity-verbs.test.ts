// The identity verbs' validate steps, in-process: mistakes are refused before any request,
// with the exit code of a usage error and a message that says what to write instead.
import { describe, expect, it } from 'vitest'
import { validateCanI, validateGrant, type GrantOptions } from '../../src/cli/verbs/access.js'
import { keyStatus, validateCreateApiKey } from '../../src/cli/verbs/apikey.js'
import { validateAudit } from '../../src/cli/verbs/audit.js'
import { completeLogin, validateLogin } from '../../src/cli/verbs/login.js'
import { roleOfTag, validateCreateUser, validateGetUsers, validateTags } from '../../src/cli/verbs/user.js'
import { validateCreateWorkspace } from '../../src/cli/verbs/workspace.js'
import { CtlError } from '../../src/errors.js'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

function usage(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(CtlError)
    expect((error as CtlError).code).toBe('E_USAGE')
    expect((error as CtlError).exitCode).toBe(2)
    return (error as CtlError).message
  }
  throw new Error('expected a usage error')
}

describe('user verbs', () => {
  it('accept the four role tags and nothing else', () => {
    expect(roleOfTag('roles:id:data-dev')).toBe('data-dev')
    expect(roleOfTag('roles:id:tenant-admin')).toBe('tenant-admin')
    expect(usage(() => roleOfTag('roles:id:user'))).toContain('roles:id:operator')
    expect(usage(() => roleOfTag('data-dev'))).toMatch(/not a role tag/)
    expect(usage(() => validateTags({ user: 'bob', tags: [] }))).toContain('-t')
  })

  it('check ids, types and e-mail addresses', () => {
    expect(() => validateCreateUser({ id: 'bob.b_2', name: 'Bob', type: 'person', output: 'table' })).not.toThrow()
    expect(usage(() => validateCreateUser({ id: 'Bob', name: 'Bob', type: 'person', output: 'table' }))).toMatch(/user id "Bob" is not valid/)
    expect(usage(() => validateCreateUser({ id: 'bob', name: 'Bob', type: 'robot' as 'person', output: 'table' }))).toMatch(/person or application/)
    expect(usage(() => validateCreateUser({ id: 'bob', name: 'Bob', type: 'person', email: 'bob', output: 'table' }))).toMatch(/e-mail/)
    expect(usage(() => validateGetUsers({ all: true, id: 'bob', output: 'table' }))).toMatch(/not both/)
  })
})

describe('API key verbs', () => {
  it('take durations as 30m, 24h, 30d, 1w, 1d12h', () => {
    for (const d of ['30m', '24h', '30d', '1w', '1d12h', '1.5h', 'P30D']) expect(() => validateCreateApiKey({ duration: d, output: 'json' })).not.toThrow()
    for (const d of ['24', 'h', '1y', '0h', '12h1d', '99999999999999d']) expect(usage(() => validateCreateApiKey({ duration: d, output: 'json' }))).toMatch(/duration/)
  })

  it('tell active, expired and revoked keys apart', () => {
    const k = { id: 'k1', userId: 'bob', name: 'laptop', createdAt: '2024-01-01T00:00:00Z' }
    const now = Date.parse('2024-06-01T00:00:00Z')
    expect(keyStatus(k, now)).toBe('active')
    expect(keyStatus({ ...k, expiresAt: '2024-05-01T00:00:00Z' }, now)).toBe('expired')
    expect(keyStatus({ ...k, expiresAt: '2025-01-01T00:00:00Z', revokedAt: '2024-02-01T00:00:00Z' }, now)).toBe('revoked')
  })
})

describe('grant, can-i, workspace and audit verbs', () => {
  const grant = (o: Partial<GrantOptions>): GrantOptions => ({ type: 'workflow', name: 'x', list: false, output: 'table', ...o })
  it('need whom and what, in the right shape', () => {
    expect(() => validateGrant(grant({ to: 'user:carol', permission: 'run' }))).not.toThrow()
    expect(() => validateGrant(grant({ list: true }))).not.toThrow()
    expect(usage(() => validateGrant(grant({ to: 'user:carol' })))).toMatch(/--permission/)
    expect(usage(() => validateGrant(grant({ to: 'carol', permission: 'run' })))).toMatch(/user:ID/)
    expect(usage(() => validateGrant(grant({ to: 'user:carol', permission: 'own' })))).toMatch(/read, run, use, manage/)
    expect(usage(() => validateGrant(grant({ type: 'pipeline', to: 'user:carol', permission: 'run' })))).toMatch(/unknown type/)
    expect(usage(() => validateCanI({ verb: 'create', type: 'workflow', output: 'table', quiet: false }))).toMatch(/unknown verb "create"; known: get, runtime-get/)
  })

  it('check workspace names and --since', () => {
    expect(usage(() => validateCreateWorkspace({ name: 'Sales', tags: [] }))).toMatch(/workspace name/)
    expect(usage(() => validateCreateWorkspace({ name: 'sales', layer: 'team', tags: [] }))).toMatch(/user or system/)
    expect(() => validateAudit({ since: '1h', output: 'table' })).not.toThrow()
    expect(() => validateAudit({ since: '2024-05-01T00:00:00Z', output: 'table' })).not.toThrow()
    expect(usage(() => validateAudit({ since: 'yesterday', output: 'table' }))).toMatch(/--since/)
    expect(usage(() => validateAudit({ since: '99999999999999d', output: 'table' }))).toMatch(/--since "99999999999999d" is too long/)
  })
})

describe('login options', () => {
  const env = { CTL_HOME: mkdtempSync(join(tmpdir(), 'ctl-login-opts-')) }
  it('names a new context after the host of --server, and asks for the key only when there is a terminal', async () => {
    const asked: string[] = []
    const o = await completeLogin({ server: 'https://ctl.example.com:8443/' }, env, async (q) => (asked.push(q), ' ctl_key \n'))
    expect(o).toEqual({ context: { name: 'ctl.example.com-8443', server: 'https://ctl.example.com:8443', workspace: 'public' }, isNew: true, apiKey: 'ctl_key' })
    expect(asked).toEqual(['API key for https://ctl.example.com:8443: '])
    await expect(completeLogin({}, env, undefined)).rejects.toMatchObject({ code: 'E_USAGE' })
    const piped = await completeLogin({ apikey: '-' }, env, undefined, async () => 'ctl_piped\n')
    expect(piped).toMatchObject({ context: { name: 'local' }, apiKey: 'ctl_piped' })
    expect(usage(() => validateLogin({ ...piped, apiKey: '' }))).toMatch(/empty/)
    await expect(completeLogin({ server: 'ftp://x' }, env, undefined)).rejects.toMatchObject({ code: 'E_USAGE' })
  })
})
