// spec.finally, spec.timeout and stop before finally (issue 12), end to end: real store, local runtime, processes.
import fs from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import type { WorkflowResource } from '../../src/manifest/model.js'
import { latestAttempts } from '../../src/engine/scheduler.js'
import { harness, logText, waitFor, workflow, type Harness, type StepInput } from './support.js'

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

/** A workflow whose `fin` steps are its finally steps. */
function withFinally(name: string, dag: StepInput[], fin: StepInput[], extra: { timeoutSeconds?: number; finallyTimeoutSeconds?: number } = {}): WorkflowResource {
  const wf = workflow(name, [...dag, ...fin])
  wf.workflow.finally = wf.workflow.dag.slice(dag.length).map((s, i) => ({ ...s, path: ['spec', 'finally', i] }))
  wf.workflow.dag = wf.workflow.dag.slice(0, dag.length)
  Object.assign(wf.workflow, extra)
  return wf
}

async function runOf(resourceId: string) {
  return (await h!.store.listRuns({ resourceId }))[0]!
}

/** The state of a step of the workflow's newest run, once there is one. */
async function stepState(resourceId: string, step: string) {
  const run = (await h!.store.listRuns({ resourceId }))[0]
  return run ? (await statesOf(run.id))[step] : undefined
}

async function statesOf(runId: string) {
  return Object.fromEntries([...latestAttempts(await h!.store.listStepRuns(runId))].map(([n, a]) => [n, a.state]))
}

const report = { name: 'report', script: 'echo "status={{.workflow.status}} of {{.workflow.name}}"' }

describe('finally', () => {
  it('runs after a DAG that succeeded, in its own order, and reads workflow.status', async () => {
    h = await harness()
    const r = await h.apply(withFinally('ok', [{ name: 'a', script: 'true' }], [report, { name: 'last', script: 'echo last', depends: ['report'] }]))
    await h.engine.idle()
    const run = await runOf(r.id)
    expect(run.state).toBe('succeeded')
    expect(await statesOf(run.id)).toEqual({ a: 'succeeded', report: 'succeeded', last: 'succeeded' })
    expect(await logText(h.store, run.id, 'report')).toEqual(['status=Succeeded of ok'])
    const detail = await h.engine.runDetail(run.id)
    expect(detail?.finally).toEqual(['report', 'last'])
  })

  it('runs after a DAG that failed; the run stays failed', async () => {
    h = await harness()
    const r = await h.apply(withFinally('bad', [{ name: 'a', script: 'exit 2' }, { name: 'b', script: 'true', depends: ['a'] }], [report]))
    await h.engine.idle()
    const run = await runOf(r.id)
    expect(run.state).toBe('failed')
    expect(await statesOf(run.id)).toEqual({ a: 'failed', b: 'skipped', report: 'succeeded' })
    expect(await logText(h.store, run.id, 'report')).toEqual(['status=Failed of bad'])
  })

  it('a failing finally step fails a run whose DAG succeeded, and the reason says how the DAG ended', async () => {
    h = await harness()
    const r = await h.apply(withFinally('finfail', [{ name: 'a', script: 'true' }], [{ name: 'notify', script: 'exit 1' }]))
    await h.engine.idle()
    const run = await runOf(r.id)
    expect(run).toMatchObject({ state: 'failed', reason: 'finally step "notify" failed (DAG Succeeded)' })
  })

  it('runtime stop kills the DAG, runs finally, and ends the run killed; --force skips finally', async () => {
    h = await harness()
    const wf = withFinally('stopped', [{ name: 'long', script: 'sleep 30' }, { name: 'next', script: 'true', depends: ['long'] }], [report])
    const r = await h.apply(wf)
    await waitFor('the long step running', async () => (await stepState(r.id, 'long')) === 'running')
    const [during] = await h.engine.stopRuns(r, 'alice')
    expect(during).toMatchObject({ state: 'running', reason: 'DAG Killed: killed by alice' })
    await h.engine.idle()
    const run = await runOf(r.id)
    expect(run).toMatchObject({ state: 'killed', reason: 'killed by alice' })
    expect(await statesOf(run.id)).toEqual({ long: 'cancelled', next: 'cancelled', report: 'succeeded' })
    expect(await logText(h.store, run.id, 'report')).toEqual(['status=Killed of stopped'])

    const again = await h.engine.runNow(r, 'alice')
    await waitFor('the long step running again', async () => (await statesOf(again!.id)).long === 'running')
    await h.engine.stopRuns(r, 'alice', undefined, { force: true })
    await h.engine.idle()
    expect((await h.store.getRun(again!.id))?.state).toBe('killed')
    expect(await statesOf(again!.id)).toEqual({ long: 'cancelled', next: 'cancelled', report: 'cancelled' })
  })

  it('a finally step left running by a restart finishes once under the new engine', async () => {
    h = await harness()
    await h.applyVolume('gate')
    const gate = h.volume('gate')
    const wait = 'echo start >> /data/gate/starts; i=0; while [ ! -f /data/gate/go ]; do i=$((i+1)); [ $i -gt 400 ] && exit 7; sleep 0.05; done; echo done'
    const r = await h.apply(withFinally('restart', [{ name: 'a', script: 'exit 3' }], [{ name: 'cleanup', script: wait, volumes: ['gate'] }, { name: 'after', script: 'echo {{.workflow.status}}', depends: ['cleanup'] }]))
    const run = await waitFor('the finally step running', async () => {
      return (await stepState(r.id, 'cleanup')) === 'running' ? runOf(r.id) : undefined
    })
    expect(run).toMatchObject({ state: 'running', reason: 'DAG Failed' })
    await h.engine.stop()
    const b = h.newEngine()
    await b.start()
    fs.writeFileSync(`${gate}/go`, '')
    await b.idle()
    const after = (await h.store.getRun(run.id))!
    expect(after.state).toBe('failed')
    const attempts = await h.store.listStepRuns(run.id)
    expect(attempts.map((a) => [a.step, a.attempt, a.state])).toEqual([['a', 1, 'failed'], ['after', 1, 'succeeded'], ['cleanup', 1, 'succeeded']])
    expect(fs.readFileSync(`${gate}/starts`, 'utf8')).toBe('start\n')
    expect(await logText(h.store, run.id, 'after')).toEqual(['Failed'])
  })
})

