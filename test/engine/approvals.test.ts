// Approval steps on the local runtime: a required approval makes the step wait (the run stays running, other
// branches go on); approve starts it, reject fails it and its dependents are skipped, a deadline rejects it;
// a restart loses neither the wait, nor the deadline, nor a decision made before it, and starts nothing twice.
import { afterEach, describe, expect, it } from 'vitest'
import type { ApprovalSpec, WorkflowResource } from '../../src/manifest/model.js'
import type { ResourceRecord } from '../../src/store/types.js'
import { harness, waitFor, workflow, type Harness } from './support.js'

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

function withApproval(wf: WorkflowResource, step: string, approval: Partial<ApprovalSpec> = {}): WorkflowResource {
  const s = wf.workflow.dag.find((x) => x.name === step)!
  s.approval = { required: true, approvers: [], ...approval }
  return wf
}

/** deploy waits for approval; side runs on its own; after needs deploy. deploy appends to a volume file. */
function deployFlow(approval: Partial<ApprovalSpec> = {}): WorkflowResource {
  const wf = workflow('release', [
    { name: 'build', script: 'echo built' },
    { name: 'deploy', script: 'echo deployed; echo run >> /data/count/starts', depends: ['build'], volumes: ['count'] },
    { name: 'side', script: 'echo side' },
    { name: 'after', script: 'echo after', depends: ['deploy'] },
  ])
  wf.workflow.params = [{ name: 'version', type: 'string', required: false, default: '1.2.3' }]
  return withApproval(wf, 'deploy', { message: 'Deploy {{.params.version}} to production?', ...approval })
}

async function waitingRow(h: Harness, r: ResourceRecord) {
  return waitFor('the step to wait for approval', async () => {
    const run = (await h.store.listRuns({ resourceId: r.id }))[0]
    const s = run ? (await h.store.listStepRuns(run.id)).find((x) => x.step === 'deploy') : undefined
    return s?.state === 'waiting' ? s : undefined
  })
}

async function states(h: Harness, runId: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const s of await h.store.listStepRuns(runId)) out[s.step] = s.state
  return out
}

