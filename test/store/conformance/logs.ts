// LogStore: appends (lines and resume offset in one transaction), reads with every selector, pages,
// encoded chunks (the line encoding shared with the API), retention.
import { describe, expect, it } from 'vitest'
import { decodeLines, encodeLine } from '../../../src/api/log-codec.js'
import type { LogChunk, LogLineInput, LogLineRecord, LogQuery, Store } from '../../../src/store/types.js'
import { collect, seedRun, type StoreHarness } from './harness.js'

const STREAMS = ['stdout', 'stderr', 'system'] as const

function lines(from: number, to: number, stream: LogLineInput['stream'] = 'stdout'): LogLineInput[] {
  const out: LogLineInput[] = []
  for (let i = from; i <= to; i++) out.push({ time: `2024-05-01T10:00:00.${String(i % 1000).padStart(3, '0')}Z`, stream, text: `line ${i}` })
  return out
}

/** Lines whose text exercises JSON escaping and multi-byte UTF-8. */
export function tricky(from: number, to: number, width = 0): LogLineInput[] {
  const texts = ['plain', 'quote " and \\ backslash', 'tab\tcr\r', 'ünïcödé ✓ 日本語 🚀', 'ctrl \u0001\u001f', '{"json":[1,2]}', '']
  const out: LogLineInput[] = []
  for (let i = from; i <= to; i++) {
    const text = `${i} ${texts[i % texts.length]}`
    out.push({ time: new Date(Date.UTC(2024, 4, 1, 0, 0, 0, i)).toISOString(), stream: STREAMS[i % 3]!, text: width ? text.padEnd(width, 'x') : text })
  }
  return out
}

async function setup(store: Store) {
  const seeded = await seedRun(store, ['a', 'b'])
  const [a, b] = seeded.steps
  return { ...seeded, a: a!, b: b! }
}

