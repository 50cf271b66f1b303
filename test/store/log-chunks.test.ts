// Log lines are stored in chunks (many lines per row). These check that the chunking is
// invisible: every read equals a line-by-line model, whatever the chunk edges.
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { decodeLines, encodeLine } from '../../src/api/log-codec.js'
import { MIGRATIONS } from '../../src/store/migrations/index.js'
import { SqliteDb } from '../../src/store/sqlite-db.js'
import type { LogChunk, LogLineInput, LogLineRecord, LogQuery, Store } from '../../src/store/types.js'
import { freshStore, open, seedRun, tempDbFile } from './helpers.js'

const STREAMS = ['stdout', 'stderr', 'system'] as const

/** Lines whose text exercises JSON escaping and multi-byte UTF-8. */
function tricky(from: number, to: number, width = 0): LogLineInput[] {
  const texts = ['plain', 'quote " and \\ backslash', 'tab\tcr\r', 'ünïcödé ✓ 日本語 🚀', 'ctrl \u0001\u001f', '{"json":[1,2]}', '']
  const out: LogLineInput[] = []
  for (let i = from; i <= to; i++) {
    const text = `${i} ${texts[i % texts.length]}`
    out.push({ time: new Date(Date.UTC(2024, 4, 1, 0, 0, 0, i)).toISOString(), stream: STREAMS[i % 3]!, text: width ? text.padEnd(width, 'x') : text })
  }
  return out
}

function rowCount(file: string, stepRunId: string): number {
  const raw = new Database(file, { readonly: true })
  try {
    return (raw.prepare('SELECT count(*) AS n FROM log_chunks WHERE step_run_id = ?').get(stepRunId) as { n: number }).n
  } finally {
    raw.close()
  }
}

async function collect<T>(iter: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of iter) out.push(item)
  return out
}

describe('chunked log storage', () => {
  it('round-trips every kind of text exactly, in order', async () => {
    const { store } = freshStore()
    const { run, steps } = await seedRun(store, ['a'])
    const input = tricky(1, 200)
    await store.appendLogs(steps[0]!.id, input.slice(0, 150), 10)
    await store.appendLogs(steps[0]!.id, input.slice(150), 20)
    const got = await store.readLogs({ runId: run.id })
    expect(got.map(({ time, stream, text }) => ({ time, stream, text }))).toEqual(input)
    expect(got.map((l) => l.seq)).toEqual(input.map((_, i) => i + 1))
  })

  it('keeps many tiny appends in few rows, and splits one huge append into several', async () => {
    const { store, file } = freshStore()
    const { run, steps } = await seedRun(store, ['chatty', 'bulk'])
    const chatty = steps.find((s) => s.step === 'chatty')
    const bulk = steps.find((s) => s.step === 'bulk')
    for (let i = 1; i <= 300; i++) await store.appendLogs(chatty!.id, tricky(i, i, 100), i)
    expect(rowCount(file, chatty!.id)).toBeLessThanOrEqual(2)
    expect((await store.readLogs({ runId: run.id, step: 'chatty' })).map((l) => l.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1))

    await store.appendLogs(bulk!.id, tricky(1, 6000, 100), 1)
    expect(rowCount(file, bulk!.id)).toBeGreaterThan(2)
    expect(await store.getStepRun(bulk!.id)).toMatchObject({ logSeq: 6000, logOffset: 1 })
  })

  it('slices exactly at and around chunk edges for afterSeq, tail and limit', async () => {
    const { store } = freshStore()
    const { run, steps } = await seedRun(store, ['a', 'b'])
    const [a, b] = steps
    // Chunk edges at irregular seqs: appends of varying sizes, some merging, some not.
    const sizes = [1, 7, 2500, 3, 1200, 4000, 1]
    let seq = 0
    for (const n of sizes) {
      await store.appendLogs(a!.id, tricky(seq + 1, seq + n, 120), seq + n)
      seq += n
    }
    await store.appendLogs(b!.id, tricky(1, 50), 50)
    const total = seq
    const model: LogLineRecord[] = [
      ...tricky(1, total, 120).map((l, i) => ({ ...l, runId: run.id, step: 'a', attempt: 1, seq: i + 1 })),
      ...tricky(1, 50).map((l, i) => ({ ...l, runId: run.id, step: 'b', attempt: 1, seq: i + 1 })),
    ]
    const expected = (q: Omit<LogQuery, 'runId'>): LogLineRecord[] => {
      const out: LogLineRecord[] = []
      for (const step of ['a', 'b']) {
        if (q.step !== undefined && q.step !== step) continue
        const lines = model.filter((l) => l.step === step)
        let from = q.afterSeq ?? 0
        if (q.tail !== undefined) from = Math.max(from, lines.length - q.tail)
        out.push(...lines.filter((l) => l.seq > from))
      }
      return q.limit === undefined ? out : out.slice(0, q.limit)
    }
    const queries: Omit<LogQuery, 'runId'>[] = [
      {}, { step: 'a' }, { afterSeq: 7 }, { afterSeq: 8 }, { afterSeq: 2508 }, { afterSeq: total - 1 }, { afterSeq: total },
      { tail: 1 }, { tail: 4001 }, { tail: 4002 }, { tail: 5205 }, { step: 'a', afterSeq: 3, limit: 2506 },
      { afterSeq: 2000, tail: 5000, limit: 3000 }, { limit: total + 10 }, { step: 'a', limit: 1 },
    ]
    for (const q of queries) {
      const want = expected(q)
      const key = (l: LogLineRecord) => `${l.step}:${l.seq}:${l.text}`
      expect((await store.readLogs({ runId: run.id, ...q })).map(key), JSON.stringify(q)).toEqual(want.map(key))
      const pages = await collect(store.iterateLogs({ runId: run.id, ...q }, 999))
      expect(pages.flat().map(key), JSON.stringify(q)).toEqual(want.map(key))
      expect(pages.every((p) => p.length <= 999 && new Set(p.map((l) => l.step)).size === 1)).toBe(true)
    }
  })

  it('hands out encoded chunks that decode to the same lines', async () => {
    const { store } = freshStore()
    const { run, steps } = await seedRun(store, ['a'])
    const a2 = await store.createStepAttempt(run.id, 'a', 2)
    await store.appendLogs(steps[0]!.id, tricky(1, 3000, 90), 1)
    await store.appendLogs(a2.id, tricky(1, 5), 1)
    const lines = await store.readLogs({ runId: run.id, afterSeq: 2 })
    const chunks: LogChunk[] = await collect(store.iterateLogChunks!({ runId: run.id, afterSeq: 2 }))
    expect(chunks.length).toBeGreaterThan(2)
    const decoded = chunks.flatMap((c) => {
      const items = decodeLines(Buffer.from(c.data))
      expect(items.map((l) => l[0])).toEqual(Array.from({ length: c.lastSeq - c.firstSeq + 1 }, (_, i) => c.firstSeq + i))
      return items.map(([seq, time, stream, text]) => ({ runId: c.runId, step: c.step, attempt: c.attempt, seq, time, stream, text }))
    })
    expect(decoded).toEqual(lines)
    // The encoding is the wire format: one compact JSON array and a newline per line.
    const first = lines[0]!
    expect(Buffer.from(chunks[0]!.data).toString('utf8').split('\n')[0] + '\n').toBe(encodeLine(first.seq, first.time, first.stream, first.text))
  })

  it('retention counts lines, not rows', async () => {
    const { store } = freshStore()
    const { run, steps } = await seedRun(store, ['a'])
    for (let i = 0; i < 5; i++) await store.appendLogs(steps[0]!.id, tricky(i * 5000 + 1, i * 5000 + 5000, 100), i)
    await store.updateStepRun(steps[0]!.id, { state: 'succeeded', finishedAt: '2024-01-01T00:00:00.000Z' })
    expect(await store.deleteLogsBefore('2024-06-01T00:00:00.000Z')).toBe(25_000)
    expect(await store.readLogs({ runId: run.id })).toEqual([])
    // seqs continue after retention: nothing is ever reused
    await store.appendLogs(steps[0]!.id, tricky(1, 1), 9)
    expect((await store.readLogs({ runId: run.id })).map((l) => l.seq)).toEqual([25_001])
  })
})