describe('approval steps', () => {
  it('a rejected step is never retried, whatever its retry policy says; an approved one that fails is, without asking again', async () => {
    h = await harness()
    await h.applyVolume('count')
    const wf = deployFlow()
    wf.workflow.dag.find((s) => s.name === 'deploy')!.retry = { count: 2, strategy: 'Always' }
    const r = await h.apply(wf)
    const row = await waitingRow(h, r)
    // "temporarily" would read as transient to OnTransientError: a decision is no failure to try again anyway.
    await h.engine.decideApproval(row, 'reject', 'bob', 'temporarily not')
    await h.engine.idle()
    const attempts = (await h.store.listStepRuns(row.runId)).filter((s) => s.step === 'deploy')
    expect(attempts.map((a) => [a.attempt, a.state, a.reason])).toEqual([[1, 'failed', 'Rejected']])
    expect((await h.store.getRun(row.runId))?.state).toBe('failed')

    // Approved, then failing: retried as the policy says, and never asked again.
    const flaky = deployFlow()
    const deploy = flaky.workflow.dag.find((s) => s.name === 'deploy')!
    deploy.retry = { count: 1, strategy: 'Always' }
    deploy.spec.stackSpec = { interpreter: 'sh', script: 'echo run >> /data/count/starts; exit 3' }
    flaky.meta.name = 'release-flaky'
    const r2 = await h.apply(flaky)
    const row2 = await waitingRow(h, r2)
    await h.engine.decideApproval(row2, 'approve', 'alice')
    await h.engine.idle()
    const tries = (await h.store.listStepRuns(row2.runId)).filter((s) => s.step === 'deploy')
    expect(tries.map((a) => [a.attempt, a.state])).toEqual([[1, 'failed'], [2, 'failed']])
  }, 60_000)

  it('waits with the rendered message while other branches go on; approve starts it once', async () => {
    h = await harness()
    await h.applyVolume('count')
    const r = await h.apply(deployFlow({ approvers: ['roles:id:operator', 'users:id:alice'], timeoutMs: 86_400_000 }))
    const row = await waitingRow(h, r)
    expect(row.approval?.message).toBe('Deploy 1.2.3 to production?')
    expect(row.approval?.approvers).toEqual(['roles:id:operator', 'users:id:alice'])
    expect(row.approval?.deadline).toBeDefined()
    await h.engine.idle()
    expect(await states(h, row.runId)).toEqual({ build: 'succeeded', deploy: 'waiting', side: 'succeeded', after: 'pending' })
    expect((await h.store.getRun(row.runId))?.state).toBe('running')
    expect((await h.engine.runDetail(row.runId))?.progress).toContain('1 waiting')

    const found = await h.engine.waitingStep(r, 'deploy')
    expect(found.id).toBe(row.id)
    const approved = await h.engine.decideApproval(found, 'approve', 'alice', 'go')
    expect(approved.approval).toMatchObject({ decision: 'approved', by: 'alice', comment: 'go' })
    // A second decision finds nothing waiting.
    await expect(h.engine.decideApproval(found, 'reject', 'bob')).rejects.toMatchObject({ code: 'E_CONFLICT' })
    await waitFor('the run to end', async () => ((await h!.store.getRun(row.runId))?.state === 'succeeded' ? true : undefined))
    expect(await states(h, row.runId)).toEqual({ build: 'succeeded', deploy: 'succeeded', side: 'succeeded', after: 'succeeded' })
    const { readFileSync } = await import('node:fs')
    expect(readFileSync(`${h.volume('count')}/starts`, 'utf8')).toBe('run\n')
  })

  it('reject fails the step with who and why; its dependents are skipped and the run fails', async () => {
    h = await harness()
    await h.applyVolume('count')
    const r = await h.apply(deployFlow())
    const row = await waitingRow(h, r)
    const rejected = await h.engine.decideApproval(row, 'reject', 'bob', 'not on a Friday')
    expect(rejected).toMatchObject({ state: 'failed', reason: 'Rejected', message: 'Rejected by bob: not on a Friday' })
    await waitFor('the run to end', async () => ((await h!.store.getRun(row.runId))?.state === 'failed' ? true : undefined))
    expect(await states(h, row.runId)).toEqual({ build: 'succeeded', deploy: 'failed', side: 'succeeded', after: 'skipped' })
  })

  it('a false CEL `required` runs the step without asking; a true one asks', async () => {
    h = await harness()
    await h.applyVolume('count')
    const asks = deployFlow({ required: "params.version.startsWith('1.')" })
    const r = await h.apply(asks)
    await waitingRow(h, r)
    const skips = deployFlow({ required: "params.version == '9'" })
    skips.meta.name = 'quiet'
    const q = await h.apply(skips)
    await waitFor('the run to succeed', async () => {
      const run = (await h!.store.listRuns({ resourceId: q.id }))[0]
      return run?.state === 'succeeded' ? run : undefined
    })
  })

  it('past its timeout the step is rejected as timed out', async () => {
    h = await harness()
    await h.applyVolume('count')
    const r = await h.apply(deployFlow({ timeoutMs: 300 }))
    const row = await waitingRow(h, r)
    const failed = await waitFor('the timeout', async () => {
      const s = await h!.store.getStepRun(row.id)
      return s?.state === 'failed' ? s : undefined
    })
    expect(failed.reason).toBe('ApprovalTimeout')
    expect(failed.message).toMatch(/^Rejected: timed out after .* waiting for approval$/)
    expect(failed.approval?.decision).toBe('timeout')
    await waitFor('the run to fail', async () => ((await h!.store.getRun(row.runId))?.state === 'failed' ? true : undefined))
  })

  it('a secret param never shows in the rendered message', async () => {
    h = await harness()
    await h.applyVolume('count')
    const wf = deployFlow({ message: 'Deploy {{.params.version}} with {{.params.token}}?' })
    wf.workflow.params!.push({ name: 'token', type: 'string', required: false, default: 's3cr3t-value', secret: true })
    const row = await waitingRow(h, await h.apply(wf))
    expect(row.approval?.message).toBe('Deploy 1.2.3 with [redacted]?')
  })

  it('stopping the run cancels a waiting step', async () => {
    h = await harness()
    await h.applyVolume('count')
    const r = await h.apply(deployFlow())
    const row = await waitingRow(h, r)
    await h.engine.stopRuns(r, 'alice')
    expect((await h.store.getStepRun(row.id))?.state).toBe('cancelled')
  })
})