describe('workflow timeout', () => {
  it('stops running steps, cancels pending ones, runs finally, fails with DeadlineExceeded', async () => {
    h = await harness()
    const r = await h.apply(withFinally('slow', [{ name: 'long', script: 'sleep 30' }, { name: 'next', script: 'true', depends: ['long'] }], [report], { timeoutSeconds: 1 }))
    await waitFor('the run to end', async () => ['failed', 'succeeded', 'killed'].includes((await h!.store.listRuns({ resourceId: r.id }))[0]?.state ?? ''), 20_000)
    await h.engine.idle()
    const run = await runOf(r.id)
    expect(run).toMatchObject({ state: 'failed', reason: 'DeadlineExceeded' })
    expect(await statesOf(run.id)).toEqual({ long: 'cancelled', next: 'cancelled', report: 'succeeded' })
    expect(await logText(h.store, run.id, 'report')).toEqual(['status=Failed of slow'])
  })

  it('without finally, the deadline counts from the stored start: a new engine past it ends the run', async () => {
    h = await harness()
    const wf = workflow('nofin', [{ name: 'long', script: 'sleep 30' }])
    wf.workflow.timeoutSeconds = 2
    const r = await h.apply(wf)
    await waitFor('the long step running', async () => (await stepState(r.id, 'long')) === 'running')
    await h.engine.stop()
    const b = h.newEngine()
    await b.start()
    await waitFor('the run to end', async () => (await runOf(r.id)).state !== 'running', 20_000)
    await b.idle()
    expect(await runOf(r.id)).toMatchObject({ state: 'failed', reason: 'DeadlineExceeded' })
  })
})
