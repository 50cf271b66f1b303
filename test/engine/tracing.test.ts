// The engine's side of traces: the store it writes through tells the tracer of each final state exactly once (the
// compare-and-set that stored it), and of nothing else; the ids a step's TRACEPARENT names are the exported spans'.
import { describe, expect, it } from 'vitest'
import { tracedStore, type RunTracing } from '../../src/engine/tracing.js'
import { attemptSpanId, newTraceId, runSpanId, traceparentOf } from '../../src/engine/trace-ids.js'
import { seedRun } from '../store/conformance/harness.js'
import { openTestStore } from '../support/store.js'

function recorder(): RunTracing & { runs: string[]; attempts: string[] } {
  const runs: string[] = []
  const attempts: string[] = []
  return { runs, attempts, newTraceId, runEnded: (id) => void runs.push(id), attemptEnded: (id) => void attempts.push(id) }
}

describe('tracedStore', () => {
  it('tells of a run or attempt reaching a final state once, when the write applied; nothing else', async () => {
    const raw = await openTestStore()
    try {
      const tracing = recorder()
      const store = tracedStore(raw, tracing)
      expect(store.kind).toBe(raw.kind)
      const { run, steps } = await seedRun(store, ['a', 'b'])
      const [a, b] = steps
      expect(await store.updateStepRun(a!.id, { state: 'running', startedAt: '2024-05-01T10:00:00.000Z' }, ['pending'])).toBe(true)
      expect(await store.updateRun(run.id, { state: 'running' }, ['pending'])).toBe(true)
      expect(tracing.attempts).toEqual([])
      expect(await store.updateStepRun(a!.id, { state: 'succeeded', finishedAt: '2024-05-01T10:00:01.000Z' }, ['running'])).toBe(true)
      // Lost the race (already final): told once only.
      expect(await store.updateStepRun(a!.id, { state: 'failed' }, ['running'])).toBe(false)
      expect(await store.updateStepRun(b!.id, { state: 'skipped' }, ['pending'])).toBe(true)
      expect(tracing.attempts).toEqual([a!.id, b!.id])
      expect(await store.updateRun(run.id, { state: 'succeeded' }, ['running'])).toBe(true)
      expect(await store.updateRun(run.id, { state: 'failed' }, ['running'])).toBe(false)
      expect(await store.updateRun(run.id, { reason: 'note' })).toBe(true)
      expect(tracing.runs).toEqual([run.id])
      // Every other call reaches the store itself.
      expect((await store.getRun(run.id))!.state).toBe('succeeded')
    } finally {
      await raw.close()
    }
  })

  it('derives span ids from the run id alone, distinct per run, step and attempt', () => {
    const traceId = newTraceId()
    expect(traceId).toMatch(/^[0-9a-f]{32}$/)
    expect(newTraceId()).not.toBe(traceId)
    expect(runSpanId('r-1')).toMatch(/^[0-9a-f]{16}$/)
    expect(runSpanId('r-1')).toBe(runSpanId('r-1'))
    const ids = new Set([runSpanId('r-1'), runSpanId('r-2'), attemptSpanId('r-1', 'a', 1), attemptSpanId('r-1', 'a', 2), attemptSpanId('r-1', 'b', 1), attemptSpanId('r-2', 'a', 1)])
    expect(ids.size).toBe(6)
    expect(traceparentOf(traceId, attemptSpanId('r-1', 'a', 1))).toBe(`00-${traceId}-${attemptSpanId('r-1', 'a', 1)}-01`)
  })
})
