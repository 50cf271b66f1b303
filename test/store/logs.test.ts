import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import type { LogLineInput, LogLineRecord, Store } from '../../src/store/types.js'
import { freshStore, seedRun } from './helpers.js'

function lines(from: number, to: number, stream: LogLineInput['stream'] = 'stdout'): LogLineInput[] {
  const out: LogLineInput[] = []
  for (let i = from; i <= to; i++) out.push({ time: `2024-05-01T10:00:00.${String(i % 1000).padStart(3, '0')}Z`, stream, text: `line ${i}` })
  return out
}

async function collect(iter: AsyncIterable<LogLineRecord[]>): Promise<LogLineRecord[][]> {
  const pages: LogLineRecord[][] = []
  for await (const page of iter) pages.push(page)
  return pages
}

async function setup(store: Store) {
  const seeded = await seedRun(store, ['a', 'b'])
  const [a, b] = seeded.steps
  return { ...seeded, a: a!, b: b! }
}

describe('logs', () => {
  it('appends batches with contiguous seqs and the resume offset in one go', async () => {
    const { store } = freshStore()
    const { run, a } = await setup(store)
    await store.appendLogs(a.id, lines(1, 3), 120)
    await store.appendLogs(a.id, [], 130) // offset can move without lines (e.g. a partial line held back)
    await store.appendLogs(a.id, [...lines(4, 4, 'stderr'), ...lines(5, 5, 'system')], 200)
    const got = await store.readLogs({ runId: run.id, step: 'a' })
    expect(got.map((l) => [l.seq, l.stream, l.text])).toEqual([
      [1, 'stdout', 'line 1'],
      [2, 'stdout', 'line 2'],
      [3, 'stdout', 'line 3'],
      [4, 'stderr', 'line 4'],
      [5, 'system', 'line 5'],
    ])
    expect(got[0]).toEqual({ runId: run.id, step: 'a', attempt: 1, seq: 1, time: '2024-05-01T10:00:00.001Z', stream: 'stdout', text: 'line 1' })
    expect(await store.getStepRun(a.id)).toMatchObject({ logOffset: 200, logSeq: 5 })
  })

  it('a failed append writes neither lines nor offset', async () => {
    const { store, file } = freshStore()
    const { run, a } = await setup(store)
    await store.appendLogs(a.id, lines(1, 2), 50)
    // Make the write fail inside the transaction: a stray chunk already ends at seq 5.
    const raw = new Database(file)
    raw.prepare("INSERT INTO log_chunks (step_run_id, first_seq, last_seq, body) VALUES (?, 5, 5, ?)").run(a.id, Buffer.from('[5,"t","stdout","planted"]\n'))
    raw.close()
    await expect(store.appendLogs(a.id, lines(3, 5), 99)).rejects.toMatchObject({ code: 'E_CONFLICT' })
    expect(await store.getStepRun(a.id)).toMatchObject({ logOffset: 50, logSeq: 2 })
    expect((await store.readLogs({ runId: run.id, step: 'a' })).map((l) => l.text)).toEqual(['line 1', 'line 2'])
    await expect(store.appendLogs('s-missing', lines(1, 1), 1)).rejects.toMatchObject({ code: 'E_NOT_FOUND' })
    await expect(
      store.appendLogs(a.id, [{ time: 't', stream: 'weird' as 'stdout', text: 'x' }], 1),
    ).rejects.toMatchObject({ code: 'E_USAGE' })
  })

  it('reads by step, attempt, afterSeq, tail and limit', async () => {
    const { store } = freshStore()
    const { run, a, b } = await setup(store)
    await store.appendLogs(a.id, lines(1, 10), 10)
    await store.appendLogs(b.id, lines(1, 3), 3)
    const a2 = await store.createStepAttempt(run.id, 'a', 2)
    await store.appendLogs(a2.id, lines(1, 2), 2)

    const key = (l: LogLineRecord) => `${l.step}#${l.attempt}:${l.seq}`
    const all = await store.readLogs({ runId: run.id })
    expect(all).toHaveLength(15)
    expect(all.map(key).slice(8, 13)).toEqual(['a#1:9', 'a#1:10', 'a#2:1', 'a#2:2', 'b#1:1'])
    expect((await store.readLogs({ runId: run.id, step: 'a', attempt: 2 })).map(key)).toEqual(['a#2:1', 'a#2:2'])
    expect((await store.readLogs({ runId: run.id, step: 'a', attempt: 1, afterSeq: 7 })).map((l) => l.seq)).toEqual([8, 9, 10])
    expect((await store.readLogs({ runId: run.id, step: 'a', attempt: 1, tail: 3 })).map((l) => l.seq)).toEqual([8, 9, 10])
    expect((await store.readLogs({ runId: run.id, step: 'a', attempt: 1, tail: 50 })).map((l) => l.seq)).toHaveLength(10)
    expect(await store.readLogs({ runId: run.id, step: 'a', attempt: 1, tail: 0 })).toEqual([])
    expect((await store.readLogs({ runId: run.id, step: 'a', attempt: 1, tail: 5, afterSeq: 8 })).map((l) => l.seq)).toEqual([9, 10])
    // tail applies per step attempt; limit caps the total
    expect((await store.readLogs({ runId: run.id, tail: 1 })).map(key)).toEqual(['a#1:10', 'a#2:2', 'b#1:3'])
    expect((await store.readLogs({ runId: run.id, limit: 11 })).map(key).slice(-2)).toEqual(['a#1:10', 'a#2:1'])
    expect(await store.readLogs({ runId: run.id, step: 'zzz' })).toEqual([])
    expect(await store.readLogs({ runId: run.id, step: 'a', attempt: 1, afterSeq: 10 })).toEqual([])
  })

  it('iterates in pages without gaps, honouring tail/afterSeq/limit', async () => {
    const { store } = freshStore()
    const { run, a, b } = await setup(store)
    for (let i = 0; i < 10; i++) await store.appendLogs(a.id, lines(i * 100 + 1, i * 100 + 100), (i + 1) * 1000)
    await store.appendLogs(b.id, lines(1, 5), 5)

    const pages = await collect(store.iterateLogs({ runId: run.id, step: 'a' }, 300))
    expect(pages.map((p) => p.length)).toEqual([300, 300, 300, 100])
    expect(pages.flat().map((l) => l.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1))

    const both = (await collect(store.iterateLogs({ runId: run.id }, 400))).flat()
    expect(both).toHaveLength(1005)
    expect(both.at(-1)).toMatchObject({ step: 'b', seq: 5 })

    const tail = (await collect(store.iterateLogs({ runId: run.id, step: 'a', tail: 250 }, 100))).flat()
    expect(tail.map((l) => l.seq)).toEqual(Array.from({ length: 250 }, (_, i) => 751 + i))
    const limited = await collect(store.iterateLogs({ runId: run.id, afterSeq: 990, limit: 12 }, 5))
    // afterSeq applies per attempt, so b (5 lines) contributes nothing after 990
    expect(limited.flat().map((l) => `${l.step}:${l.seq}`)).toEqual(Array.from({ length: 10 }, (_, i) => `a:${991 + i}`))
    const capped = (await collect(store.iterateLogs({ runId: run.id, afterSeq: 3, limit: 12 }, 5))).flat()
    expect(capped.map((l) => `${l.step}:${l.seq}`)).toEqual(Array.from({ length: 12 }, (_, i) => `a:${4 + i}`))
  })

  it('lines appended while iterating are picked up by the next page', async () => {
    const { store } = freshStore()
    const { run, a } = await setup(store)
    await store.appendLogs(a.id, lines(1, 4), 4)
    const seen: number[] = []
    let appended = false
    for await (const page of store.iterateLogs({ runId: run.id, step: 'a' }, 2)) {
      seen.push(...page.map((l) => l.seq))
      if (!appended) {
        appended = true
        await store.appendLogs(a.id, lines(5, 6), 6)
      }
    }
    expect(seen).toEqual([1, 2, 3, 4, 5, 6])
  })

  it('retention deletes lines of attempts finished before the cutoff only', async () => {
    const { store } = freshStore()
    const { run, a, b } = await setup(store)
    await store.appendLogs(a.id, lines(1, 30), 30)
    await store.appendLogs(b.id, lines(1, 7), 7)
    await store.updateStepRun(a.id, { state: 'succeeded', finishedAt: '2024-01-01T00:00:00.000Z' })
    await store.updateStepRun(b.id, { state: 'succeeded', finishedAt: '2024-03-01T00:00:00.000Z' })
    expect(await store.deleteLogsBefore('2024-02-01T00:00:00.000Z')).toBe(30)
    expect(await store.readLogs({ runId: run.id, step: 'a' })).toEqual([])
    expect(await store.readLogs({ runId: run.id, step: 'b' })).toHaveLength(7)
    expect(await store.deleteLogsBefore('2024-02-01T00:00:00.000Z')).toBe(0)
    // the step run keeps its counters, so nothing could ever reuse a seq
    expect(await store.getStepRun(a.id)).toMatchObject({ logSeq: 30, logOffset: 30 })
  })

  it('retention removes a large log in slices', async () => {
    const { store } = freshStore()
    const { run, a } = await setup(store)
    const n = 45_000
    await store.appendLogs(a.id, lines(1, n), n)
    await store.updateStepRun(a.id, { state: 'failed', finishedAt: '2024-01-01T00:00:00.000Z' })
    expect(await store.deleteLogsBefore('2025-01-01T00:00:00.000Z')).toBe(n)
    expect(await store.readLogs({ runId: run.id })).toEqual([])
  })
})
