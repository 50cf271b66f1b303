// A follower's reads of a run's step rows (run-changes.ts): each answer is what listStepRuns answers, whether the rows
// were written through the engine's store (noted: only those are read again) or by another process (not noted: seen
// at once for a run driven elsewhere, and within FULL_READ_MS for a run driven here). Runs on CTL_TEST_STORE.
import { afterEach, describe, expect, it } from 'vitest'
import { FULL_READ_MS, noteStepWrites, RunChanges, StepRowsReader } from '../../src/engine/run-changes.js'
import type { StepRunRecord, Store } from '../../src/store/types.js'
import { seedRun } from '../store/conformance/harness.js'
import { openTestStore } from '../support/store.js'

let raw: Store | undefined
afterEach(async () => {
  await raw?.close()
  raw = undefined
})

async function setup(steps: string[], owned = true) {
  raw = await openTestStore()
  const changes = new RunChanges()
  const store = noteStepWrites(raw, changes)
  const { run } = await seedRun(raw, steps)
  let now = 1_000_000
  const clock = { advance: (ms: number) => (now += ms) }
  const reader = new StepRowsReader(store, changes, run.id, () => owned, () => now)
  const read = async () => reader.read((await store.getRun(run.id))!)
  const stored = () => raw!.listStepRuns(run.id)
  return { store, raw, run, read, stored, clock, changes }
}

