// SQLite only: how the file stores things (covering index for listings, log chunks per row,
// retention in slices) and what a failed write inside a transaction leaves. The behaviour every
// store shares is in the conformance suite (conformance/, run by sqlite.contract.test.ts).
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import type { LogLineInput } from '../../src/store/types.js'
import { tricky } from './conformance/logs.js'
import { freshStore, seedRun, workflow } from './helpers.js'

function rowCount(file: string, stepRunId: string): number {
  const raw = new Database(file, { readonly: true })
  try {
    return (raw.prepare('SELECT count(*) AS n FROM log_chunks WHERE step_run_id = ?').get(stepRunId) as { n: number }).n
  } finally {
    raw.close()
  }
}

function lines(from: number, to: number): LogLineInput[] {
  const out: LogLineInput[] = []
  for (let i = from; i <= to; i++) out.push({ time: '2024-05-01T10:00:00.000Z', stream: 'stdout', text: `line ${i}` })
  return out
}

describe('listings (SQLite)', () => {
  it('answers summaries from the covering index, with every filter', async () => {
    const { store, file } = freshStore()
    for (const ws of ['public', 'team']) {
      for (let i = 0; i < 6; i++) {
        await store.applyResource({ workspace: ws, type: 'workflow', name: `wf-${i}`, version: 'v1', manifest: workflow(`wf-${i}`), owner: i % 2 ? 'bob' : 'alice' })
      }
    }
    expect((await store.listResourceSummaries({ owner: 'bob', workspace: 'team' })).map((r) => r.name)).toEqual(['wf-1', 'wf-3', 'wf-5'])
    const raw = new Database(file, { readonly: true })
    const plan = raw
      .prepare(`EXPLAIN QUERY PLAN SELECT id, owner, status, updated_at FROM resources INDEXED BY resources_list
        WHERE type = 'workflow' AND status <> 'deleted' ORDER BY workspace, type, name`)
      .all() as { detail: string }[]
    raw.close()
    expect(plan.map((p) => p.detail).join(' ')).toContain('COVERING INDEX resources_list')
  })
})

describe('log chunks (SQLite)', () => {
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
  })

  it('a write failing inside the append transaction writes neither lines nor offset', async () => {
    const { store, file } = freshStore()
    const { run, steps } = await seedRun(store, ['a'])
    const a = steps[0]!
    await store.appendLogs(a.id, lines(1, 2), 50)
    // A stray chunk already ends at seq 5: the append's insert fails after its first statements.
    const raw = new Database(file)
    raw.prepare('INSERT INTO log_chunks (step_run_id, first_seq, last_seq, body) VALUES (?, 5, 5, ?)').run(a.id, Buffer.from('[5,"t","stdout","planted"]\n'))
    raw.close()
    await expect(store.appendLogs(a.id, lines(3, 5), 99)).rejects.toMatchObject({ code: 'E_CONFLICT' })
    expect(await store.getStepRun(a.id)).toMatchObject({ logOffset: 50, logSeq: 2 })
    expect((await store.readLogs({ runId: run.id, step: 'a' })).map((l) => l.text)).toEqual(['line 1', 'line 2'])
  })

  it('retention removes a large log in slices', async () => {
    const { store } = freshStore()
    const { run, steps } = await seedRun(store, ['a'])
    const n = 45_000
    await store.appendLogs(steps[0]!.id, lines(1, n), n)
    await store.updateStepRun(steps[0]!.id, { state: 'failed', finishedAt: '2024-01-01T00:00:00.000Z' })
    expect(await store.deleteLogsBefore('2025-01-01T00:00:00.000Z')).toBe(n)
    expect(await store.readLogs({ runId: run.id })).toEqual([])
  })
})
