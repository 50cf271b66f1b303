// `runtime run --skip STEP` / `--only STEP` with the real engine and the local runtime: steps left out
// are stored skipped with their reason, dependents skip, the run succeeds when all that ran succeeded.
import { afterEach, describe, expect, it } from 'vitest'
import { CtlError } from '../../src/errors.js'
import type { StepRunRecord } from '../../src/store/types.js'
import { leftOut } from '../../src/engine/selection.js'
import { MAX_STEP_SELECTION } from '../../src/manifest/limits.js'
import { harness, workflow, type Harness } from './support.js'

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

const latestOf = (steps: StepRunRecord[]) => {
  const m = new Map<string, StepRunRecord>()
  for (const s of steps) if (!m.has(s.step) || m.get(s.step)!.attempt < s.attempt) m.set(s.step, s)
  return m
}

// extract → transform → load → notify; audit beside them.
const etl = () =>
  workflow('etl', [
    { name: 'extract', script: 'echo e' },
    { name: 'transform', script: 'echo t', depends: ['extract'] },
    { name: 'load', script: 'echo l', depends: ['transform'] },
    { name: 'notify', script: 'echo n', depends: ['load'] },
    { name: 'audit', script: 'echo a' },
  ])

describe('leftOut', () => {
  const steps = etl().workflow.dag
  it('--only keeps the named steps and their ancestors; --skip wins', () => {
    const out = leftOut(steps, { only: ['load'] })
    expect([...out.keys()].sort()).toEqual(['audit', 'notify'])
    expect(out.get('audit')).toEqual({ reason: 'NotSelected', message: 'not selected (--only)' })
    const both = leftOut(steps, { only: ['load'], skip: ['extract'] })
    expect(both.get('extract')).toEqual({ reason: 'SkippedOnRequest', message: 'skipped on request (--skip)' })
    expect(leftOut(steps, {}).size).toBe(0)
  })
  it('names every unknown step (E_PARAMS) and bounds the count (E_LIMIT)', () => {
    const err = (() => {
      try {
        leftOut(steps, { skip: ['nope', 'load'], only: ['gone'] })
      } catch (e) {
        return e as CtlError
      }
    })()
    expect(err).toBeInstanceOf(CtlError)
    expect(err?.code).toBe('E_PARAMS')
    expect(err?.message).toMatch(/unknown steps "nope", "gone"/)
    expect(() => leftOut(steps, { skip: Array.from({ length: MAX_STEP_SELECTION + 1 }, () => 'load') })).toThrow(/at most 100/)
  })
  it('never leaves out a step that asks for an approval, by --skip or by --only', () => {
    const gated = etl().workflow.dag
    gated.find((s) => s.name === 'load')!.approval = { required: true, approvers: [] }
    expect(() => leftOut(gated, { skip: ['load'] })).toThrow(/step "load" asks for an approval: it cannot be left out/)
    expect(() => leftOut(gated, { only: ['transform'] })).toThrow(/step "load" asks for an approval/)
    expect([...leftOut(gated, { skip: ['audit'] }).keys()]).toEqual(['audit'])
  })
})

describe('skips and partial runs', () => {
  it('--skip: the step and its dependents skip, the rest runs, the run succeeds; retry keeps the skips', async () => {
    h = await harness()
    const res = await h.apply(etl())
    await h.engine.idle()
    const run = await h.engine.runNow(res, 'alice', undefined, { skip: ['load'] })
    await h.engine.idle()
    expect((await h.store.getRun(run.id))?.state).toBe('succeeded')
    const latest = latestOf(await h.store.listStepRuns(run.id))
    expect(latest.get('load')).toMatchObject({ state: 'skipped', reason: 'SkippedOnRequest', message: 'skipped on request (--skip)' })
    expect(latest.get('load')?.startedAt).toBeUndefined()
    expect(latest.get('notify')).toMatchObject({ state: 'skipped', message: 'dependency "load" skipped' })
    for (const s of ['extract', 'transform', 'audit']) expect(latest.get(s)?.state).toBe('succeeded')
    // Nothing failed: nothing to retry.
    await expect(h.engine.retryRun(res, 'alice', run.id)).rejects.toThrow(/nothing to retry/)
  }, 30_000)

  it('--only: the step and its ancestors run, the others are not selected; a failure still fails the run', async () => {
    h = await harness()
    const res = await h.apply(etl())
    await h.engine.idle()
    const run = await h.engine.runNow(res, 'alice', undefined, { only: ['transform'] })
    await h.engine.idle()
    expect((await h.store.getRun(run.id))?.state).toBe('succeeded')
    const latest = latestOf(await h.store.listStepRuns(run.id))
    expect(latest.get('extract')?.state).toBe('succeeded')
    expect(latest.get('transform')?.state).toBe('succeeded')
    for (const s of ['load', 'notify', 'audit']) expect(latest.get(s)).toMatchObject({ state: 'skipped', reason: 'NotSelected', message: 'not selected (--only)' })

    const failing = workflow('etl', [
      { name: 'extract', script: 'exit 3' },
      { name: 'transform', script: 'echo t', depends: ['extract'] },
      { name: 'audit', script: 'echo a' },
    ])
    const res2 = await h.apply(failing)
    await h.engine.idle()
    const run2 = await h.engine.runNow(res2, 'alice', undefined, { only: ['transform'] })
    await h.engine.idle()
    expect((await h.store.getRun(run2.id))?.state).toBe('failed')
  }, 30_000)

  it('an unknown step creates no run; skipping a fanned-out step skips all its instances', async () => {
    h = await harness()
    const wf = workflow('fan', [
      { name: 'prep', script: 'true' },
      { name: 'shard', script: 'echo {{.item}}', depends: ['prep'] },
      { name: 'report', script: 'true', depends: ['shard'] },
    ])
    wf.workflow.dag[1]!.forEach = { items: [1, 2, 3] } as never
    const res = await h.apply(wf)
    await h.engine.idle()
    const before = (await h.store.listRuns({ resourceId: res.id })).length
    await expect(h.engine.runNow(res, 'alice', undefined, { skip: ['nope'] })).rejects.toMatchObject({ code: 'E_PARAMS' })
    expect(await h.store.listRuns({ resourceId: res.id })).toHaveLength(before)

    const run = await h.engine.runNow(res, 'alice', undefined, { skip: ['shard'] })
    await h.engine.idle()
    expect((await h.store.getRun(run.id))?.state).toBe('succeeded')
    const rows = await h.store.listStepRuns(run.id)
    expect(rows.filter((r) => r.parent === 'shard')).toHaveLength(0)
    const latest = latestOf(rows)
    expect(latest.get('shard')).toMatchObject({ state: 'skipped', reason: 'SkippedOnRequest' })
    expect(latest.get('report')?.state).toBe('skipped')
    expect(latest.get('prep')?.state).toBe('succeeded')
  }, 30_000)
})
