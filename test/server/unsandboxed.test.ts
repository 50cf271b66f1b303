// A control plane whose machine has no bubblewrap (CTL_BWRAP names a missing binary): it says once what
// isolation its steps get, runs the tenant admin's workflows as plain processes, and refuses to run
// another user's code without a sandbox (their own workflow, or their update of the admin's) unless
// the operator allows it (allowUnsandboxed).
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { doc, startTestServer, waitFor, waitForRunEnd, workflow, type TestServer } from './helpers.js'

const ref = (name: string) => ({ workspace: 'public', type: 'workflow', name })
const saved = process.env.CTL_BWRAP

async function dataDev(t: TestServer, id: string): Promise<CtlClient> {
  await t.client.createUser({ id, name: `User ${id}`, type: 'person' })
  await t.client.addTag(id, { tag: 'roles:id:data-dev', workspace: 'public' })
  const { token } = await t.client.createApiKey(id)
  return new CtlClient({ baseUrl: t.plane.url, apiKey: token })
}

async function lastRun(t: TestServer, name: string, after?: string) {
  // Newest first.
  const runs = await waitFor(`a new run of ${name}`, () => t.client.runs(ref(name)), (r) => r.some((x) => x.id !== after))
  return waitForRunEnd(t.client, runs.find((x) => x.id !== after)!.id)
}

describe('no bubblewrap', () => {
  let strict: TestServer
  let open: TestServer
  beforeAll(async () => {
    process.env.CTL_BWRAP = join('/nonexistent', 'bwrap')
    strict = await startTestServer()
    open = await startTestServer({ allowUnsandboxed: true })
  })
  afterAll(async () => {
    if (saved === undefined) delete process.env.CTL_BWRAP
    else process.env.CTL_BWRAP = saved
    await strict?.stop()
    await open?.stop()
  })

  it('says at start what isolation steps get, and whose steps run', () => {
    expect(strict.plane.notices.filter((n) => n.startsWith('local steps run as plain processes'))).toEqual([
      expect.stringMatching(/\(bubblewrap not installed\): no isolation.*only steps of workflows owned by "admin" \(others need --allow-unsandboxed\) run$/),
    ])
    expect(open.plane.notices.some((n) => n.endsWith("every workflow's steps run"))).toBe(true)
  })

  it("runs the admin's workflow, refuses another user's and another user's update of the admin's", async () => {
    await strict.client.apply('public', [doc(workflow('admins', { hello: 'echo from admin' }))])
    const first = await lastRun(strict, 'admins')
    expect(first.run.state).toBe('succeeded')

    const dana = await dataDev(strict, 'dana')
    await dana.apply('public', [doc(workflow('danas', { hello: 'echo from dana' }))])
    const refused = await lastRun(strict, 'danas')
    expect(refused.run.state).toBe('failed')
    expect(refused.steps[0]).toMatchObject({ reason: 'StartError' })
    expect(refused.steps[0]!.message).toContain('the workflow belongs to or was applied by "dana": only "admin"\'s steps run without a sandbox')

    // Given the right to change the admin's workflow, dana's revision still runs only in a sandbox.
    await strict.client.grant(ref('admins'), { to: 'user:dana', permission: 'manage' })
    await dana.apply('public', [doc(workflow('admins', { hello: 'echo changed by dana' }))])
    const updated = await lastRun(strict, 'admins', first.run.id)
    expect(updated.run.state).toBe('failed')
    expect(updated.steps[0]!.message).toContain('applied by "dana"')
  })

  it('runs everyone\'s with allowUnsandboxed', async () => {
    const omar = await dataDev(open, 'omar')
    await omar.apply('public', [doc(workflow('omars', { hello: 'echo from omar' }))])
    expect((await lastRun(open, 'omars')).run.state).toBe('succeeded')
  })
})
