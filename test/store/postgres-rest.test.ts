// The PostgreSQL store's logs, identity and leases against a real PostgreSQL, with several store
// instances on one database standing in for replicas: live follow through LISTEN/NOTIFY (and after
// the LISTEN connection drops), leases and fire claims raced from several instances, counters under
// concurrent adds, appenders of one attempt racing, and chunks byte-identical to SQLite's.
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { openPostgresStore } from '../../src/store/postgres/store.js'
import type { LogLineInput, Store } from '../../src/store/types.js'
import { freshDatabase } from '../support/postgres.js'
import { freshStore, seedRun } from './helpers.js'

const stores: Store[] = []
const clients: pg.Client[] = []
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close()
  for (const c of clients.splice(0)) await c.end()
})

async function open(url: string): Promise<Store> {
  const s = await openPostgresStore(url)
  stores.push(s)
  return s
}

async function client(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  clients.push(c)
  return c
}

const T = '2026-01-01T00:00:00.000Z'

/** A run with one attempt of each step, written through the store. */
async function seed(store: Store, steps: string[] = ['a']): Promise<{ runId: string; stepRunIds: string[] }> {
  const { run, steps: created } = await seedRun(store, steps)
  return { runId: run.id, stepRunIds: created.map((s) => s.id) }
}

function lines(n: number, tag: string, width = 20): LogLineInput[] {
  return Array.from({ length: n }, (_, i) => ({ time: T, stream: i % 2 ? 'stderr' : 'stdout', text: `${tag}-${i}-${'x'.repeat(width)}` }))
}

describe('PostgreSQL logs', () => {
  it('wakes a follower on another instance when lines are appended, and times out when nobody appends', async () => {
    const url = await freshDatabase()
    const [a, b] = [await open(url), await open(url)]
    const { runId, stepRunIds } = await seed(a)
    let woken = false
    const waiting = b.waitForLogs(runId, 10 * 60_000).then(() => (woken = true))
    await a.appendLogs(stepRunIds[0]!, lines(3, 'l'), 10)
    await waiting
    expect(woken).toBe(true)
    expect((await b.readLogs({ runId })).map((l) => l.seq)).toEqual([1, 2, 3])
    // Nobody appends to this run: the wait ends by its timeout.
    await b.waitForLogs('run-nobody', 50)
    const ac = new AbortController()
    const aborted = b.waitForLogs(runId, 10 * 60_000, ac.signal)
    ac.abort()
    await aborted
  })

  it('gives two concurrent appenders of one attempt contiguous, never interleaved seqs', async () => {
    const url = await freshDatabase()
    const [a, b] = [await open(url), await open(url)]
    const { runId, stepRunIds } = await seed(a)
    const id = stepRunIds[0]!
    const appender = async (s: Store, tag: string) => {
      for (let i = 0; i < 25; i++) await s.appendLogs(id, lines(4, `${tag}${i}`), i)
    }
    await Promise.all([appender(a, 'A'), appender(b, 'B')])
    const read = await b.readLogs({ runId })
    expect(read.map((l) => l.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1))
    // Each append's four lines stay together.
    for (let i = 0; i < read.length; i += 4) {
      const batch = read.slice(i, i + 4).map((l) => l.text.split('-')[0])
      expect(new Set(batch).size).toBe(1)
    }
    expect((await a.getStepRun(id))?.logSeq).toBe(200)
  })

  it('cuts a log into the same chunks, byte for byte, as SQLite', async () => {
    const url = await freshDatabase()
    const p = await open(url)
    const { store: s } = freshStore()
    const pgRun = await seed(p, ['a', 'b'])
    const sqRun = await seed(s, ['a', 'b'])
    // Small appends merge into the last chunk; a big one starts new chunks of ~128 KiB.
    const batches = [lines(3, 'small'), lines(2000, 'big', 100), lines(5, 'after', 3), [{ time: T, stream: 'system' as const, text: 'é "quoted"\n' }]]
    for (const [k, batch] of batches.entries()) {
      for (const stepRunId of pgRun.stepRunIds) await p.appendLogs(stepRunId, batch, k)
      for (const stepRunId of sqRun.stepRunIds) await s.appendLogs(stepRunId, batch, k)
    }
    const chunksOf = async (store: Store, runId: string, q: { afterSeq?: number; tail?: number; limit?: number; step?: string } = {}) => {
      const out: { step: string; firstSeq: number; lastSeq: number; data: string }[] = []
      for await (const c of store.iterateLogChunks!({ runId, ...q })) out.push({ step: c.step, firstSeq: c.firstSeq, lastSeq: c.lastSeq, data: Buffer.from(c.data).toString('hex') })
      return out
    }
    for (const q of [{}, { afterSeq: 1000 }, { tail: 7 }, { limit: 1500 }, { step: 'b', afterSeq: 3, limit: 10 }]) {
      const got = await chunksOf(p, pgRun.runId, q)
      expect(got.length).toBeGreaterThan(0)
      expect(got).toEqual(await chunksOf(s, sqRun.runId, q))
    }
    const strip = (l: { runId: string }) => ({ ...l, runId: '' })
    expect((await p.readLogs({ runId: pgRun.runId, tail: 3 })).map(strip)).toEqual((await s.readLogs({ runId: sqRun.runId, tail: 3 })).map(strip))
    const pages: number[] = []
    for await (const page of p.iterateLogs({ runId: pgRun.runId, step: 'a' }, 700)) pages.push(page.length)
    expect(pages).toEqual([700, 700, 609])
  })

  it('deletes the logs of attempts finished before a time', async () => {
    const url = await freshDatabase()
    const p = await open(url)
    const { runId, stepRunIds } = await seed(p, ['a', 'b'])
    await p.appendLogs(stepRunIds[0]!, lines(2000, 'x', 100), 1)
    await p.appendLogs(stepRunIds[1]!, lines(5, 'y'), 1)
    await p.updateStepRun(stepRunIds[0]!, { state: 'succeeded', finishedAt: '2026-01-01T00:00:00.000Z' })
    expect(await p.deleteLogsBefore('2026-02-01T00:00:00.000Z')).toBe(2000)
    expect((await p.readLogs({ runId })).map((l) => l.step)).toEqual(['b', 'b', 'b', 'b', 'b'])
  })

  it('comes back after its LISTEN connection is dropped, and followers still wake', async () => {
    const url = await freshDatabase()
    const [a, b] = [await open(url), await open(url)]
    const { runId, stepRunIds } = await seed(a)
    const admin = await client(url)
    const listeners = async () =>
      (await admin.query<{ pid: number; state: string; query: string }>(
        "SELECT pid, state, query FROM pg_stat_activity WHERE application_name = 'ctl-listen' AND datname = current_database()",
      )).rows
    const before = (await listeners()).map((r) => r.pid)
    expect(before).toHaveLength(2)
    // A follower waiting across the drop is woken once LISTEN is back (appends meanwhile were not
    // heard), though nobody appended here.
    const acrossDrop = b.waitForLogs(runId, 10 * 60_000)
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY($1)', [before])
    // Until both instances listen again on new connections (the LISTEN ran and the session is idle).
    for (;;) {
      const now = await listeners()
      if (now.length === 2 && now.every((r) => !before.includes(r.pid) && r.state === 'idle' && /LISTEN/i.test(r.query))) break
      await new Promise((r) => setTimeout(r, 100))
    }
    await acrossDrop
    const waiting = b.waitForLogs(runId, 10 * 60_000)
    await a.appendLogs(stepRunIds[0]!, lines(1, 'after-drop'), 2)
    await waiting
    expect((await b.readLogs({ runId })).map((l) => l.text)).toEqual(['after-drop-0-xxxxxxxxxxxxxxxxxxxx'])
  })
})

