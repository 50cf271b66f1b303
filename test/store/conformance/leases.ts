// LeaseStore and LogNotifier: replica heartbeats, run leases (acquire, expiry takeover, renew,
// release), exactly-once fire claims, shared counters, and log waiters.
import { describe, expect, it } from 'vitest'
import { seedRun, type StoreHarness } from './harness.js'

const T0 = '2024-05-01T10:00:00.000Z'
const T1 = '2024-05-01T10:00:15.000Z'
const T2 = '2024-05-01T10:00:30.000Z'
const T3 = '2024-05-01T10:00:45.000Z'

export function leaseContract(h: StoreHarness): void {
  describe('replicas', () => {
    it('heartbeats insert and refresh a replica, keeping when it started; remove drops it', async () => {
      const store = await h.store()
      await store.heartbeatReplica({ id: 'r-b', host: 'h2', pid: 2, version: '1.0.0', startedAt: T1 }, T1)
      await store.heartbeatReplica({ id: 'r-a', host: 'h1', pid: 1, url: 'http://h1:8080', version: '1.0.0', startedAt: T0 }, T0)
      expect(await store.listReplicas()).toEqual([
        { id: 'r-a', host: 'h1', pid: 1, url: 'http://h1:8080', version: '1.0.0', startedAt: T0, heartbeatAt: T0 },
        { id: 'r-b', host: 'h2', pid: 2, version: '1.0.0', startedAt: T1, heartbeatAt: T1 },
      ])
      await store.heartbeatReplica({ id: 'r-a', host: 'h1', pid: 11, version: '1.0.1', startedAt: T2 }, T3)
      expect((await store.listReplicas())[0]).toEqual({ id: 'r-a', host: 'h1', pid: 11, version: '1.0.1', startedAt: T0, heartbeatAt: T3 })
      await store.removeReplica('r-a')
      await store.removeReplica('r-missing')
      expect((await store.listReplicas()).map((r) => r.id)).toEqual(['r-b'])
    })
  })

  describe('run leases', () => {
    it('the lease clock is the database time when the store has one (never a caller\'s clock)', async () => {
      const store = await h.store()
      const clock = await store.leaseClock()
      if (clock === undefined) return // one machine: callers pass their own time
      expect(clock).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      expect(Math.abs(Date.parse(clock) - Date.now())).toBeLessThan(3_600_000)
    })

    it('acquire: free, held by another, extended by its holder, taken over once expired', async () => {
      const store = await h.store()
      const { run } = await seedRun(store)
      expect(await store.acquireRunLease(run.id, 'r-1', T0, T1)).toBe(true)
      expect(await store.acquireRunLease(run.id, 'r-2', T0, T1)).toBe(false)
      expect(await store.acquireRunLease(run.id, 'r-1', T0, T2)).toBe(true)
      expect(await store.listRunLeases()).toEqual([{ runId: run.id, owner: 'r-1', expiresAt: T2 }])
      // Still valid just before expiry, taken over at it.
      expect(await store.acquireRunLease(run.id, 'r-2', T1, T3)).toBe(false)
      expect(await store.acquireRunLease(run.id, 'r-2', T2, T3)).toBe(true)
      expect(await store.listRunLeases()).toEqual([{ runId: run.id, owner: 'r-2', expiresAt: T3 }])
    })

    it('a run created with a lease is its creator\'s from the start: the lease runs a TTL from the lease clock, or from the caller\'s time', async () => {
      const store = await h.store()
      const { resource, run: plain } = await seedRun(store)
      const clock = await store.leaseClock()
      const { run } = await store.createRun({ resourceId: resource.id, revision: 1, trigger: 'manual', steps: ['a'], lease: { owner: 'r-1', ttlMs: 15_000, now: T0 } })
      const lease = (await store.listRunLeases()).find((l) => l.runId === run.id)
      expect(lease?.owner).toBe('r-1')
      if (clock === undefined) expect(lease?.expiresAt).toBe(T1)
      else {
        expect(lease?.expiresAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
        const ahead = Date.parse(lease!.expiresAt) - Date.parse(clock)
        expect(ahead).toBeGreaterThanOrEqual(15_000)
        expect(ahead).toBeLessThan(15_000 + 60_000)
      }
      // Held: another owner cannot take it before it expires; its creator extends it as any holder.
      expect(await store.acquireRunLease(run.id, 'r-2', clock ?? T0, clock ?? T0)).toBe(false)
      expect(await store.renewRunLeases('r-1', T3)).toEqual([run.id])
      // A run created without one has none.
      expect((await store.listRunLeases()).map((l) => l.runId)).not.toContain(plain.id)
    })

    it('listRuns leasedBy: the runs whose lease names the owner, expired ones included, with the other filters', async () => {
      const store = await h.store()
      const { resource, run: a } = await seedRun(store)
      const b = (await store.createRun({ resourceId: resource.id, revision: 1, trigger: 'manual', steps: [], lease: { owner: 'r-1', ttlMs: 1_000, now: T0 } })).run
      const c = (await store.createRun({ resourceId: resource.id, revision: 1, trigger: 'manual', steps: [] })).run
      await store.acquireRunLease(a.id, 'r-1', T0, T1)
      await store.acquireRunLease(c.id, 'r-2', T0, T1)
      expect((await store.listRuns({ leasedBy: 'r-1' })).map((r) => r.id)).toEqual([b.id, a.id])
      expect((await store.listRuns({ leasedBy: 'r-2', states: ['pending'] })).map((r) => r.id)).toEqual([c.id])
      await store.updateRun(b.id, { state: 'succeeded', finishedAt: T1 })
      expect((await store.listRuns({ leasedBy: 'r-1', states: ['pending', 'running'] })).map((r) => r.id)).toEqual([a.id])
      expect(await store.listRuns({ leasedBy: 'r-none' })).toEqual([])
      await store.releaseRunLease(a.id, 'r-1')
      expect((await store.listRuns({ leasedBy: 'r-1', limit: 5 })).map((r) => r.id)).toEqual([b.id])
    })

    it('renew extends what the owner still holds, expired ones nobody took included; release frees', async () => {
      const store = await h.store()
      const { resource, run: a } = await seedRun(store)
      const b = (await store.createRun({ resourceId: resource.id, revision: 1, trigger: 'manual', steps: [] })).run
      const c = (await store.createRun({ resourceId: resource.id, revision: 1, trigger: 'manual', steps: [] })).run
      await store.acquireRunLease(a.id, 'r-1', T0, T1)
      await store.acquireRunLease(b.id, 'r-1', T0, T1)
      await store.acquireRunLease(c.id, 'r-2', T0, T1)
      // b expires and r-2 takes it over; a expired too, but nobody took it.
      expect(await store.acquireRunLease(b.id, 'r-2', T2, T3)).toBe(true)
      expect((await store.renewRunLeases('r-1', T3)).sort()).toEqual([a.id])
      expect((await store.renewRunLeases('r-2', T3)).sort()).toEqual([b.id, c.id].sort())
      expect(await store.renewRunLeases('r-none', T3)).toEqual([])
      expect((await store.listRunLeases()).map((l) => [l.runId, l.owner, l.expiresAt])).toEqual(
        [[a.id, 'r-1', T3], [b.id, 'r-2', T3], [c.id, 'r-2', T3]].sort((x, y) => (x[0]! < y[0]! ? -1 : 1)),
      )
      await store.releaseRunLease(a.id, 'r-2') // not its holder: a no-op
      expect((await store.listRunLeases()).find((l) => l.runId === a.id)?.owner).toBe('r-1')
      await store.releaseRunLease(a.id, 'r-1')
      expect((await store.listRunLeases()).map((l) => l.runId)).not.toContain(a.id)
      expect(await store.acquireRunLease(a.id, 'r-2', T0, T1)).toBe(true)
    })

    it('concurrent acquires from two instances on one database: exactly one winner per run', async () => {
      const one = await h.store()
      const two = await h.peer(one)
      const { resource } = await seedRun(one)
      const runs: string[] = []
      for (let i = 0; i < 15; i++) runs.push((await one.createRun({ resourceId: resource.id, revision: 1, trigger: 'manual', steps: [] })).run.id)
      const attempts = runs.flatMap((id) => [
        one.acquireRunLease(id, 'r-1', T0, T1).then((won) => ({ id, owner: 'r-1', won })),
        two.acquireRunLease(id, 'r-2', T0, T1).then((won) => ({ id, owner: 'r-2', won })),
        one.acquireRunLease(id, 'r-3', T0, T1).then((won) => ({ id, owner: 'r-3', won })),
      ])
      const results = await Promise.all(attempts)
      const leases = await two.listRunLeases()
      for (const id of runs) {
        const winners = results.filter((r) => r.id === id && r.won)
        expect(winners, id).toHaveLength(1)
        expect(leases.find((l) => l.runId === id)?.owner).toBe(winners[0]!.owner)
      }
      // Takeover after expiry is just as exclusive.
      const takeovers = await Promise.all(runs.flatMap((id) => [
        one.acquireRunLease(id, 'r-4', T1, T3).then((won) => ({ id, won })),
        two.acquireRunLease(id, 'r-5', T1, T3).then((won) => ({ id, won })),
      ]))
      for (const id of runs) expect(takeovers.filter((r) => r.id === id && r.won), id).toHaveLength(1)
    })
  })

  describe('fire claims', () => {
    it('the first claim of a (key, fire time) wins, whatever the owner; prune drops claims taken long ago', async () => {
      const store = await h.store()
      expect(await store.claimFire('schedule:res-1', T0, 'r-1')).toBe(true)
      expect(await store.claimFire('schedule:res-1', T0, 'r-1')).toBe(false)
      expect(await store.claimFire('schedule:res-1', T0, 'r-2')).toBe(false)
      expect(await store.claimFire('schedule:res-1', T1, 'r-2')).toBe(true)
      expect(await store.claimFire('backfill:bf-1', T0, 'r-2')).toBe(true)
      // Pruned by when a claim was taken, not by its fire time: these fire times are long past (as a backfill's
      // are), yet the claims were just taken and still protect their times.
      expect(await store.pruneFireClaims(new Date(Date.now() - 60 * 60_000).toISOString())).toBe(0)
      expect(await store.claimFire('schedule:res-1', T0, 'r-3')).toBe(false)
      expect(await store.claimFire('backfill:bf-1', T0, 'r-3')).toBe(false)
      expect(await store.pruneFireClaims(new Date(Date.now() + 60_000).toISOString())).toBe(3)
      expect(await store.pruneFireClaims(new Date(Date.now() + 60_000).toISOString())).toBe(0)
      // A pruned claim is gone: only prune what can no longer fire.
      expect(await store.claimFire('schedule:res-1', T0, 'r-3')).toBe(true)
    })

    it('a released claim can be taken again; only its owner releases it', async () => {
      const store = await h.store()
      expect(await store.claimFire('schedule:res-2', T0, 'r-1')).toBe(true)
      await store.releaseFire('schedule:res-2', T0, 'r-2')
      expect(await store.claimFire('schedule:res-2', T0, 'r-2')).toBe(false)
      await store.releaseFire('schedule:res-2', T0, 'r-1')
      await store.releaseFire('schedule:res-2', T0, 'r-1')
      expect(await store.claimFire('schedule:res-2', T0, 'r-2')).toBe(true)
      expect(await store.claimFire('schedule:res-2', T0, 'r-1')).toBe(false)
    })

    it('exactly once across instances claiming at the same time', async () => {
      const one = await h.store()
      const two = await h.peer(one)
      const times = Array.from({ length: 20 }, (_, i) => new Date(Date.UTC(2024, 4, 1, 0, i)).toISOString())
      const claims = await Promise.all(times.flatMap((t) => [
        one.claimFire('schedule:res-x', t, 'r-1').then((won) => ({ t, won })),
        two.claimFire('schedule:res-x', t, 'r-2').then((won) => ({ t, won })),
        two.claimFire('schedule:res-x', t, 'r-3').then((won) => ({ t, won })),
      ]))
      for (const t of times) expect(claims.filter((c) => c.t === t && c.won), t).toHaveLength(1)
    })
  })

  describe('counters', () => {
    it('add returns the new value; read; windows apart; prune by window', async () => {
      const store = await h.store()
      expect(await store.readCounter('auth:1.2.3.4', 'w1')).toBe(0)
      expect(await store.addToCounter('auth:1.2.3.4', 'w1', 1)).toBe(1)
      expect(await store.addToCounter('auth:1.2.3.4', 'w1', 2)).toBe(3)
      expect(await store.addToCounter('auth:1.2.3.4', 'w2', 5)).toBe(5)
      expect(await store.addToCounter('auth:5.6.7.8', 'w1', 1)).toBe(1)
      expect(await store.readCounter('auth:1.2.3.4', 'w1')).toBe(3)
      expect(await store.pruneCounters('w2')).toBe(2)
      expect(await store.readCounter('auth:1.2.3.4', 'w1')).toBe(0)
      expect(await store.readCounter('auth:1.2.3.4', 'w2')).toBe(5)
    })

    it('concurrent adds from two instances lose nothing', async () => {
      const one = await h.store()
      const two = await h.peer(one)
      const values = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? one : two).addToCounter('hook:bad', 'w', 1)))
      expect([...values].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
      expect(await one.readCounter('hook:bad', 'w')).toBe(40)
    })
  })
}
