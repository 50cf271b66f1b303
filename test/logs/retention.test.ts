import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { parseRetention, startLogRetention } from '../../src/logs/retention.js'
import { openTestStore } from '../support/store.js'
import type { Store } from '../../src/store/types.js'

describe('log retention', () => {
  let dir: string
  let store: Store
  afterEach(async () => {
    await store?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('parses durations and refuses nonsense', () => {
    expect(parseRetention('30d')).toBe(30 * 86_400_000)
    expect(parseRetention('90m')).toBe(90 * 60_000)
    expect(parseRetention('0')).toBe(0)
    expect(() => parseRetention('a week')).toThrow(/not a duration/)
  })

  it('deletes the logs of steps that finished before the retention, keeps newer and running ones', async () => {
    dir = mkdtempSync(join(tmpdir(), 'ctl-retention-'))
    store = await openTestStore(dir)
    const { resource } = await store.applyResource({ workspace: 'public', type: 'workflow', name: 'wf', version: 'v2alpha', manifest: { x: 1 }, owner: 'me' })
    const { steps } = await store.createRun({ resourceId: resource.id, revision: 1, trigger: 'manual', steps: ['old', 'recent', 'running'] })
    const [old, recent, running] = steps as [typeof steps[0], typeof steps[0], typeof steps[0]]
    for (const s of steps) await store.appendLogs(s.id, [{ time: '2026-01-01T00:00:00.000Z', stream: 'stdout', text: `line of ${s.step}` }], 10)
    await store.updateStepRun(old.id, { state: 'succeeded', finishedAt: '2026-01-01T00:00:00.000Z' })
    await store.updateStepRun(recent.id, { state: 'succeeded', finishedAt: '2026-03-01T00:00:00.000Z' })
    await store.updateStepRun(running.id, { state: 'running', startedAt: '2026-01-01T00:00:00.000Z' })
    const retention = startLogRetention({ store, retentionMs: parseRetention('30d'), now: () => new Date('2026-03-10T00:00:00.000Z') })
    try {
      expect(await retention.sweep()).toBe(1)
    } finally {
      retention.stop()
    }
    const runId = old.runId
    expect(await store.readLogs({ runId, step: 'old' })).toEqual([])
    expect((await store.readLogs({ runId, step: 'recent' })).map((l) => l.text)).toEqual(['line of recent'])
    expect((await store.readLogs({ runId, step: 'running' })).map((l) => l.text)).toEqual(['line of running'])
  })
})
