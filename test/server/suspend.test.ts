// POST .../runs/suspend and .../runs/resume through a real control plane and the real client:
// authorized as `stop` (a viewer is refused), audited as suspend / resume, E_CONFLICT for an ended run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import type { Role } from '../../src/api/types.js'
import { doc, rejection, startTestServer, userClient, waitFor, waitForRunEnd, workflow, type TestServer } from './helpers.js'

let t: TestServer
beforeAll(async () => {
  t = await startTestServer()
})
afterAll(async () => {
  await t?.stop()
})

const ref = (name: string) => ({ workspace: 'public', type: 'workflow', name })

const userWith = async (id: string, role: Role): Promise<CtlClient> => (await userClient(t, id, role)).client

async function firstRun(name: string): Promise<string> {
  const runs = await waitFor(`a run of ${name}`, () => t.client.runs(ref(name)), (r) => r.length > 0)
  return runs[runs.length - 1]!.id
}

describe('suspend and resume over HTTP', () => {
  it('holds and releases a running run; a viewer may do neither; both are audited', async () => {
    const since = new Date().toISOString()
    const viewer = await userWith('vera', 'viewer')
    const operator = await userWith('otto', 'operator')
    await t.client.apply('public', [doc(workflow('holder', { nap: 'echo started; sleep 60' }))])
    const runId = await firstRun('holder')
    await waitFor('the step to run', () => t.client.run(runId), (d) => d.steps.some((s) => s.state === 'running'))

    expect((await rejection(viewer.suspend(ref('holder')))).code).toBe('E_FORBIDDEN')
    const held = await t.client.suspend(ref('holder'))
    expect(held.map((r) => [r.id, r.state])).toEqual([[runId, 'suspended']])
    expect((await t.client.run(runId)).run.state).toBe('suspended')
    expect((await t.client.list({ workspace: 'public', type: 'workflow', name: 'holder' }))[0]!.runtime).toBe('suspended')
    // Whoever may stop may hold; suspending a suspended run is a no-op answer.
    expect((await operator.suspend(ref('holder'), runId)).map((r) => r.state)).toEqual(['suspended'])

    expect((await rejection(viewer.resume(ref('holder')))).code).toBe('E_FORBIDDEN')
    const resumed = await t.client.resume(ref('holder'))
    expect(resumed.map((r) => [r.id, r.state])).toEqual([[runId, 'running']])
    expect(await t.client.resume(ref('holder'))).toEqual([])

    // Stop of a suspended run kills it.
    await t.client.suspend(ref('holder'), runId)
    expect((await t.client.stop(ref('holder'))).map((r) => [r.id, r.state])).toEqual([[runId, 'killed']])
    expect((await waitForRunEnd(t.client, runId)).run.state).toBe('killed')

    const entries = (await t.client.audit({ since })).filter((e) => e.action === 'suspend' || e.action === 'resume')
    expect(entries.map((e) => `${e.actor} ${e.action} ${e.target} ${e.result}`)).toEqual([
      'vera suspend workflow/public/holder denied',
      'admin suspend workflow/public/holder ok',
      'otto suspend workflow/public/holder ok',
      'vera resume workflow/public/holder denied',
      'admin resume workflow/public/holder ok',
      'admin resume workflow/public/holder ok',
      'admin suspend workflow/public/holder ok',
    ])
  })

  it('answers 409 for a run that has ended, and nothing to do without a run id', async () => {
    await t.client.apply('public', [doc(workflow('quick', { hi: 'echo hi' }))])
    const runId = await firstRun('quick')
    expect((await waitForRunEnd(t.client, runId)).run.state).toBe('succeeded')
    const suspend = await rejection(t.client.suspend(ref('quick'), runId))
    expect([suspend.code, suspend.message]).toEqual(['E_CONFLICT', `run ${runId} is succeeded: only a pending or running run can be suspended`])
    const resume = await rejection(t.client.resume(ref('quick'), runId))
    expect([resume.code, resume.message]).toEqual(['E_CONFLICT', `run ${runId} is succeeded: only a suspended run can be resumed`])
    expect(await t.client.suspend(ref('quick'))).toEqual([])
    expect((await rejection(t.client.suspend(ref('quick'), 'r-nope'))).code).toBe('E_NOT_FOUND')
  })
})
