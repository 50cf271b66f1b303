// Conditions and fan-out with the real engine and the local runtime: the example workflow
// (params, outputs, forEach, matrix, when), failFast, zero items, expression errors and retries.
import { afterEach, describe, expect, it } from 'vitest'
import type { StepRunRecord } from '../../src/store/types.js'
import { harness, logText, waitFor, workflow, type Harness } from './support.js'
import { exampleWorkflow, loadExample } from './fanout-example.js'

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

async function runToEnd(hh: Harness, resource: Awaited<ReturnType<Harness['apply']>>, params: Record<string, unknown>) {
  await hh.engine.idle()
  const run = await hh.engine.runNow(resource, 'alice', params)
  await hh.engine.idle()
  return { run: (await hh.store.getRun(run.id))!, steps: await hh.store.listStepRuns(run.id) }
}

const latestOf = (steps: StepRunRecord[]) => {
  const m = new Map<string, StepRunRecord>()
  for (const s of steps) if (!m.has(s.step) || m.get(s.step)!.attempt < s.attempt) m.set(s.step, s)
  return m
}

/** The most attempts of `names` whose [start, finish] overlap at one moment (from the recorded times, not a clock). */
function mostAtOnce(rows: StepRunRecord[]): number {
  const events = rows.flatMap((r) => [
    { t: r.startedAt!, d: 1 },
    { t: r.finishedAt!, d: -1 },
  ])
  // Ends sort before starts at the same instant: a slot freed and taken in one millisecond is no overlap.
  events.sort((a, b) => (a.t === b.t ? a.d - b.d : a.t < b.t ? -1 : 1))
  let n = 0
  let most = 0
  for (const e of events) most = Math.max(most, (n += e.d))
  return most
}

describe('the example workflow on the local runtime', () => {
  it('production: build → 3 shard and 4 test instances (2 at a time each) → deploy with the artifact', async () => {
    h = await harness()
    const resource = await h.apply(await loadExample())
    const { run, steps } = await runToEnd(h, resource, { version: '1.2.3', environment: 'production' })
    expect(run.state).toBe('succeeded')
    const latest = latestOf(steps)
    const shard = steps.filter((s) => s.parent === 'shard')
    const test = steps.filter((s) => s.parent === 'test')
    expect(shard.map((s) => [s.step, s.state, s.instance])).toEqual([
      ['shard-0', 'succeeded', { index: 0, item: 'a.csv' }],
      ['shard-1', 'succeeded', { index: 1, item: 'b.csv' }],
      ['shard-2', 'succeeded', { index: 2, item: 'c.csv' }],
    ])
    expect(test.map((s) => s.step).sort()).toEqual(['test-alpine-3.12', 'test-debian-3.11', 'test-debian-3.12', 'test-debian-3.13'])
    expect(test.every((s) => s.state === 'succeeded')).toBe(true)
    expect(mostAtOnce(shard)).toBeLessThanOrEqual(2)
    expect(mostAtOnce(test)).toBeLessThanOrEqual(2)
    // The steps' own rows carry the state their instances add up to.
    expect(latest.get('shard')).toMatchObject({ state: 'succeeded', message: '3 instances: 3 succeeded' })
    expect(latest.get('test')).toMatchObject({ state: 'succeeded', message: '4 instances: 4 succeeded' })
    // Dependents wait for every instance.
    const deploy = latest.get('deploy')!
    expect(deploy.state).toBe('succeeded')
    for (const i of [...shard, ...test]) expect(i.finishedAt! <= deploy.startedAt!).toBe(true)
    expect(await logText(h.store, run.id, 'deploy')).toContain('deploy app-1.2.3.tar')
    expect(await logText(h.store, run.id, 'shard-1')).toContain('b.csv #1')
    expect(await logText(h.store, run.id, 'test-debian-3.13')).toContain('debian 3.13')
  }, 60_000)

  it('staging: deploy is skipped by its condition and the run succeeds', async () => {
    h = await harness()
    const loaded = await loadExample()
    const resource = await h.apply(loaded)
    // The hand-built model (the Kubernetes test's) is what the language normalizes the example into.
    expect(loaded.workflow.dag.map((s) => [s.name, s.depends, s.when, s.forEach, s.matrix])).toEqual(exampleWorkflow().workflow.dag.map((s) => [s.name, s.depends, s.when, s.forEach, s.matrix]))
    const { run, steps } = await runToEnd(h, resource, { version: '1.2.3', environment: 'staging' })
    const deploy = latestOf(steps).get('deploy')!
    expect(deploy).toMatchObject({ state: 'skipped', reason: 'ConditionFalse' })
    expect(deploy.message).toBe("condition false: params.environment == 'production' && steps.build.outputs.artifact != ''")
    expect(run.state).toBe('succeeded')
  }, 60_000)
})

