// The RUNTIME column for listings: runtimeSummaries answers for many resources at once and
// agrees with runtimeSummary for each of them.
import { afterEach, describe, expect, it } from 'vitest'
import { harness, workflow, type Harness } from './support.js'

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

describe('runtime summaries', () => {
  it('batched summaries equal the one-by-one answers: last run state, next fire time, pending, empty for other types', async () => {
    h = await harness()
    const ok = await h.apply(workflow('ok', [{ name: 'a', script: 'true' }]))
    const bad = await h.apply(workflow('bad', [{ name: 'a', script: 'exit 3' }]))
    const cron = await h.apply(workflow('cron', [{ name: 'a', script: 'true' }], { schedule: { crons: ['0 0 1 1 *'], timezone: 'UTC', concurrencyPolicy: 'Allow' } }))
    const volume = await h.applyVolume('vol')
    await h.engine.idle()
    // A workflow whose run has not been created yet (the engine is not told about it).
    const { resource: fresh } = await h.store.applyResource({
      workspace: 'public', type: 'workflow', name: 'fresh', version: 'v2alpha', manifest: workflow('fresh', [{ name: 'a', script: 'true' }]), owner: 'alice',
    })

    const all = [ok, bad, cron, volume, fresh]
    const batched = await h.engine.runtimeSummaries!(all)
    const single = new Map<string, string>()
    for (const r of all) single.set(r.id, await h.engine.runtimeSummary(r))
    expect(batched).toEqual(single)
    expect(batched.get(ok.id)).toBe('succeeded')
    expect(batched.get(bad.id)).toBe('failed')
    expect(batched.get(cron.id)).toMatch(/^next:\d{4}-01-01T00:00:00Z$/)
    expect(batched.get(volume.id)).toBe('')
    expect(batched.get(fresh.id)).toBe('pending')

    // After a manual run of the scheduled workflow, the next fire time shows again.
    const run = await h.engine.runNow(cron, 'alice')
    await h.engine.idle()
    expect((await h.store.getRun(run.id))?.state).toBe('succeeded')
    expect((await h.engine.runtimeSummaries!([cron])).get(cron.id)).toBe(batched.get(cron.id))
    expect(await h.engine.runtimeSummaries!([])).toEqual(new Map())
  })
})