describe('a follower of a run reads what listStepRuns reads', () => {
  it('after writes of this process: state changes, handles, log offsets, new attempts', async () => {
    const t = await setup(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'])
    expect(await t.read()).toEqual(await t.stored())
    const [a, b] = await t.stored()
    await t.store.updateStepRun(a!.id, { state: 'running', startedAt: new Date().toISOString(), runtimeHandle: { launching: true } }, ['pending'])
    expect(await t.read()).toEqual(await t.stored())
    await t.store.updateStepRun(a!.id, { runtimeHandle: { runtime: 'local', id: 'x', data: {} } })
    await t.store.appendLogs(a!.id, [{ time: new Date().toISOString(), stream: 'stdout', text: 'hello' }], 6, 0)
    expect(await t.read()).toEqual(await t.stored())
    await t.store.updateStepRun(a!.id, { state: 'failed', reason: 'Error', exitCode: 1, finishedAt: new Date().toISOString() }, ['running'])
    await t.store.updateStepRun(b!.id, { state: 'skipped', reason: 'Skipped', finishedAt: new Date().toISOString() }, ['pending'])
    expect(await t.read()).toEqual(await t.stored())
    await t.store.createStepAttempt(t.run.id, 'a', 2)
    const rows = await t.read()
    expect(rows).toEqual(await t.stored())
    expect(rows.filter((r) => r.step === 'a').map((r) => r.attempt)).toEqual([1, 2])
    // Nothing written: the same answer.
    expect(await t.read()).toEqual(await t.stored())
  })

  it('a refused write (its guard did not hold) changes nothing and is read as such', async () => {
    const t = await setup(['a', 'b'])
    await t.read()
    const [a] = await t.stored()
    expect(await t.store.updateStepRun(a!.id, { state: 'succeeded' }, ['running'])).toBe(false)
    expect(await t.read()).toEqual(await t.stored())
  })

  it('a run driven elsewhere: another process\'s writes at the next read', async () => {
    const t = await setup(['a', 'b'], false)
    await t.read()
    const [a] = await t.stored()
    await t.raw.updateStepRun(a!.id, { state: 'running', startedAt: new Date().toISOString() }, ['pending'])
    expect(await t.read()).toEqual(await t.stored())
  })

  it('a run driven here: another process\'s writes within FULL_READ_MS, and at once when the run\'s state changed', async () => {
    const t = await setup(['a', 'b'])
    await t.read()
    const [a, b] = await t.stored()
    await t.raw.updateStepRun(a!.id, { state: 'running', startedAt: new Date().toISOString() }, ['pending'])
    t.clock.advance(FULL_READ_MS)
    expect(await t.read()).toEqual(await t.stored())
    await t.raw.updateStepRun(b!.id, { state: 'cancelled', reason: 'Killed', finishedAt: new Date().toISOString() }, ['pending'])
    await t.raw.updateRun(t.run.id, { state: 'cancelled', reason: 'stopped elsewhere', finishedAt: new Date().toISOString() })
    expect(await t.read()).toEqual(await t.stored())
  })

  it('a follower further behind than the log reads the run whole', async () => {
    const t = await setup(['a', 'b'])
    await t.read()
    const [a] = await t.stored()
    await t.raw.updateStepRun(a!.id, { state: 'running', startedAt: new Date().toISOString() }, ['pending'])
    // Writes to rows of other runs fill the log past what it keeps.
    for (let i = 0; i < 10_000; i++) t.changes.note({ stepRunId: `s-other-${i}` })
    expect(await t.read()).toEqual(await t.stored())
  })

  /** The engine's store over `raw`, counting the whole reads of a run (listStepRuns) and the reads of one row. */
  function counting(target: Store, changes: RunChanges) {
    const counts = { wholeReads: 0, rowReads: 0 }
    const counted = new Proxy(target, {
      get(t, key) {
        if (key === 'listStepRuns') return (runId: string) => (counts.wholeReads++, t.listStepRuns(runId))
        if (key === 'getStepRun') return (id: string) => (counts.rowReads++, t.getStepRun(id))
        const value: unknown = Reflect.get(t, key, t)
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value
      },
    })
    return { store: noteStepWrites(counted, changes), counts }
  }

  it('reads again only the rows written since its last read, while the run is driven here', async () => {
    raw = await openTestStore()
    const changes = new RunChanges()
    const { store, counts } = counting(raw, changes)
    const { run } = await seedRun(raw, Array.from({ length: 20 }, (_, i) => `s${i}`))
    const reader = new StepRowsReader(store, changes, run.id, () => true, () => 0)
    const read = async () => reader.read((await store.getRun(run.id))!)
    await read()
    expect(counts.wholeReads).toBe(1)
    const [a] = await raw.listStepRuns(run.id)
    await store.updateStepRun(a!.id, { state: 'running', startedAt: new Date().toISOString() }, ['pending'])
    expect(await read()).toEqual(await raw.listStepRuns(run.id))
    expect(await read()).toEqual(await raw.listStepRuns(run.id))
    expect(counts.wholeReads).toBe(1)
  })

  it('seeded with the rows a run\'s creation answered: reads only what was written since, never the run whole', async () => {
    raw = await openTestStore()
    const changes = new RunChanges()
    const { store, counts } = counting(raw, changes)
    // Other runs' writes before: the log does not start at this run.
    changes.note({ stepRunId: 's-other' })
    const { run, steps } = await seedRun(raw, ['a', 'b', 'c', 'd', 'e', 'f'])
    const seq = changes.now
    await store.updateStepRun(steps[1]!.id, { state: 'skipped', reason: 'Skipped', finishedAt: new Date().toISOString() }, ['pending'])
    const reader = new StepRowsReader(store, changes, run.id, () => true, () => 0)
    reader.seed(run, steps, seq)
    const read = async () => reader.read((await store.getRun(run.id))!)
    expect(await read()).toEqual(await raw.listStepRuns(run.id))
    expect(await read()).toEqual(await raw.listStepRuns(run.id))
    expect(counts.wholeReads).toBe(0)
  })

  it('a row written once is read once for all the followers of the run (the scheduler, each watch)', async () => {
    raw = await openTestStore()
    const changes = new RunChanges()
    const { store, counts } = counting(raw, changes)
    const { run } = await seedRun(raw, Array.from({ length: 20 }, (_, i) => `s${i}`))
    const readers = [0, 1, 2].map(() => new StepRowsReader(store, changes, run.id, () => true, () => 0))
    const readAll = async () => {
      for (const reader of readers) expect(await reader.read((await store.getRun(run.id))!)).toEqual(await raw!.listStepRuns(run.id))
    }
    await readAll()
    const [a, b] = await raw.listStepRuns(run.id)
    for (const patch of [{ state: 'running' as const, startedAt: new Date().toISOString() }, { runtimeHandle: { runtime: 'local', id: 'x', data: {} } }, { state: 'succeeded' as const, finishedAt: new Date().toISOString() }]) {
      counts.rowReads = 0
      await store.updateStepRun(a!.id, patch)
      await store.updateStepRun(b!.id, patch)
      await readAll()
      expect(counts.rowReads).toBe(2)
    }
    expect(counts.wholeReads).toBe(3)
  })
})

describe('RunChanges keeps a row only while no write to it was noted since its read began', () => {
  const row = (id: string) => ({ id, runId: 'r1', step: id, attempt: 1, state: 'pending', logOffset: 0 }) as unknown as StepRunRecord

  it('a write noted after the read began: not kept; a write noted after it was kept: forgotten', () => {
    const changes = new RunChanges()
    changes.note({ stepRunId: 'other' })
    const began = changes.now
    changes.note({ stepRunId: 'a' })
    changes.remember([row('a'), row('b')], began)
    expect(changes.known('a')).toBeUndefined()
    expect(changes.known('b')).toEqual(row('b'))
    changes.note({ stepRunId: 'b' })
    expect(changes.known('b')).toBeUndefined()
    // New rows of a run change no existing row.
    changes.remember([row('b')], changes.now)
    changes.note({ runId: 'r1' })
    expect(changes.known('b')).toEqual(row('b'))
  })

  it('a read that began before what the log still holds: nothing kept', () => {
    const changes = new RunChanges()
    const began = changes.now
    for (let i = 0; i < 10_000; i++) changes.note({ stepRunId: `s-${i}` })
    changes.remember([row('a')], began)
    expect(changes.known('a')).toBeUndefined()
  })

  it('keeps a bounded number of rows, the latest kept', () => {
    const changes = new RunChanges()
    for (let i = 0; i < 10_000; i++) changes.remember([row(`s-${i}`)], changes.now)
    expect(changes.known('s-0')).toBeUndefined()
    expect(changes.known('s-9999')).toEqual(row('s-9999'))
  })
})
