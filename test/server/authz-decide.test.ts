// decide() on its own: the reasons it gives, instance-level rules, and the pieces around
// it (failure limiter windows, durations). The HTTP matrix is in authz-matrix.test.ts.
import { describe, expect, it } from 'vitest'
import { decide, forbiddenMessage, whatAllows, type Principal } from '../../src/access/policy.js'
import { FailureLimiter } from '../../src/http/auth.js'

const user = (id: string, roles: Principal['roles']): Principal => ({ id, type: 'person', name: id, roles })

describe('decide', () => {
  it('names the broadest binding that allows, then ownership, then grants', () => {
    const p = user('bob', [{ role: 'viewer', workspace: 'sales' }, { role: 'operator', workspace: null }])
    expect(decide(p, 'run', { workspace: 'sales', type: 'workflow', name: 'x', owner: 'amy' }))
      .toEqual({ allowed: true, reason: 'binding roles:id:operator tenant-wide' })
    expect(decide(p, 'delete', { workspace: 'sales', type: 'workflow', name: 'x', owner: 'bob' }))
      .toEqual({ allowed: true, reason: 'owner of workflow/sales/x' })
    expect(decide(p, 'delete', { workspace: 'sales', type: 'workflow', name: 'x', owner: 'amy', grants: ['read', 'manage'] }))
      .toEqual({ allowed: true, reason: 'grant manage on workflow/sales/x to user:bob' })
    expect(decide(p, 'delete', { workspace: 'sales', type: 'workflow', name: 'x', owner: 'amy', grants: ['run'] }))
      .toEqual({ allowed: false, reason: 'no binding or grant allows delete on workflow x in workspace sales' })
  })

  it('treats instance-level resources as readable by any binding and writable by a tenant-wide tenant-admin only', () => {
    const wsAdmin = user('w', [{ role: 'tenant-admin', workspace: 'sales' }])
    const admin = user('a', [{ role: 'tenant-admin', workspace: null }])
    const nobody = user('n', [])
    expect(decide(wsAdmin, 'get', { workspace: null, type: 'stack', name: 's', owner: 'a' }).allowed).toBe(true)
    expect(decide(wsAdmin, 'apply', { workspace: null, type: 'stack', name: 's', owner: 'a' }).allowed).toBe(false)
    expect(decide(admin, 'apply', { workspace: null, type: 'stack', name: 's' }).allowed).toBe(true)
    expect(decide(nobody, 'get', { workspace: null, type: 'stack', name: 's', owner: 'a' }).allowed).toBe(false)
    expect(decide(nobody, 'use', { workspace: null, type: 'instance-secret', name: 's', owner: 'a', grants: ['use'] }))
      .toEqual({ allowed: true, reason: 'grant use on instance-secret/s to user:n' })
    expect(whatAllows('apply', { workspace: null, type: 'stack', name: 's', owner: 'a' })).toBe('role tenant-admin tenant-wide, ownership, or grant manage')
  })

  it('keeps admin for tenant-admins whose scope covers the target', () => {
    const wsAdmin = user('w', [{ role: 'tenant-admin', workspace: 'sales' }])
    expect(decide(wsAdmin, 'admin', { workspace: 'sales', type: 'binding', name: 'x' }).allowed).toBe(true)
    expect(decide(wsAdmin, 'admin', { workspace: null, type: 'user', name: 'x' }).allowed).toBe(false)
    expect(forbiddenMessage(wsAdmin, 'admin', { workspace: null, type: 'audit' }))
      .toBe('forbidden: user w may not admin audit tenant-wide (needs role tenant-admin tenant-wide)')
  })

  it('lets a data-dev create but not take over what others own', () => {
    const dev = user('d', [{ role: 'data-dev', workspace: 'sales' }])
    expect(decide(dev, 'apply', { workspace: 'sales', type: 'workflow', name: 'new' })).toEqual({ allowed: true, reason: 'binding roles:id:data-dev in workspace sales' })
    expect(decide(dev, 'apply', { workspace: 'sales', type: 'workflow', name: 'old', owner: 'x' }).allowed).toBe(false)
    expect(whatAllows('apply', { workspace: 'sales', type: 'workflow', name: 'old', owner: 'x' })).toBe('role tenant-admin in sales, ownership, or grant manage')
    expect(whatAllows('apply', { workspace: 'sales', type: 'workflow', name: 'new' })).toBe('role data-dev/tenant-admin in sales')
  })
})

describe('failure limiter', () => {
  it('blocks an address and key prefix after the limit until its window ends, then starts afresh', () => {
    const l = new FailureLimiter(3, 60_000)
    const guess = 'ctl_guessguessguessguess'
    for (let i = 0; i < 3; i++) l.fail('1.2.3.4', guess, 1000 + i)
    expect(l.blockedFor('1.2.3.4', guess, 2000)).toBe(59_000)
    // Same prefix (16 characters), other tail: still blocked; other prefix or other address: not.
    expect(l.blockedFor('1.2.3.4', 'ctl_guessguessguXXXX', 2000)).toBe(59_000)
    expect(l.blockedFor('1.2.3.4', 'ctl_somethingelse', 2000)).toBe(0)
    expect(l.blockedFor('5.6.7.8', guess, 2000)).toBe(0)
    expect(l.blockedFor('1.2.3.4', guess, 61_000)).toBe(0)
    l.fail('1.2.3.4', guess, 61_001)
    expect(l.blockedFor('1.2.3.4', guess, 61_002)).toBe(0)
  })

  it('holds at most its bound of windows under a flood of distinct prefixes, dropping the oldest', () => {
    const l = new FailureLimiter(2, 60_000, 100)
    for (let i = 0; i < 1000; i++) l.fail('127.0.0.1', `ctl_${String(i).padStart(12, '0')}`, 1000)
    expect(l.size).toBeLessThanOrEqual(100)
    // The newest ones are kept (and still counted).
    l.fail('127.0.0.1', `ctl_${String(999).padStart(12, '0')}`, 1001)
    expect(l.blockedFor('127.0.0.1', `ctl_${String(999).padStart(12, '0')}`, 1002)).toBeGreaterThan(0)
  })
})
