// Several instances on one database (replicas, or processes sharing one SQLite file): writes
// through each are seen by the others, racing applies lose and duplicate nothing.
import { describe, expect, it } from 'vitest'
import type { Store } from '../../../src/store/types.js'
import type { StoreHarness } from './harness.js'

export function instancesContract(h: StoreHarness): void {
  describe('several instances on one database', () => {
    it('interleaved applies through separate instances see each other and lose nothing', async () => {
      const first = await h.store()
      const stores: Store[] = [first, await h.peer(first), await h.peer(first), await h.peer(first)]
      const key = { workspace: 'public', type: 'workflow', name: 'multi' }
      const jobs: Promise<{ outcome: string }>[] = []
      for (let k = 0; k < 10; k++) {
        stores.forEach((s, w) => {
          jobs.push(s.applyResource({ ...key, version: 'v1', manifest: { w, k }, owner: `w${w}` }))
        })
      }
      const results = await Promise.all(jobs)
      expect(results.filter((r) => r.outcome === 'created')).toHaveLength(1)
      const revs = await stores[3]!.listRevisions((await stores[0]!.getResource(key))!.id)
      expect(revs.map((r) => r.revision)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
      expect(new Set(revs.map((r) => r.hash)).size).toBe(40)
    })

    it('racing expectedRevision applies: only clean E_CONFLICTs, one winner per revision', async () => {
      const first = await h.store()
      const second = await h.peer(first)
      const key = { workspace: 'public', type: 'workflow', name: 'cas' }
      await first.applyResource({ ...key, version: 'v1', manifest: { v: 0 }, owner: 'a' })
      const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? first : second).applyResource({ ...key, version: 'v1', manifest: { v: i + 1 }, owner: 'a', expectedRevision: 1 })
          .then(() => 'ok', (e: unknown) => (e as { code?: string }).code ?? String(e))))
      expect(outcomes.filter((o) => o === 'ok')).toHaveLength(1)
      expect(outcomes.filter((o) => o !== 'ok').every((o) => o === 'E_CONFLICT')).toBe(true)
      expect((await second.getResource(key))!.revision).toBe(2)
    })

    it('a run created through one is stepped through the other (compare-and-set holds across them)', async () => {
      const first = await h.store()
      const second = await h.peer(first)
      const { resource } = await first.applyResource({ workspace: 'public', type: 'workflow', name: 'wf', version: 'v1', manifest: {}, owner: 'a' })
      const { run, steps } = await first.createRun({ resourceId: resource.id, revision: 1, trigger: 'apply', steps: ['s'] })
      const raced = await Promise.all([
        first.updateStepRun(steps[0]!.id, { state: 'running' }, ['pending']),
        second.updateStepRun(steps[0]!.id, { state: 'running' }, ['pending']),
        first.updateRun(run.id, { state: 'running' }, ['pending']),
        second.updateRun(run.id, { state: 'running' }, ['pending']),
      ])
      expect(raced.slice(0, 2).filter(Boolean)).toHaveLength(1)
      expect(raced.slice(2).filter(Boolean)).toHaveLength(1)
      expect(await second.getRun(run.id)).toMatchObject({ state: 'running' })
    })

    it('concurrent appends to one step attempt through two instances: every line once, seqs contiguous per batch', async () => {
      const first = await h.store()
      const second = await h.peer(first)
      const { resource } = await first.applyResource({ workspace: 'public', type: 'workflow', name: 'wf', version: 'v1', manifest: {}, owner: 'a' })
      const { run, steps } = await first.createRun({ resourceId: resource.id, revision: 1, trigger: 'apply', steps: ['s'] })
      const batch = (b: number) => Array.from({ length: 5 }, (_, i) => ({ time: '2024-05-01T10:00:00.000Z', stream: 'stdout' as const, text: `b${b} l${i}` }))
      await Promise.all(Array.from({ length: 12 }, (_, b) => (b % 2 ? first : second).appendLogs(steps[0]!.id, batch(b), b)))
      const got = await second.readLogs({ runId: run.id })
      expect(got.map((l) => l.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1))
      expect(new Set(got.map((l) => l.text)).size).toBe(60)
      for (let k = 0; k < 60; k += 5) {
        const b = got[k]!.text.split(' ')[0]
        expect(got.slice(k, k + 5).map((l) => l.text)).toEqual(batch(Number(b!.slice(1))).map((l) => l.text))
      }
      expect((await first.getStepRun(steps[0]!.id))!.logSeq).toBe(60)
    })

    it('audit entries appended through two instances are all kept, in one order', async () => {
      const first = await h.store()
      const second = await h.peer(first)
      await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? first : second).appendAudit({ actor: 'a', action: `act${i}`, target: 't', result: 'ok' })))
      const all = await first.listAudit({})
      expect(all.map((e) => e.action).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `act${i}`).sort())
      const seqs = all.map((e) => e.seq)
      expect(new Set(seqs).size).toBe(20)
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs)
      expect(await second.listAudit({})).toEqual(all)
    })
  })
}
