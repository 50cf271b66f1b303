// The server's step slots under more runs than it can start: first come, first served, and every run ends.
import { afterEach, describe, expect, it } from 'vitest'
import { harness, workflow, type Harness } from './support.js'

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

describe('runs waiting for a slot', () => {
  it('start in the order they were created, one slot for twelve runs, and all succeed', async () => {
    h = await harness({ maxParallelSteps: 1 })
    const wfs = ['a', 'b', 'c'].map((n) => workflow(`wait-${n}`, [{ name: 'only', script: 'true' }]))
    const resources = []
    for (const wf of wfs) resources.push(await h.apply(wf))
    await h.engine.idle()
    // Created while the one slot is busy: each queues behind those before it.
    const created: string[] = []
    for (let i = 0; i < 4; i++) for (const r of resources) created.push((await h.engine.runNow(r, 'alice')).id)
    await h.engine.idle()
    const starts: { id: string; startedAt: string }[] = []
    for (const id of created) {
      const d = (await h.engine.runDetail(id))!
      expect(d.run.state).toBe('succeeded')
      starts.push({ id, startedAt: d.steps[0]!.startedAt! })
    }
    // Recorded start times (not durations): the slot went to the runs in the order they asked for it.
    const byStart = [...starts].sort((x, y) => x.startedAt.localeCompare(y.startedAt) || created.indexOf(x.id) - created.indexOf(y.id))
    expect(byStart.map((s) => s.id)).toEqual(created)
  }, 60_000)

  it('a run held back by its own parallelism does not hold a slot back from another run', async () => {
    h = await harness({ maxParallelSteps: 2 })
    const wide = workflow('wide', [1, 2, 3, 4].map((i) => ({ name: `s${i}`, script: 'sleep 0.2' })), { parallelism: 1 })
    const other = workflow('other', [{ name: 'only', script: 'true' }])
    const w = await h.apply(wide)
    const o = await h.apply(other)
    await h.engine.idle()
    const wideRun = await h.engine.runNow(w, 'alice')
    const run = await h.engine.runNow(o, 'alice')
    await h.engine.idle()
    const d = (await h.engine.runDetail(run.id))!
    expect(d.run.state).toBe('succeeded')
    const wd = (await h.engine.runDetail(wideRun.id))!
    expect(wd.run.state).toBe('succeeded')
    // The other run took the second slot while the wide one still had steps to start (recorded times, an order).
    const lastWideStart = wd.steps.map((s) => s.startedAt!).sort().at(-1)!
    expect(d.steps[0]!.startedAt! < lastWideStart).toBe(true)
  }, 60_000)
})