describe('PostgreSQL leases, fire claims and counters', () => {
  it('lets exactly one of two concurrent callers take a lease; takes over after expiry; renews', async () => {
    const url = await freshDatabase()
    const [a, b] = [await open(url), await open(url)]
    const now = '2026-01-01T00:00:00.000Z'
    const until = '2026-01-01T00:00:15.000Z'
    const runs = Array.from({ length: 20 }, (_, i) => `run-${String(i).padStart(2, '0')}`)
    const results = await Promise.all(runs.map((r) => Promise.all([a.acquireRunLease(r, 'A', now, until), b.acquireRunLease(r, 'B', now, until)])))
    for (const [ra, rb] of results) expect(ra !== rb).toBe(true)
    const leases = await a.listRunLeases()
    expect(leases.map((l) => l.runId)).toEqual(runs)
    const ownedByA = leases.filter((l) => l.owner === 'A').map((l) => l.runId)
    // Holder extends; the other cannot take it before expiry, can at or after it.
    expect(await a.acquireRunLease(runs[0]!, leases[0]!.owner, now, until)).toBe(true)
    const other = leases[0]!.owner === 'A' ? 'B' : 'A'
    expect(await b.acquireRunLease(runs[0]!, other, '2026-01-01T00:00:14.999Z', '2026-01-01T00:00:30.000Z')).toBe(false)
    expect(await b.acquireRunLease(runs[0]!, other, until, '2026-01-01T00:00:30.000Z')).toBe(true)
    // Renew: every lease A still holds.
    const heldByA = other === 'A' ? [...new Set([runs[0]!, ...ownedByA])].sort() : ownedByA.filter((r) => r !== runs[0])
    const renewed = await a.renewRunLeases('A', '2026-01-01T00:01:00.000Z')
    expect(renewed).toEqual(heldByA)
    expect((await b.listRunLeases()).filter((l) => l.owner === 'A').every((l) => l.expiresAt === '2026-01-01T00:01:00.000Z')).toBe(true)
    await a.releaseRunLease(renewed[0]!, 'B')
    expect((await b.listRunLeases()).find((l) => l.runId === renewed[0])?.owner).toBe('A')
    await a.releaseRunLease(renewed[0]!, 'A')
    expect((await b.listRunLeases()).find((l) => l.runId === renewed[0])).toBeUndefined()
  })

  it('gives 20 fire claims for 20 fire times claimed by 3 instances at once', async () => {
    const url = await freshDatabase()
    const inst = [await open(url), await open(url), await open(url)]
    const times = Array.from({ length: 20 }, (_, i) => `2026-01-01T00:00:${String(i).padStart(2, '0')}.000Z`)
    const claims = await Promise.all(times.flatMap((t) => inst.map((s, i) => s.claimFire('schedule:res-1', t, `r${i}`))))
    expect(claims.filter(Boolean)).toHaveLength(20)
    for (let t = 0; t < 20; t++) expect(claims.slice(t * 3, t * 3 + 3).filter(Boolean)).toHaveLength(1)
    // Pruned by when claims were taken (now), not by their fire times: all were just taken.
    expect(await inst[0]!.pruneFireClaims('2026-01-01T00:00:10.000Z')).toBe(0)
    expect(await inst[1]!.claimFire('schedule:res-1', times[15]!, 'late')).toBe(false)
  })

  it('adds to a counter from several instances at once without losing an add', async () => {
    const url = await freshDatabase()
    const inst = [await open(url), await open(url), await open(url)]
    const values = await Promise.all(inst.flatMap((s) => Array.from({ length: 20 }, () => s.addToCounter('auth:1.2.3.4', 'w1', 1))))
    expect([...values].sort((x, y) => x - y)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1))
    expect(await inst[2]!.readCounter('auth:1.2.3.4', 'w1')).toBe(60)
    expect(await inst[2]!.readCounter('auth:1.2.3.4', 'w0')).toBe(0)
    await inst[0]!.addToCounter('auth:1.2.3.4', 'w0', 5)
    expect(await inst[1]!.pruneCounters('w1')).toBe(1)
    expect(await inst[1]!.readCounter('auth:1.2.3.4', 'w1')).toBe(60)
  })

  it('keeps replicas by heartbeat, ordered by start', async () => {
    const url = await freshDatabase()
    const p = await open(url)
    await p.heartbeatReplica({ id: 'r-2', host: 'h2', pid: 2, version: '1', startedAt: '2026-01-01T00:00:02.000Z' }, '2026-01-01T00:00:03.000Z')
    await p.heartbeatReplica({ id: 'r-1', host: 'h1', pid: 1, url: 'http://h1', version: '1', startedAt: '2026-01-01T00:00:01.000Z' }, '2026-01-01T00:00:03.000Z')
    await p.heartbeatReplica({ id: 'r-2', host: 'h2', pid: 22, version: '2', startedAt: '2026-01-01T00:09:00.000Z' }, '2026-01-01T00:00:04.000Z')
    expect(await p.listReplicas()).toEqual([
      { id: 'r-1', host: 'h1', pid: 1, url: 'http://h1', version: '1', startedAt: '2026-01-01T00:00:01.000Z', heartbeatAt: '2026-01-01T00:00:03.000Z' },
      { id: 'r-2', host: 'h2', pid: 22, version: '2', startedAt: '2026-01-01T00:00:02.000Z', heartbeatAt: '2026-01-01T00:00:04.000Z' },
    ])
    await p.removeReplica('r-1')
    expect((await p.listReplicas()).map((r) => r.id)).toEqual(['r-2'])
  })
})

