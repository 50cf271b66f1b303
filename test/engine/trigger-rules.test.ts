// Trigger rules and allowed failures end to end (issue 12): real store, real local runtime, real processes.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { StepModel, WorkflowResource } from '../../src/manifest/model.js'
import { latestAttempts } from '../../src/engine/scheduler.js'
import { harness, workflow, type Harness, type StepInput } from './support.js'

let h: Harness
beforeEach(async () => {
  h = await harness()
})
afterEach(async () => {
  await h.close()
})

type RuleInput = StepInput & Pick<StepModel, 'runIf' | 'allowFailure' | 'handles'>

/** workflow() with each step's rule fields set as given. */
export function ruled(name: string, steps: RuleInput[]): WorkflowResource {
  const wf = workflow(name, steps)
  wf.workflow.dag.forEach((s, i) => {
    const { runIf, allowFailure, handles } = steps[i]!
    if (runIf) s.runIf = runIf
    if (allowFailure) s.allowFailure = allowFailure
    if (handles) s.handles = handles
  })
  return wf
}

async function ended(wf: WorkflowResource) {
  const r = await h.apply(wf)
  await h.engine.idle()
  const run = (await h.store.listRuns({ resourceId: r.id }))[0]!
  const latest = latestAttempts(await h.store.listStepRuns(run.id))
  const states = Object.fromEntries([...latest].map(([n, a]) => [n, a.state]))
  return { run, states, latest, detail: (await h.engine.runDetail(run.id))! }
}

describe('trigger rules', () => {
  it('a fallback runs on failure, cleanup always runs, the run still fails (Argo)', async () => {
    const { run, states } = await ended(ruled('fallback', [
      { name: 'main', script: 'exit 3' },
      { name: 'after', script: 'true', depends: ['main'] },
      { name: 'fallback', script: 'true', depends: ['main'], runIf: 'anyFailed' },
      { name: 'cleanup', script: 'true', depends: ['main', 'fallback'], runIf: 'allDone' },
    ]))
    expect(states).toEqual({ main: 'failed', after: 'skipped', fallback: 'succeeded', cleanup: 'succeeded' })
    expect(run.state).toBe('failed')
  })

  it('a failure handled by a `handles:` step that succeeded leaves the run succeeded', async () => {
    const { run, states } = await ended(ruled('handled', [
      { name: 'main', script: 'exit 3' },
      { name: 'fallback', script: 'true', depends: ['main'], runIf: 'anyFailed', handles: ['main'] },
    ]))
    expect(states).toEqual({ main: 'failed', fallback: 'succeeded' })
    expect(run.state).toBe('succeeded')
  })

  it('with nothing failed the fallback is skipped (no failure) and noneFailed goes on', async () => {
    const { run, states, latest } = await ended(ruled('happy', [
      { name: 'main', script: 'true' },
      { name: 'fallback', script: 'true', depends: ['main'], runIf: 'anyFailed' },
      { name: 'report', script: 'true', depends: ['main', 'fallback'], runIf: 'noneFailed' },
    ]))
    expect(states).toEqual({ main: 'succeeded', fallback: 'skipped', report: 'succeeded' })
    expect(latest.get('fallback')).toMatchObject({ reason: 'TriggerRule', message: 'runIf: anyFailed: no dependency failed' })
    expect(run.state).toBe('succeeded')
  })

  it('allowFailure: the failure is recorded, dependents run, the run succeeds; the detail names it', async () => {
    const { run, states, detail } = await ended(ruled('optional', [
      { name: 'flaky', script: 'exit 1', allowFailure: true },
      { name: 'next', script: 'true', depends: ['flaky'] },
    ]))
    expect(states).toEqual({ flaky: 'failed', next: 'succeeded' })
    expect(run.state).toBe('succeeded')
    expect(detail.allowedFailures).toEqual(['flaky'])
  })
})
