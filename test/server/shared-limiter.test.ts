// The failure limiter shared by replicas through the store's counters, on a real SQLite store: two limiters (two
// replicas) reach the limit at the sum of their failures, a client over the limit costs no store write, a key
// that has not failed here costs no read, counter rows and keys are bounded whatever the client sends, and
// memory stays bounded.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SHARED_PREFIXES, SharedFailureLimiter } from '../../src/http/shared-limiter.js'
import { openStore } from '../../src/store/open.js'
import type { Store } from '../../src/store/types.js'

const dir = mkdtempSync(join(tmpdir(), 'ctl-limiter-'))
let store: Store
beforeAll(async () => {
  store = await openStore(join(dir, 'ctl.db'))
})
afterAll(async () => {
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

// A fixed window starting at a round time, so that every call below falls in it.
const WINDOW = 60_000
const T = Date.parse('2030-01-01T00:00:00.000Z') + 1000

describe('SharedFailureLimiter', () => {
  it('two replicas reach the limit at the sum of their failures; past it, no store write', async () => {
    const a = new SharedFailureLimiter(store, 'auth', 3, WINDOW)
    const b = new SharedFailureLimiter(store, 'auth', 3, WINDOW)
    await a.fail('10.0.0.1', 'ctl_abcdefghijkl-1', T)
    await b.fail('10.0.0.1', 'ctl_abcdefghijkl-2', T + 1)
    expect(await a.blockedFor('10.0.0.1', 'ctl_abcdefghijkl-3', T + 2)).toBe(0)
    await a.fail('10.0.0.1', 'ctl_abcdefghijkl-3', T + 3)
    // b saw one failure, a two: both refuse now, until the window ends.
    expect(await b.blockedFor('10.0.0.1', 'ctl_abcdefghijkl-4', T + 4)).toBe(WINDOW - 1000 - 4)
    expect(await a.blockedFor('10.0.0.1', 'ctl_abcdefghijkl-4', T + 4)).toBeGreaterThan(0)
    // Another prefix from the same address, and the same prefix from another address, are not limited.
    expect(await b.blockedFor('10.0.0.1', 'ctl_zzzzzzzzzzzz', T + 5)).toBe(0)
    expect(await b.blockedFor('10.0.0.2', 'ctl_abcdefghijkl', T + 5)).toBe(0)
    const key = a.counterKey('10.0.0.1', 'ctl_abcdefghijkl')
    const window = new Date(Math.floor(T / WINDOW) * WINDOW).toISOString()
    expect(await store.readCounter(key, window)).toBe(3)
    // A replica that saw none of them does not ask the store (a valid key costs no read) and lets one through;
    // after one failure of its own it knows (so limit + N - 1 over N replicas at most).
    const c = new SharedFailureLimiter(store, 'auth', 3, WINDOW)
    expect(await c.blockedFor('10.0.0.1', 'ctl_abcdefghijkl', T + 6)).toBe(0)
    await c.fail('10.0.0.1', 'ctl_abcdefghijkl', T + 6)
    expect(await c.blockedFor('10.0.0.1', 'ctl_abcdefghijkl', T + 7)).toBeGreaterThan(0)
    const e = new SharedFailureLimiter(store, 'auth', 3, WINDOW)
    await e.fail('10.0.0.1', 'ctl_abcdefghijkl', T + 8)
    expect(await e.blockedFor('10.0.0.1', 'ctl_abcdefghijkl', T + 9)).toBeGreaterThan(0)
    // Once over the limit here, refused without the store: on a closed store a read would fail (taken as 0, let through).
    const own = await openStore(join(dir, 'ctl.db'))
    const d = new SharedFailureLimiter(own, 'auth', 3, WINDOW)
    for (let i = 0; i < 3; i++) await d.fail('10.9.9.9', 'ctl_ownkeyprefix00', T + i)
    await own.close()
    expect(await d.blockedFor('10.9.9.9', 'ctl_ownkeyprefix00', T + 10)).toBeGreaterThan(0)
    // The next window starts afresh.
    expect(await b.blockedFor('10.0.0.1', 'ctl_abcdefghijkl', T + WINDOW)).toBe(0)
  })

  it('counter keys are bounded and name nothing the client sent', () => {
    const l = new SharedFailureLimiter(store, 'hook', 3, WINDOW)
    const key = l.counterKey('x'.repeat(10_000), 'y'.repeat(10_000))
    expect(key).toMatch(/^hook:[0-9a-f]{32}$/)
    // Only the key's prefix counts (KEY_PREFIX_LENGTH), as for the local limiter.
    expect(l.counterKey('10.0.0.1', 'ctl_abcdefghijkl-1')).toBe(l.counterKey('10.0.0.1', 'ctl_abcdefghijkl-2'))
  })

  it('memory stays bounded under failures from many addresses', async () => {
    const l = new SharedFailureLimiter(store, 'auth', 1, WINDOW, 50)
    for (let i = 0; i < 500; i++) await l.fail(`10.1.${i >> 8}.${i & 255}`, 'ctl_somekeyprefix', T + i)
    // Three maps (this process's windows, the blocked keys, the shared keys per address), each at most 50.
    expect(l.size).toBeLessThanOrEqual(150)
  })

  it('store access: no read for a key that has not failed here; counter rows per address bounded whatever the prefixes', async () => {
    let reads = 0
    let writes = 0
    const counting = {
      readCounter: (k: string, w: string) => (reads++, store.readCounter(k, w)),
      addToCounter: (k: string, w: string, by: number) => (writes++, store.addToCounter(k, w, by)),
    }
    const l = new SharedFailureLimiter(counting, 'auth', 3, WINDOW)
    for (let i = 0; i < 100; i++) expect(await l.blockedFor('10.3.0.1', `ctl_validkey${String(i).padStart(4, '0')}`, T + i)).toBe(0)
    expect(reads).toBe(0)
    // An unauthenticated client rotating prefixes: one counter row per prefix only up to SHARED_PREFIXES.
    for (let i = 0; i < 200; i++) await l.fail('10.3.0.2', `ctl_rot${String(i).padStart(9, '0')}`, T + i)
    expect(writes).toBe(SHARED_PREFIXES)
    // Each of those prefixes is still limited here.
    for (let i = 0; i < 2; i++) await l.fail('10.3.0.2', 'ctl_rot000000150', T + 300 + i)
    expect(await l.blockedFor('10.3.0.2', 'ctl_rot000000150', T + 400)).toBeGreaterThan(0)
  })
})
