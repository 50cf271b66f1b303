// LogNotifier.waitForLogs: woken by an append to its run, by its timeout, by its signal; never rejects.
// Across instances only where the store promises it (PostgreSQL: NOTIFY; SQLite wakes other
// processes through the timeout alone).
import { describe, expect, it } from 'vitest'
import { seedRun, type StoreHarness } from './harness.js'

const FOREVER = 10 * 60_000 // longer than any test: only a wake-up ends these waits

const line = (text: string) => [{ time: '2024-05-01T10:00:00.000Z', stream: 'stdout' as const, text }]

export function logWaitContract(h: StoreHarness, options: { wakesOtherInstances: boolean }): void {
  describe('waiting for logs', () => {
    it('an append to the run wakes its waiters; the same store', async () => {
      const store = await h.store()
      const { run, steps } = await seedRun(store)
      let woken = 0
      const waits = [store.waitForLogs(run.id, FOREVER), store.waitForLogs(run.id, FOREVER)].map((p) => p.then(() => woken++))
      await store.appendLogs(steps[0]!.id, line('hello'), 1)
      await Promise.all(waits)
      expect(woken).toBe(2)
    })

    it('ends on its timeout and on its signal, already aborted or later', async () => {
      const store = await h.store()
      const { run } = await seedRun(store)
      await expect(store.waitForLogs(run.id, 1)).resolves.toBeUndefined()
      await expect(store.waitForLogs(run.id, 0)).resolves.toBeUndefined()
      await expect(store.waitForLogs(run.id, FOREVER, AbortSignal.abort())).resolves.toBeUndefined()
      const ac = new AbortController()
      const waiting = store.waitForLogs(run.id, FOREVER, ac.signal)
      ac.abort()
      await expect(waiting).resolves.toBeUndefined()
    })

    it('closing the store ends every wait', async () => {
      const store = await h.store()
      const { run } = await seedRun(store)
      const waiting = store.waitForLogs(run.id, FOREVER)
      await h.close(store)
      await expect(waiting).resolves.toBeUndefined()
    })

    it('an append to another run does not wake it', async () => {
      const store = await h.store()
      const { resource, run, steps } = await seedRun(store)
      const other = await store.createRun({ resourceId: resource.id, revision: 1, trigger: 'manual', steps: ['x'] })
      let woken = false
      const ac = new AbortController()
      const waiting = store.waitForLogs(run.id, FOREVER, ac.signal).then(() => (woken = true))
      await store.appendLogs(other.steps[0]!.id, line('elsewhere'), 1)
      await store.readLogs({ runId: other.run.id }) // a round trip after the append
      expect(woken).toBe(false)
      await store.appendLogs(steps[0]!.id, line('here'), 1)
      await waiting
      expect(woken).toBe(true)
    })

    it.runIf(options.wakesOtherInstances)('an append through another instance wakes the waiters of this one', async () => {
      const one = await h.store()
      const two = await h.peer(one)
      const { run, steps } = await seedRun(one)
      const waits = [one.waitForLogs(run.id, FOREVER), one.waitForLogs(run.id, FOREVER)]
      await two.appendLogs(steps[0]!.id, line('from the other replica'), 1)
      await Promise.all(waits)
      expect((await one.readLogs({ runId: run.id })).map((l) => l.text)).toEqual(['from the other replica'])
    })
  })
}
