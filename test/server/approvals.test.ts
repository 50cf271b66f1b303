// POST .../runs/approve and .../runs/reject through a real control plane and the real client: deciding
// needs `approve` (a viewer is refused), `approvers:` narrows who may decide (others get 403 naming the
// approvers), without approvers whoever may run decides (an approve-only grantee may not); each decision
// is audited with its comment; `runtime get` (the run's detail) shows what waits, for whom, with the message.
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

const userWith = async (id: string, role?: Role): Promise<CtlClient> => (await userClient(t, id, role)).client

/** build → deploy (approval) → after. */
function gated(name: string, approval: Record<string, unknown>): Record<string, unknown> {
  const wf = workflow(name, { build: 'echo build', deploy: 'echo deploy', after: 'echo after' }, {
    params: [{ name: 'version', type: 'string', default: '2.0.1' }],
  })
  const dag = (wf.spec as { dag: Record<string, unknown>[] }).dag
  dag[1]!.depends = ['build']
  dag[1]!.approval = approval
  dag[2]!.depends = ['deploy']
  return wf
}

async function waiting(name: string): Promise<string> {
  const runs = await waitFor(`a run of ${name}`, () => t.client.runs(ref(name)), (r) => r.length > 0)
  const runId = runs[0]!.id
  await waitFor('deploy to wait', () => t.client.run(runId), (d) => d.steps.some((s) => s.step === 'deploy' && s.state === 'waiting'))
  return runId
}

describe('approval routes', () => {
  it('approvers narrow who decides; the run detail says what waits for whom; approve is audited with its comment', async () => {
    const since = new Date().toISOString()
    const viewer = await userWith('val', 'viewer')
    const operator = await userWith('oscar', 'operator')
    const alice = await userWith('alice', 'operator')
    await t.client.apply('public', [doc(gated('narrow', { approvers: ['users:id:alice'], message: 'Deploy {{.params.version}}?', timeout: '1h' }))])
    const runId = await waiting('narrow')

    const detail = await t.client.run(runId)
    expect(detail.run.state).toBe('running')
    const step = detail.steps.find((s) => s.step === 'deploy')!
    expect(step.approval).toMatchObject({ approvers: ['users:id:alice'], message: 'Deploy 2.0.1?' })
    expect(step.approval?.deadline).toBeDefined()
    expect(detail.progress).toContain('1 waiting')

    expect((await rejection(viewer.decide(ref('narrow'), 'approve', { step: 'deploy' }))).code).toBe('E_FORBIDDEN')
    const notListed = await rejection(operator.decide(ref('narrow'), 'approve', { step: 'deploy' }))
    expect(notListed.code).toBe('E_FORBIDDEN')
    expect(notListed.message).toContain('not among the approvers of this step (users:id:alice)')
    // Bounded input: a comment over 1,024 characters is refused before anything happens.
    expect((await rejection(alice.decide(ref('narrow'), 'approve', { step: 'deploy', comment: 'x'.repeat(1025) }))).code).toBe('E_USAGE')

    const decided = await alice.decide(ref('narrow'), 'approve', { step: 'deploy', comment: 'ship it' })
    expect(decided).toMatchObject({ step: 'deploy', approval: { decision: 'approved', by: 'alice', comment: 'ship it' } })
    expect((await waitForRunEnd(t.client, runId)).run.state).toBe('succeeded')
    // Nothing waits any more.
    expect((await rejection(alice.decide(ref('narrow'), 'reject', { step: 'deploy' }))).code).toBe('E_NOT_FOUND')
    expect((await rejection(alice.decide(ref('narrow'), 'reject', { step: 'deploy', runId }))).code).toBe('E_CONFLICT')

    const entries = (await t.client.audit({ since })).filter((e) => e.action === 'approve' || e.action === 'reject')
    expect(entries.map((e) => `${e.actor} ${e.action} ${e.target} ${e.result}`)).toEqual([
      'val approve workflow/public/narrow denied',
      'oscar approve workflow/public/narrow denied',
      'alice approve workflow/public/narrow error',
      'alice approve workflow/public/narrow ok',
      'alice reject workflow/public/narrow error',
      'alice reject workflow/public/narrow error',
    ])
    expect(entries[3]!.detail).toMatchObject({ step: 'deploy', runId, comment: 'ship it' })
  })

  it('without approvers whoever may run decides: an approve-only grantee may not; reject fails the step and skips its dependents', async () => {
    const since = new Date().toISOString()
    const onlyApprove = await userWith('gina')
    const runner = await userWith('rita')
    await t.client.apply('public', [doc(gated('open', {}))])
    await t.client.grant(ref('open'), { to: 'user:gina', permission: 'approve' })
    await t.client.grant(ref('open'), { to: 'user:rita', permission: 'run' })
    const runId = await waiting('open')

    const refused = await rejection(onlyApprove.decide(ref('open'), 'approve', { step: 'deploy' }))
    expect(refused.code).toBe('E_FORBIDDEN')
    expect(refused.message).toContain('names no approvers, so deciding needs run')
    const rejected = await runner.decide(ref('open'), 'reject', { step: 'deploy', runId, comment: 'not today' })
    expect(rejected).toMatchObject({ state: 'failed', reason: 'Rejected', message: 'Rejected by rita: not today' })
    const end = await waitForRunEnd(t.client, runId)
    expect(end.run.state).toBe('failed')
    expect(end.steps.map((s) => [s.step, s.state])).toEqual([['after', 'skipped'], ['build', 'succeeded'], ['deploy', 'failed']])
    const entry = (await t.client.audit({ since })).find((e) => e.action === 'reject' && e.result === 'ok')
    expect(entry).toMatchObject({ actor: 'rita', target: 'workflow/public/open', detail: { step: 'deploy', runId, comment: 'not today' } })
  })

  it('auth can-i approve answers per the role table', async () => {
    const viewer = await userWith('vic', 'viewer')
    const operator = await userWith('opal', 'operator')
    await t.client.apply('public', [doc(workflow('asked', { main: 'echo hi' }))])
    expect((await operator.canI({ verb: 'approve', type: 'workflow', name: 'asked', workspace: 'public' })).allowed).toBe(true)
    expect((await viewer.canI({ verb: 'approve', type: 'workflow', name: 'asked', workspace: 'public' })).allowed).toBe(false)
  })
})