describe('approval steps with the failure rules', () => {
  it('stop cancels the waiting step and finally still runs; the workflow timeout cancels it too', async () => {
    h = await harness()
    await h.applyVolume('count')
    const wf = deployFlow()
    wf.workflow.finally = [{ ...wf.workflow.dag[2]!, name: 'cleanup', depends: [], path: ['spec', 'finally', 0] }]
    const r = await h.apply(wf)
    const row = await waitingRow(h, r)
    await h.engine.stopRuns(r, 'alice')
    await waitFor('the run to end', async () => ((await h!.store.getRun(row.runId))?.state === 'killed' ? true : undefined))
    const after = await states(h, row.runId)
    expect([after.deploy, after.after, after.cleanup]).toEqual(['cancelled', 'cancelled', 'succeeded'])

    const timed = deployFlow()
    timed.meta.name = 'timed'
    timed.workflow.timeoutSeconds = 1
    const t = await h.apply(timed)
    const waiting = await waitingRow(h, t)
    const end = await waitFor('the deadline', async () => {
      const run = await h!.store.getRun(waiting.runId)
      return run?.state === 'failed' ? run : undefined
    })
    expect(end.reason).toContain('DeadlineExceeded')
    expect((await h.store.getStepRun(waiting.id))?.state).toBe('cancelled')
  })
})

describe('an approval step in finally', () => {
  it('waits after the DAG ended; approved, it runs and the run ends', async () => {
    h = await harness()
    const wf = workflow('fin', [{ name: 'a', script: 'true' }, { name: 'notify', script: 'echo notified' }])
    wf.workflow.finally = [{ ...wf.workflow.dag[1]!, path: ['spec', 'finally', 0], approval: { required: true, approvers: [] } }]
    wf.workflow.dag = wf.workflow.dag.slice(0, 1)
    const r = await h.apply(wf)
    const row = await waitFor('notify to wait', async () => {
      const run = (await h!.store.listRuns({ resourceId: r.id }))[0]
      const s = run ? (await h!.store.listStepRuns(run.id)).find((x) => x.step === 'notify') : undefined
      return s?.state === 'waiting' ? s : undefined
    })
    await h.engine.decideApproval(await h.engine.waitingStep(r, 'notify'), 'approve', 'alice')
    await waitFor('the run to end', async () => ((await h!.store.getRun(row.runId))?.state === 'succeeded' ? true : undefined))
    expect(await states(h, row.runId)).toEqual({ a: 'succeeded', notify: 'succeeded' })
  })
})

describe('approval steps across a restart', () => {
  it('a step still waits under a new engine, and its approval starts it exactly once', async () => {
    h = await harness()
    await h.applyVolume('count')
    const r = await h.apply(deployFlow())
    const row = await waitingRow(h, r)
    await h.engine.idle()
    await h.engine.stop()

    const b = h.newEngine()
    await b.start()
    await b.idle()
    expect((await h.store.getStepRun(row.id))?.state).toBe('waiting')
    await b.decideApproval(await b.waitingStep(r, 'deploy', row.runId), 'approve', 'alice')
    await waitFor('the run to end', async () => ((await h!.store.getRun(row.runId))?.state === 'succeeded' ? true : undefined))
    const { readFileSync } = await import('node:fs')
    expect(readFileSync(`${h.volume('count')}/starts`, 'utf8')).toBe('run\n')
  })

  it('a decision made while no engine runs is not lost, and the step starts once', async () => {
    h = await harness()
    await h.applyVolume('count')
    const r = await h.apply(deployFlow())
    const row = await waitingRow(h, r)
    await h.engine.idle()
    // The decision reaches the store while the engine is down (as a request answered just before a crash).
    await h.engine.stop()
    await h.engine.decideApproval(row, 'approve', 'alice', 'before the restart')
    const b = h.newEngine()
    await b.start()
    await waitFor('the run to end', async () => ((await h!.store.getRun(row.runId))?.state === 'succeeded' ? true : undefined))
    const attempts = (await h.store.listStepRuns(row.runId)).filter((s) => s.step === 'deploy')
    expect(attempts.map((a) => [a.attempt, a.state, a.approval?.comment])).toEqual([[1, 'succeeded', 'before the restart']])
    const { readFileSync } = await import('node:fs')
    expect(readFileSync(`${h.volume('count')}/starts`, 'utf8')).toBe('run\n')
  })

  it('the deadline still applies after a restart', async () => {
    let now = Date.now()
    h = await harness({ now: () => new Date(now) })
    await h.applyVolume('count')
    const r = await h.apply(deployFlow({ timeoutMs: 3_600_000 }))
    const row = await waitingRow(h, r)
    await h.engine.idle()
    await h.engine.stop()
    now += 2 * 3_600_000
    const b = h.newEngine({ now: () => new Date(now) })
    await b.start()
    const failed = await waitFor('the timeout', async () => {
      const s = await h!.store.getStepRun(row.id)
      return s?.state === 'failed' ? s : undefined
    })
    expect(failed).toMatchObject({ reason: 'ApprovalTimeout', message: 'Rejected: timed out after 1h waiting for approval' })
  })
})