describe('conditions and fan-out, one rule at a time', () => {
  it('a condition skip spreads to dependents and the run still succeeds', async () => {
    h = await harness()
    const wf = workflow('cond', [
      { name: 'a', script: 'true' },
      { name: 'b', script: 'echo b', depends: ['a'] },
      { name: 'c', script: 'echo c', depends: ['b'] },
    ])
    wf.workflow.dag[1]!.when = "workflow.trigger == 'schedule'"
    const res = await h.apply(wf)
    await h.engine.idle()
    const run = (await h.store.listRuns({ resourceId: res.id }))[0]!
    expect(run.state).toBe('succeeded')
    const latest = latestOf(await h.store.listStepRuns(run.id))
    expect(latest.get('b')).toMatchObject({ state: 'skipped', message: "condition false: workflow.trigger == 'schedule'" })
    expect(latest.get('c')).toMatchObject({ state: 'skipped', message: 'dependency "b" skipped' })
  }, 30_000)

  it('an expression error fails the step with its E_EXPR message', async () => {
    h = await harness()
    const wf = workflow('bad', [{ name: 'a', script: 'true' }, { name: 'b', script: 'true', depends: ['a'] }])
    wf.workflow.dag[1]!.when = 'steps.a.outputs.missing == "x"'
    const res = await h.apply(wf)
    await h.engine.idle()
    const run = (await h.store.listRuns({ resourceId: res.id }))[0]!
    expect(run.state).toBe('failed')
    const b = latestOf(await h.store.listStepRuns(run.id)).get('b')!
    expect(b.state).toBe('failed')
    expect(b.reason).toBe('ExprError')
    expect(b.message).toMatch(/^when: .*missing/)
    expect((await logText(h.store, run.id, 'b')).join('\n')).toContain('ExprError')
  }, 30_000)

  it('zero items: the step succeeds with no instances and says so', async () => {
    h = await harness()
    const wf = workflow('empty', [{ name: 'each', script: 'echo {{.item}}' }, { name: 'after', script: 'true', depends: ['each'] }])
    wf.workflow.dag[0]!.forEach = { items: [] }
    const res = await h.apply(wf)
    await h.engine.idle()
    const run = (await h.store.listRuns({ resourceId: res.id }))[0]!
    expect(run.state).toBe('succeeded')
    const steps = await h.store.listStepRuns(run.id)
    expect(steps.filter((s) => s.parent)).toEqual([])
    expect(latestOf(steps).get('each')).toMatchObject({ state: 'succeeded', message: 'forEach has no items: nothing to run' })
  }, 30_000)

  it('failFast cancels the instances not yet started; the step and the run fail', async () => {
    h = await harness()
    const wf = workflow('ff', [{ name: 'm', script: 'test "{{.matrix.n}}" != 1' }])
    wf.workflow.dag[0]!.matrix = { axes: { n: [1, 2, 3, 4, 5] }, include: [], exclude: [], failFast: true, parallelism: 1 }
    const res = await h.apply(wf)
    await h.engine.idle()
    const run = (await h.store.listRuns({ resourceId: res.id }))[0]!
    expect(run.state).toBe('failed')
    const latest = latestOf(await h.store.listStepRuns(run.id))
    expect(latest.get('m-1')?.state).toBe('failed')
    for (const n of [2, 3, 4, 5]) expect(latest.get(`m-${n}`)).toMatchObject({ state: 'cancelled', reason: 'FailFast' })
    expect(latest.get('m')).toMatchObject({ state: 'failed', message: '5 instances: 1 failed, 4 cancelled' })
  }, 30_000)

  it('retry applies per instance, and outputs of a fanned step are the list of its instances\' maps', async () => {
    h = await harness()
    await h.applyVolume('marks')
    const wf = workflow('per', [
      { name: 'each', script: 'if [ "{{.index}}" = 1 ] && [ ! -e /data/marks/once ]; then touch /data/marks/once; exit 1; fi\necho "n={{.item}}" >> "$CTL_OUTPUTS"', volumes: ['marks'], retry: { count: 1, strategy: 'OnFailure' } },
      { name: 'sum', script: 'echo "got {{range .steps.each.outputs}}{{.n}};{{end}}"', depends: ['each'] },
    ])
    wf.workflow.dag[0]!.forEach = { items: ['x', 'y', 'z'] }
    const res = await h.apply(wf)
    await h.engine.idle()
    const run = (await h.store.listRuns({ resourceId: res.id }))[0]!
    expect(run.state).toBe('succeeded')
    const steps = await h.store.listStepRuns(run.id)
    expect(steps.filter((s) => s.step === 'each-1').map((s) => [s.attempt, s.state])).toEqual([[1, 'failed'], [2, 'succeeded']])
    expect(steps.filter((s) => s.step === 'each-0').length).toBe(1)
    expect(await logText(h.store, run.id, 'sum')).toContain('got x;y;z;')
  }, 30_000)

  it('runtime retry reruns only the failed matrix instance (same name), keeps the others, and runs what depends on it', async () => {
    h = await harness()
    await h.applyVolume('marks')
    const wf = workflow('mx', [
      { name: 'build', script: 'echo "v=7" >> "$CTL_OUTPUTS"' },
      { name: 'test', script: 'if [ "{{.matrix.os}}" = alpine ] && [ ! -e /data/marks/seen ]; then touch /data/marks/seen; exit 3; fi\necho "r={{.matrix.os}}{{.steps.build.outputs.v}}" >> "$CTL_OUTPUTS"', depends: ['build'], volumes: ['marks'] },
      { name: 'report', script: 'echo "report {{range .steps.test.outputs}}{{.r}} {{end}}"', depends: ['test'] },
      { name: 'skipme', script: 'true', depends: ['build'] },
    ])
    wf.workflow.dag[1]!.matrix = { axes: { os: ['debian', 'alpine', 'arch'] }, include: [], exclude: [], failFast: false }
    wf.workflow.dag[3]!.when = 'false'
    const res = await h.apply(wf)
    await h.engine.idle()
    const first = (await h.store.listRuns({ resourceId: res.id }))[0]!
    expect(first.state).toBe('failed')
    const before = latestOf(await h.store.listStepRuns(first.id))
    expect(before.get('test-alpine')?.state).toBe('failed')
    expect(before.get('test')).toMatchObject({ state: 'failed', message: '3 instances: 2 succeeded, 1 failed' })
    expect(before.get('report')?.state).toBe('skipped')

    const retry = await h.engine.retryRun(res, 'alice')
    await h.engine.idle()
    const after = (await h.store.getRun(retry.id))!
    expect(after.state).toBe('succeeded')
    const steps = await h.store.listStepRuns(retry.id)
    const latest = latestOf(steps)
    // Kept: build, the two instances that succeeded, and the condition skip; run again: the failed instance and report.
    expect(latest.get('build')).toMatchObject({ state: 'succeeded', reason: 'Reused', message: `kept from ${first.id}` })
    expect(latest.get('test-debian')).toMatchObject({ state: 'succeeded', reason: 'Reused', message: `kept from ${first.id}`, parent: 'test', instance: { index: 0, matrix: { os: 'debian' } } })
    expect(latest.get('test-arch')).toMatchObject({ state: 'succeeded', reason: 'Reused' })
    expect(latest.get('test-alpine')).toMatchObject({ state: 'succeeded', parent: 'test' })
    expect(latest.get('test-alpine')?.reason).not.toBe('Reused')
    expect(latest.get('skipme')).toMatchObject({ state: 'skipped', reason: 'ConditionFalse', keptFrom: first.id })
    expect(steps.filter((s) => s.parent === 'test').map((s) => s.step).sort()).toEqual(['test-alpine', 'test-arch', 'test-debian'])
    expect(await logText(h.store, retry.id, 'report')).toContain('report debian7 alpine7 arch7 ')
    // Nothing left to retry.
    await expect(h.engine.retryRun(res, 'alice', retry.id)).rejects.toMatchObject({ code: 'E_CONFLICT' })
  }, 60_000)

  it('a reference to a value that is not there fails the attempt at launch, naming it', async () => {
    h = await harness()
    const res = await h.apply(workflow('ref', [{ name: 'a', script: 'true' }, { name: 'b', script: 'echo {{.steps.a.outputs.nope}}', depends: ['a'] }]))
    await h.engine.idle()
    const run = (await h.store.listRuns({ resourceId: res.id }))[0]!
    expect(run.state).toBe('failed')
    const b = latestOf(await h.store.listStepRuns(run.id)).get('b')!
    expect(b).toMatchObject({ state: 'failed', reason: 'LaunchError' })
    expect(b.message).toContain('.steps.a.outputs.nope')
  }, 30_000)

  it('a stopped run cancels its instances and the fanned step; a restarted engine goes on without losing the step row', async () => {
    h = await harness()
    const wf = workflow('slow', [{ name: 'each', script: 'sleep 0.4; echo {{.item}}' }, { name: 'after', script: 'true', depends: ['each'] }])
    wf.workflow.dag[0]!.forEach = { items: [1, 2, 3, 4], parallelism: 2 }
    const res = await h.apply(wf)
    const running = await waitFor('instances running', async () => {
      const run = (await h!.store.listRuns({ resourceId: res.id }))[0]
      const steps = run ? await h!.store.listStepRuns(run.id) : []
      return steps.some((s) => s.parent === 'each' && s.state === 'running') ? run : undefined
    })
    // An engine restart in the middle: the fanned step's row (running, no process) is not mistaken for a lost attempt.
    await h.engine.stop()
    const b = h.newEngine()
    await b.start()
    await b.idle()
    const done = (await h.store.getRun(running.id))!
    expect(done.state).toBe('succeeded')
    const latest = latestOf(await h.store.listStepRuns(running.id))
    expect(latest.get('each')).toMatchObject({ state: 'succeeded', message: '4 instances: 4 succeeded' })
    expect([1, 2, 3, 4].map((i) => latest.get(`each-${i - 1}`)?.state)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded'])

    // Stopped while instances run: every instance and the step end cancelled.
    const again = await b.runNow(res, 'alice')
    await waitFor('an instance running', async () => (await h!.store.listStepRuns(again.id)).some((s) => s.parent === 'each' && s.state === 'running'))
    await b.stopRuns(res, 'alice', again.id)
    await b.idle()
    const stopped = latestOf(await h.store.listStepRuns(again.id))
    expect((await h.store.getRun(again.id))?.state).toBe('killed')
    expect(stopped.get('each')?.state).toBe('cancelled')
    for (const [name, a] of stopped) if (a.parent === 'each') expect(a.state, name).toBe('cancelled')
  }, 60_000)
})