describe('migration 0002: log lines become chunks', () => {
  it('carries existing lines over unchanged and appends continue after them', async () => {
    const file = tempDbFile()
    // A database at schema version 1 with lines in the old one-row-per-line table.
    const v1 = new SqliteDb(file, {}, MIGRATIONS.filter((m) => m.version === 1))
    const raw = v1.raw
    const t = '2024-05-01T00:00:00.000Z'
    raw.prepare(`INSERT INTO resources (id, workspace, type, name, version, revision, hash, manifest, owner, status, created_at, updated_at)
      VALUES ('res-1', 'public', 'workflow', 'wf', 'v1', 1, 'h', '{}', 'alice', 'active', ?, ?)`).run(t, t)
    raw.prepare(`INSERT INTO resource_revisions (resource_id, revision, version, hash, manifest, created_by, created_at)
      VALUES ('res-1', 1, 'v1', 'h', '{}', 'alice', ?)`).run(t)
    raw.prepare(`INSERT INTO runs (id, resource_id, revision, run_trigger, state, created_at) VALUES ('r-1', 'res-1', 1, 'apply', 'succeeded', ?)`).run(t)
    const lines = tricky(1, 2345)
    const step = raw.prepare(`INSERT INTO step_runs (id, run_id, step, attempt, state, log_seq, created_at) VALUES (?, 'r-1', ?, 1, 'succeeded', ?, ?)`)
    step.run('s-a', 'a', lines.length, t)
    step.run('s-b', 'b', 1, t)
    const insert = raw.prepare('INSERT INTO log_lines (step_run_id, seq, time, stream, text) VALUES (?, ?, ?, ?, ?)')
    raw.transaction(() => {
      lines.forEach((l, i) => insert.run('s-a', i + 1, l.time, STREAMS.indexOf(l.stream), l.text))
      insert.run('s-b', 1, lines[0]!.time, 1, 'only one')
    })()
    v1.close()
    const run = { id: 'r-1' }
    const steps = [{ id: 's-a' }, { id: 's-b' }]

    const store: Store = open(file)
    const got = await store.readLogs({ runId: run.id, step: 'a' })
    expect(got.map(({ time, stream, text }) => ({ time, stream, text }))).toEqual(lines)
    expect(got.map((l) => l.seq)).toEqual(lines.map((_, i) => i + 1))
    expect((await store.readLogs({ runId: run.id, step: 'a', tail: 2 })).map((l) => l.seq)).toEqual([2344, 2345])
    expect(await store.readLogs({ runId: run.id, step: 'b' })).toMatchObject([{ seq: 1, stream: 'stderr', text: 'only one' }])
    await store.appendLogs(steps[0]!.id, tricky(1, 2), 99)
    expect((await store.readLogs({ runId: run.id, step: 'a', afterSeq: 2344 })).map((l) => l.seq)).toEqual([2345, 2346, 2347])
    const check = new Database(file, { readonly: true })
    expect(check.prepare("SELECT name FROM sqlite_master WHERE name = 'log_lines'").get()).toBeUndefined()
    check.close()
  })
})