describe('approval across a control-plane restart', () => {
  it('the step still waits on the new control plane; approved there, it runs once and the run succeeds', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const { startControlPlane } = await import('../../src/controlplane/control-plane.js')
    const dataDir = mkdtempSync(join(tmpdir(), 'ctl-approval-restart-'))
    const first = await startControlPlane({ dataDir, port: 0 })
    const token = first.adminToken!
    let c = new CtlClient({ baseUrl: first.url, apiKey: token })
    await c.apply('public', [doc(gated('again', { message: 'v{{.params.version}}?', timeout: '1h' }))])
    const runs = await waitFor('a run', () => c.runs(ref('again')), (r) => r.length > 0)
    const runId = runs[0]!.id
    const before = await waitFor('deploy to wait', () => c.run(runId), (d) => d.steps.some((s) => s.step === 'deploy' && s.state === 'waiting'))
    await first.close()

    const second = await startControlPlane({ dataDir, port: 0 })
    try {
      c = new CtlClient({ baseUrl: second.url, apiKey: token })
      const after = await c.run(runId)
      const deploy = after.steps.find((s) => s.step === 'deploy')!
      expect(deploy.state).toBe('waiting')
      expect(deploy.approval).toEqual(before.steps.find((s) => s.step === 'deploy')!.approval)
      await c.decide(ref('again'), 'approve', { step: 'deploy' })
      const end = await waitForRunEnd(c, runId)
      expect(end.run.state).toBe('succeeded')
      expect(end.steps.filter((s) => s.step === 'deploy').map((s) => [s.attempt, s.state])).toEqual([[1, 'succeeded']])
    } finally {
      await second.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