describe('PostgreSQL identity', () => {
  it('seeds workspaces, revives users, and keeps the newest audit entries', async () => {
    const url = await freshDatabase()
    const [a, b] = [await open(url), await open(url)]
    expect((await a.listWorkspaces()).map((w) => [w.name, w.layer])).toEqual([['public', 'user'], ['system', 'system']])
    // Two replicas creating one user: one wins, the other gets E_CONFLICT.
    const made = await Promise.allSettled([a.createUser({ id: 'jane', name: 'J', type: 'person' }), b.createUser({ id: 'jane', name: 'J', type: 'person' })])
    expect(made.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    expect(made.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'E_CONFLICT' } })
    await a.deleteUser('jane')
    expect(await b.createUser({ id: 'jane', name: 'Jane 2', type: 'application' })).toEqual({ id: 'jane', name: 'Jane 2', type: 'application', createdAt: expect.any(String) })
    for (let i = 0; i < 5; i++) await (i % 2 ? a : b).appendAudit({ time: `2026-01-01T00:00:0${i}.000Z`, actor: 'jane', action: 'apply', target: `t${i}`, result: 'ok', detail: { i } })
    expect((await a.listAudit({ limit: 2 })).map((e) => e.target)).toEqual(['t3', 't4'])
    expect((await a.listAudit({ since: '2026-01-01T00:00:02.000Z' })).map((e) => [e.target, e.detail])).toEqual([['t2', { i: 2 }], ['t3', { i: 3 }], ['t4', { i: 4 }]])
    const all = await b.listAudit({})
    expect(all.map((e) => e.seq)).toEqual([...all.map((e) => e.seq)].sort((x, y) => x - y))
  })
})