export function logContract(h: StoreHarness): void {
  describe('logs', () => {
    it('appends batches with contiguous seqs and the resume offset in one go', async () => {
      const store = await h.store()
      const { run, a } = await setup(store)
      await store.appendLogs(a.id, lines(1, 3), 120)
      await store.appendLogs(a.id, [], 130) // the offset can move without lines (a partial line held back)
      await store.appendLogs(a.id, [...lines(4, 4, 'stderr'), ...lines(5, 5, 'system')], 200)
      const got = await store.readLogs({ runId: run.id, step: 'a' })
      expect(got.map((l) => [l.seq, l.stream, l.text])).toEqual([
        [1, 'stdout', 'line 1'], [2, 'stdout', 'line 2'], [3, 'stdout', 'line 3'], [4, 'stderr', 'line 4'], [5, 'system', 'line 5'],
      ])
      expect(got[0]).toEqual({ runId: run.id, step: 'a', attempt: 1, seq: 1, time: '2024-05-01T10:00:00.001Z', stream: 'stdout', text: 'line 1' })
      expect(await store.getStepRun(a.id)).toMatchObject({ logOffset: 200, logSeq: 5 })
    })

    it('appends with an expected offset only when the stored offset is that one (two followers never store one batch twice)', async () => {
      const store = await h.store()
      const { run, a } = await setup(store)
      expect(await store.appendLogs(a.id, lines(1, 2), 50, 0)).toBe(true)
      // A second follower resumed from offset 0 too: its batch of the same bytes is refused, nothing written.
      expect(await store.appendLogs(a.id, lines(1, 2), 50, 0)).toBe(false)
      expect(await store.appendLogs(a.id, [], 40, 0)).toBe(false)
      expect(await store.getStepRun(a.id)).toMatchObject({ logOffset: 50, logSeq: 2 })
      expect(await store.appendLogs(a.id, lines(3, 3), 70, 50)).toBe(true)
      expect(await store.appendLogs(a.id, [], 70, 70)).toBe(true)
      // Without an expected offset: written as before (system lines of an attempt that never ran).
      expect(await store.appendLogs(a.id, lines(4, 4, 'system'), 70)).toBe(true)
      expect((await store.readLogs({ runId: run.id, step: 'a' })).map((l) => l.text)).toEqual(['line 1', 'line 2', 'line 3', 'line 4'])
      expect(await store.getStepRun(a.id)).toMatchObject({ logOffset: 70, logSeq: 4 })
    })

    it('refuses an unknown step run or stream, writing nothing', async () => {
      const store = await h.store()
      const { run, a } = await setup(store)
      await store.appendLogs(a.id, lines(1, 2), 50)
      await expect(store.appendLogs('s-missing', lines(1, 1), 1)).rejects.toMatchObject({ code: 'E_NOT_FOUND' })
      await expect(store.appendLogs(a.id, [...lines(3, 3), { time: 't', stream: 'weird' as 'stdout', text: 'x' }], 99)).rejects.toMatchObject({ code: 'E_USAGE' })
      expect(await store.getStepRun(a.id)).toMatchObject({ logOffset: 50, logSeq: 2 })
      expect((await store.readLogs({ runId: run.id })).map((l) => l.text)).toEqual(['line 1', 'line 2'])
    })

    it('reads by step, attempt, afterSeq, tail and limit', async () => {
      const store = await h.store()
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
      expect(await store.readLogs({ runId: run.id, step: 'a', attempt: 1, tail: 50 })).toHaveLength(10)
      expect(await store.readLogs({ runId: run.id, step: 'a', attempt: 1, tail: 0 })).toEqual([])
      expect((await store.readLogs({ runId: run.id, step: 'a', attempt: 1, tail: 5, afterSeq: 8 })).map((l) => l.seq)).toEqual([9, 10])
      expect((await store.readLogs({ runId: run.id, tail: 1 })).map(key)).toEqual(['a#1:10', 'a#2:2', 'b#1:3'])
      expect((await store.readLogs({ runId: run.id, limit: 11 })).map(key).slice(-2)).toEqual(['a#1:10', 'a#2:1'])
      expect(await store.readLogs({ runId: run.id, step: 'zzz' })).toEqual([])
      expect(await store.readLogs({ runId: run.id, step: 'a', attempt: 1, afterSeq: 10 })).toEqual([])
      expect(await store.readLogs({ runId: 'r-missing' })).toEqual([])
    })

    it('iterates in pages without gaps, honouring tail/afterSeq/limit', async () => {
      const store = await h.store()
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
      expect(limited.flat().map((l) => `${l.step}:${l.seq}`)).toEqual(Array.from({ length: 10 }, (_, i) => `a:${991 + i}`))
      const capped = (await collect(store.iterateLogs({ runId: run.id, afterSeq: 3, limit: 12 }, 5))).flat()
      expect(capped.map((l) => `${l.step}:${l.seq}`)).toEqual(Array.from({ length: 12 }, (_, i) => `a:${4 + i}`))
    })

    it('lines appended while iterating are picked up by the next page', async () => {
      const store = await h.store()
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

    it('round-trips every kind of text exactly, in order, across many and huge appends', async () => {
      const store = await h.store()
      const { run, a, b } = await setup(store)
      const input = tricky(1, 200)
      await store.appendLogs(a.id, input.slice(0, 150), 10)
      await store.appendLogs(a.id, input.slice(150), 20)
      const got = await store.readLogs({ runId: run.id, step: 'a' })
      expect(got.map(({ time, stream, text }) => ({ time, stream, text }))).toEqual(input)
      expect(got.map((l) => l.seq)).toEqual(input.map((_, i) => i + 1))
      for (let i = 1; i <= 100; i++) await store.appendLogs(b.id, tricky(i, i, 100), i)
      await store.appendLogs(b.id, tricky(101, 6000, 100), 101)
      expect((await store.readLogs({ runId: run.id, step: 'b' })).map((l) => l.seq)).toEqual(Array.from({ length: 6000 }, (_, i) => i + 1))
      expect(await store.getStepRun(b.id)).toMatchObject({ logSeq: 6000, logOffset: 101 })
    })

    it('slices exactly for afterSeq, tail and limit whatever the storage edges', async () => {
      const store = await h.store()
      const { run, a, b } = await setup(store)
      const sizes = [1, 7, 2500, 3, 1200, 4000, 1]
      let seq = 0
      for (const n of sizes) {
        await store.appendLogs(a.id, tricky(seq + 1, seq + n, 120), seq + n)
        seq += n
      }
      await store.appendLogs(b.id, tricky(1, 50), 50)
      const total = seq
      const model: LogLineRecord[] = [
        ...tricky(1, total, 120).map((l, i) => ({ ...l, runId: run.id, step: 'a', attempt: 1, seq: i + 1 })),
        ...tricky(1, 50).map((l, i) => ({ ...l, runId: run.id, step: 'b', attempt: 1, seq: i + 1 })),
      ]
      const expected = (q: Omit<LogQuery, 'runId'>): LogLineRecord[] => {
        const out: LogLineRecord[] = []
        for (const step of ['a', 'b']) {
          if (q.step !== undefined && q.step !== step) continue
          const ls = model.filter((l) => l.step === step)
          let from = q.afterSeq ?? 0
          if (q.tail !== undefined) from = Math.max(from, ls.length - q.tail)
          out.push(...ls.filter((l) => l.seq > from))
        }
        return q.limit === undefined ? out : out.slice(0, q.limit)
      }
      const queries: Omit<LogQuery, 'runId'>[] = [
        {}, { step: 'a' }, { afterSeq: 7 }, { afterSeq: 8 }, { afterSeq: 2508 }, { afterSeq: total - 1 }, { afterSeq: total },
        { tail: 1 }, { tail: 4001 }, { tail: 4002 }, { tail: 5205 }, { step: 'a', afterSeq: 3, limit: 2506 },
        { afterSeq: 2000, tail: 5000, limit: 3000 }, { limit: total + 10 }, { step: 'a', limit: 1 },
      ]
      const key = (l: LogLineRecord) => `${l.step}:${l.seq}:${l.text}`
      for (const q of queries) {
        const want = expected(q).map(key)
        expect((await store.readLogs({ runId: run.id, ...q })).map(key), JSON.stringify(q)).toEqual(want)
        const pages = await collect(store.iterateLogs({ runId: run.id, ...q }, 999))
        expect(pages.flat().map(key), JSON.stringify(q)).toEqual(want)
        expect(pages.every((p) => p.length <= 999 && new Set(p.map((l) => l.step)).size === 1)).toBe(true)
        const chunks = await collect(store.iterateLogChunks({ runId: run.id, ...q }))
        const fromChunks = chunks.flatMap((c) => decodeLines(Buffer.from(c.data)).map(([s, , , text]) => `${c.step}:${s}:${text}`))
        expect(fromChunks, JSON.stringify(q)).toEqual(want)
      }
    })

    it('hands out chunks in the line encoding shared with the API', async () => {
      const store = await h.store()
      const { run, a } = await setup(store)
      const a2 = await store.createStepAttempt(run.id, 'a', 2)
      await store.appendLogs(a.id, tricky(1, 3000, 90), 1)
      await store.appendLogs(a2.id, tricky(1, 5), 1)
      const want = await store.readLogs({ runId: run.id, afterSeq: 2 })
      const chunks: LogChunk[] = await collect(store.iterateLogChunks({ runId: run.id, afterSeq: 2 }))
      const decoded = chunks.flatMap((c) => {
        const items = decodeLines(Buffer.from(c.data))
        expect(items.map((l) => l[0])).toEqual(Array.from({ length: c.lastSeq - c.firstSeq + 1 }, (_, i) => c.firstSeq + i))
        return items.map(([seq, time, stream, text]) => ({ runId: c.runId, step: c.step, attempt: c.attempt, seq, time, stream, text }))
      })
      expect(decoded).toEqual(want)
      // Byte for byte: each line is encodeLine's `[seq,"time","stream","text"]\n`.
      const text = chunks.map((c) => Buffer.from(c.data).toString('utf8')).join('')
      expect(text).toBe(want.map((l) => encodeLine(l.seq, l.time, l.stream, l.text)).join(''))
    })

    it('retention deletes the lines of attempts finished before the cutoff only; seqs are never reused', async () => {
      const store = await h.store()
      const { run, a, b } = await setup(store)
      await store.appendLogs(a.id, lines(1, 30), 30)
      await store.appendLogs(b.id, lines(1, 7), 7)
      await store.updateStepRun(a.id, { state: 'succeeded', finishedAt: '2024-01-01T00:00:00.000Z' })
      await store.updateStepRun(b.id, { state: 'succeeded', finishedAt: '2024-03-01T00:00:00.000Z' })
      expect(await store.deleteLogsBefore('2024-02-01T00:00:00.000Z')).toBe(30)
      expect(await store.readLogs({ runId: run.id, step: 'a' })).toEqual([])
      expect(await store.readLogs({ runId: run.id, step: 'b' })).toHaveLength(7)
      expect(await store.deleteLogsBefore('2024-02-01T00:00:00.000Z')).toBe(0)
      expect(await store.getStepRun(a.id)).toMatchObject({ logSeq: 30, logOffset: 30 })
      await store.appendLogs(a.id, lines(31, 31), 31)
      expect((await store.readLogs({ runId: run.id, step: 'a' })).map((l) => l.seq)).toEqual([31])
    })

    it('retention removes a large log, counting lines', async () => {
      const store = await h.store()
      const { run, a } = await setup(store)
      const n = 25_000
      for (let i = 0; i < 5; i++) await store.appendLogs(a.id, tricky(i * 5000 + 1, i * 5000 + 5000, 60), i)
      await store.updateStepRun(a.id, { state: 'failed', finishedAt: '2024-01-01T00:00:00.000Z' })
      expect(await store.deleteLogsBefore('2025-01-01T00:00:00.000Z')).toBe(n)
      expect(await store.readLogs({ runId: run.id })).toEqual([])
    })
  })
}
