// Runs end to end: real SQLite store, real local runtime, real child processes.
import fs from 'node:fs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { byStep, harness, logText, waitFor, workflow, type Harness } from './support.js'

let h: Harness
beforeEach(async () => {
  h = await harness()
})
afterEach(async () => {
  await h.close()
})

async function onlyRun(resourceId: string) {
  const runs = await h.store.listRuns({ resourceId })
  expect(runs).toHaveLength(1)
  return runs[0]!
}

describe('engine runs', () => {
  it('a linear DAG runs its steps in order, logs stored, resource active, run succeeded', async () => {
    const r = await h.apply(workflow('linear', [
      { name: 'a', script: 'echo from-a' },
      { name: 'b', script: 'echo from-b; echo err-b >&2', depends: ['a'] },
      { name: 'c', script: 'echo from-c', depends: ['b'] },
    ]))
    await h.engine.idle()
    expect((await h.store.getResourceById(r.id))?.status).toBe('active')
    const run = await onlyRun(r.id)
    expect(run).toMatchObject({ state: 'succeeded', trigger: 'apply', revision: 1 })
    const s = byStep(await h.store.listStepRuns(run.id))
    for (const name of ['a', 'b', 'c']) expect(s[name]).toHaveLength(1)
    expect(s.a![0]!.finishedAt! <= s.b![0]!.startedAt!).toBe(true)
    expect(s.b![0]!.finishedAt! <= s.c![0]!.startedAt!).toBe(true)
    expect(s.c![0]).toMatchObject({ state: 'succeeded', exitCode: 0, reason: 'Completed' })
    expect(await logText(h.store, run.id, 'b')).toEqual(expect.arrayContaining(['from-b', 'err-b']))
    const detail = await h.engine.runDetail(run.id)
    expect(detail?.progress).toBe('3 succeeded, 0 failed, 0 skipped of 3 steps')
    expect(await h.engine.runtimeSummary(r)).toBe('succeeded')
  })

  it('independent branches run at the same time', async () => {
    // Each branch waits until it sees the other one running: only overlap lets both succeed.
    await h.applyVolume('sync')
    const wait = (me: string, other: string) =>
      `touch /data/sync/${me}; i=0; while [ ! -f /data/sync/${other} ]; do i=$((i+1)); [ $i -gt 200 ] && exit 7; sleep 0.05; done`
    const r = await h.apply(workflow('branches', [
      { name: 'root', script: 'true' },
      { name: 'left', script: wait('left', 'right'), depends: ['root'], volumes: ['sync'] },
      { name: 'right', script: wait('right', 'left'), depends: ['root'], volumes: ['sync'] },
      { name: 'join', script: 'true', depends: ['left', 'right'] },
    ]))
    await h.engine.idle()
    const run = await onlyRun(r.id)
    expect(run.state).toBe('succeeded')
  })

  it('parallelism: 1 serializes independent steps', async () => {
    const r = await h.apply(workflow('serial', [
      { name: 'x', script: 'sleep 0.2' },
      { name: 'y', script: 'sleep 0.2' },
      { name: 'z', script: 'sleep 0.2' },
    ], { parallelism: 1 }))
    await h.engine.idle()
    const run = await onlyRun(r.id)
    expect(run.state).toBe('succeeded')
    const spans = (await h.store.listStepRuns(run.id)).map((s) => [s.startedAt!, s.finishedAt!] as const).sort()
    for (let i = 1; i < spans.length; i++) expect(spans[i - 1]![1] <= spans[i]![0]).toBe(true)
  })

  it('a failure skips its dependents, lets other branches finish and fails the run', async () => {
    const r = await h.apply(workflow('failing', [
      { name: 'bad', script: 'echo boom; exit 3' },
      { name: 'after-bad', script: 'true', depends: ['bad'] },
      { name: 'after-after', script: 'true', depends: ['after-bad'] },
      { name: 'fine', script: 'true' },
    ]))
    await h.engine.idle()
    const run = await onlyRun(r.id)
    expect(run.state).toBe('failed')
    const s = byStep(await h.store.listStepRuns(run.id))
    expect(s.bad![0]).toMatchObject({ state: 'failed', exitCode: 3, reason: 'Error' })
    expect(s['after-bad']![0]).toMatchObject({ state: 'skipped', message: 'dependency "bad" failed' })
    expect(s['after-after']![0]).toMatchObject({ state: 'skipped' })
    expect(s.fine![0]!.state).toBe('succeeded')
    expect((await h.engine.runDetail(run.id))?.progress).toBe('1 succeeded, 1 failed, 2 skipped of 4 steps')
    expect(await h.engine.runtimeSummary(r)).toBe('failed')
  })

  it('retry OnFailure: a step failing once succeeds on its second attempt', async () => {
    await h.applyVolume('state')
    const r = await h.apply(workflow('flaky', [
      { name: 'flaky', script: 'if [ -f /data/state/marker ]; then echo second; exit 0; fi; touch /data/state/marker; echo first; exit 1', volumes: ['state'], retry: { count: 2, strategy: 'OnFailure' } },
      { name: 'next', script: 'true', depends: ['flaky'] },
    ]))
    await h.engine.idle()
    const run = await onlyRun(r.id)
    expect(run.state).toBe('succeeded')
    const s = byStep(await h.store.listStepRuns(run.id))
    expect(s.flaky!.map((a) => [a.attempt, a.state])).toEqual([[1, 'failed'], [2, 'succeeded']])
    expect(s.next![0]!.state).toBe('succeeded')
    expect((await h.store.readLogs({ runId: run.id, step: 'flaky', attempt: 2 })).map((l) => l.text)).toEqual(['second'])
  })

  it('a retry waits for its backoff (notBefore) before the next attempt starts', async () => {
    const r = await h.apply(workflow('backoff', [{ name: 'b', script: 'exit 1', retry: { count: 1, strategy: 'Always', duration: '300ms' } }]))
    await h.engine.idle()
    const run = await onlyRun(r.id)
    const [first, second] = await h.store.listStepRuns(run.id)
    expect(second).toMatchObject({ attempt: 2, state: 'failed' })
    expect(Date.parse(second!.notBefore!) - Date.parse(first!.finishedAt!)).toBe(300)
    expect(second!.startedAt! >= second!.notBefore!).toBe(true)
  })

  it('retries stop after count extra attempts and OnError does not retry a plain failure', async () => {
    const r = await h.apply(workflow('retries', [
      { name: 'always', script: 'exit 1', retry: { count: 2, strategy: 'Always' } },
      { name: 'onerror', script: 'exit 1', retry: { count: 2, strategy: 'OnError' } },
    ]))
    await h.engine.idle()
    const run = await onlyRun(r.id)
    expect(run.state).toBe('failed')
    const s = byStep(await h.store.listStepRuns(run.id))
    expect(s.always!.map((a) => a.state)).toEqual(['failed', 'failed', 'failed'])
    expect(s.onerror!.map((a) => a.state)).toEqual(['failed'])
  })

  it('a step over its timeout fails with DeadlineExceeded', async () => {
    const r = await h.apply(workflow('slow', [{ name: 'sleepy', script: 'sleep 30', timeoutSeconds: 1 }]))
    await h.engine.idle()
    const run = await onlyRun(r.id)
    expect(run.state).toBe('failed')
    expect((await h.store.listStepRuns(run.id))[0]).toMatchObject({ state: 'failed', reason: 'DeadlineExceeded' })
  })

  it('projections reach the step: secret values from an applied secret, default projections', async () => {
    const secret = { meta: { name: 'app', version: 'v1', type: 'secret', tags: [], layer: 'user', workspace: 'public' }, secret: { type: 'key-value', acl: 'r', data: { TOKEN: 's3cr3t-value' }, files: {} } }
    await h.store.applyResource({ workspace: 'public', type: 'secret', name: 'app', version: 'v1', manifest: secret, owner: 'alice' })
    // The workflow's owner must be a user who may `use` the secret (here: its owner; the harness makes alice).
    const wf = workflow('projected', [{ name: 'p', script: '[ "$TOKEN" = "s3cr3t-value" ] && echo token-ok; echo "step=$STEP run=$RUN"' }])
    wf.workflow.dag[0]!.spec.projection = {
      secrets: [{ id: 'app', contextAlias: 'app' }],
      envVars: [
        { key: 'TOKEN', value: '{{.secrets.app.TOKEN}}' },
        { key: 'STEP', value: '{{.defaultProjections.stepName}}' },
        { key: 'RUN', value: '{{.defaultProjections.runId}}' },
      ],
      files: [],
      arguments: [],
      allKeysAsEnv: [],
    }
    const r = await h.apply(wf)
    await h.engine.idle()
    const run = await onlyRun(r.id)
    expect(run.state).toBe('succeeded')
    expect(await logText(h.store, run.id, 'p')).toEqual(['token-ok', `step=p run=${run.id}`])
  })

  it('a missing volume fails the step with a clear reason', async () => {
    const r = await h.apply(workflow('novol', [{ name: 'uses', script: 'true', volumes: ['ghost'] }]))
    await h.engine.idle()
    const run = await onlyRun(r.id)
    expect(run.state).toBe('failed')
    const step = (await h.store.listStepRuns(run.id))[0]!
    expect(step).toMatchObject({ state: 'failed', reason: 'LaunchError' })
    expect(step.message).toMatch(/volume "ghost" is not applied in workspace "public"/)
    expect((await logText(h.store, run.id, 'uses')).join('\n')).toMatch(/ghost/)
  })

  it('a stack that does not resolve puts the workflow in error, without a run', async () => {
    const wf = workflow('nostack', [{ name: 'a', script: 'true' }])
    wf.workflow.dag[0]!.spec.stack = { name: 'nope', version: '9.9' }
    const r = await h.apply(wf)
    await h.engine.idle()
    const rec = await h.store.getResourceById(r.id)
    expect(rec?.status).toBe('error')
    expect(rec?.statusReason).toMatch(/step "a": unknown stack "nope:9.9"/)
    expect(await h.store.listRuns({ resourceId: r.id })).toHaveLength(0)
  })

  it('stopRuns kills the running step, cancels pending ones and ends the run killed', async () => {
    // Plain processes: in bubblewrap mode the runtime's SIGTERM currently waits out the 10 s grace period.
    await h.close()
    h = await harness({ sandbox: 'none' })
    const r = await h.apply(workflow('stoppable', [
      { name: 'long', script: 'echo started; sleep 30' },
      { name: 'later', script: 'true', depends: ['long'] },
    ]))
    const run = await waitFor('the step to run', async () => {
      const runs = await h.store.listRuns({ resourceId: r.id })
      const steps = runs[0] ? await h.store.listStepRuns(runs[0].id) : []
      return steps.find((s) => s.step === 'long' && s.state === 'running' && (s.runtimeHandle as { id?: string })?.id) ? runs[0] : undefined
    })
    const stopped = await h.engine.stopRuns(r, 'bob')
    expect(stopped.map((x) => [x.id, x.state])).toEqual([[run.id, 'killed']])
    expect(stopped[0]!.reason).toBe('killed by bob')
    await h.engine.idle()
    const s = byStep(await h.store.listStepRuns(run.id))
    expect(s.long![0]).toMatchObject({ state: 'cancelled', reason: 'Killed' })
    expect(s.later![0]!.state).toBe('cancelled')
    expect((await h.store.getRun(run.id))?.state).toBe('killed')
    expect(await h.engine.stopRuns(r, 'bob')).toEqual([])
  })

  it('retryRun reruns only the failed and skipped steps and keeps the succeeded ones', async () => {
    await h.applyVolume('state')
    const r = await h.apply(workflow('retryable', [
      { name: 'good', script: 'echo good >> /data/state/good-count', volumes: ['state'] },
      { name: 'bad', script: 'if [ -f /data/state/fixed ]; then exit 0; fi; exit 1', volumes: ['state'], depends: ['good'] },
      { name: 'tail', script: 'true', depends: ['bad'] },
      { name: 'side', script: 'true' },
    ]))
    await h.engine.idle()
    const first = await onlyRun(r.id)
    expect(first.state).toBe('failed')
    fs.writeFileSync(`${h.volume('state')}/fixed`, '')
    const retry = await h.engine.retryRun(r, 'bob')
    expect(retry).toMatchObject({ trigger: 'retry', retryOf: first.id, revision: 1 })
    await h.engine.idle()
    expect((await h.store.getRun(retry.id))?.state).toBe('succeeded')
    const s = byStep(await h.store.listStepRuns(retry.id))
    expect(s.good![0]).toMatchObject({ state: 'succeeded', reason: 'Reused', keptFrom: first.id, message: `kept from ${first.id}` })
    expect(s.side![0]).toMatchObject({ state: 'succeeded', reason: 'Reused', keptFrom: first.id })
    expect(s.bad![0]!.keptFrom).toBeUndefined()
    expect(s.bad![0]).toMatchObject({ state: 'succeeded', reason: 'Completed' })
    expect(s.tail![0]).toMatchObject({ state: 'succeeded', reason: 'Completed' })
    expect(fs.readFileSync(`${h.volume('state')}/good-count`, 'utf8')).toBe('good\n')
    await expect(h.engine.retryRun(r, 'bob')).rejects.toMatchObject({ code: 'E_CONFLICT' })
  })

  it('re-applying: unchanged starts nothing, a changed workflow starts a new run', async () => {
    const wf = workflow('reapply', [{ name: 'a', script: 'true' }])
    const r = await h.apply(wf)
    await h.engine.idle()
    await h.apply(wf)
    await h.engine.idle()
    expect(await h.store.listRuns({ resourceId: r.id })).toHaveLength(1)
    wf.workflow.dag[0]!.spec.stackSpec = { interpreter: 'sh', script: 'echo changed' }
    await h.apply(wf)
    await h.engine.idle()
    const runs = await h.store.listRuns({ resourceId: r.id })
    expect(runs.map((x) => [x.revision, x.state])).toEqual([[2, 'succeeded'], [1, 'succeeded']])
  })

  it('runNow starts a manual run; the server-wide limit still lets everything finish', async () => {
    const r = await h.apply(workflow('manual', [{ name: 'a', script: 'true' }, { name: 'b', script: 'true' }]))
    await h.engine.idle()
    const run = await h.engine.runNow(r, 'bob')
    expect(run.trigger).toBe('manual')
    await h.engine.idle()
    expect((await h.store.getRun(run.id))?.state).toBe('succeeded')
  })
})
