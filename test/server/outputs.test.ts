// Step outputs end to end through the control plane: a step appends to $CTL_OUTPUTS, the attempt stores them
// (redacted) with its final state, the run detail and the node show them, to exactly those who may read its logs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import type { Role } from '../../src/api/types.js'
import { doc, startTestServer, userClient, waitForRunEnd, workflow, type TestServer } from './helpers.js'

const ref = { workspace: 'public', type: 'workflow', name: 'outs' }

describe('step outputs through the API', () => {
  let s: TestServer
  let runId: string
  beforeAll(async () => {
    s = await startTestServer()
    await s.client.apply('public', [
      doc(
        workflow('outs', {
          build: `echo "artifact=app-1.2.3.tar" >> "$CTL_OUTPUTS"\nprintf 'notes<<EOF\\nfirst\\nsecond\\nEOF\\n' >> "$CTL_OUTPUTS"\necho built`,
          broken: 'echo "not an output" >> "$CTL_OUTPUTS"',
        }),
      ),
    ])
    const [run] = await s.client.runs(ref)
    runId = run!.id
    expect((await waitForRunEnd(s.client, runId)).run.state).toBe('failed')
  }, 60_000)
  afterAll(async () => {
    await s?.stop()
  })

  it('stores them with the attempt and shows them in the run detail and the node', async () => {
    const detail = await s.client.run(runId)
    const build = detail.steps.find((x) => x.step === 'build')!
    expect(build).toMatchObject({ state: 'succeeded', outputs: { artifact: 'app-1.2.3.tar', notes: 'first\nsecond' } })
    const broken = detail.steps.find((x) => x.step === 'broken')!
    expect(broken).toMatchObject({ state: 'failed', reason: 'Error', message: 'outputs: line 1: "not an output" is not KEY=VALUE or KEY<<DELIMITER' })
    expect(broken.outputs).toBeUndefined()
    const node = await s.client.node(runId, 'build')
    expect(node.attempts.at(-1)?.outputs).toEqual({ artifact: 'app-1.2.3.tar', notes: 'first\nsecond' })
  })

  it('are shown only to those who may read the run\'s logs', async () => {
    const addUser = async (id: string, role?: Role): Promise<CtlClient> => (await userClient(s, id, role)).client
    const dev = await addUser('u-out-dev', 'data-dev')
    const viewer = await addUser('u-out-viewer', 'viewer')
    const reader = await addUser('u-out-reader')
    await s.client.grant(ref, { to: 'user:u-out-reader', permission: 'read' })
    const seen = async (c: CtlClient) => {
      const run = (await c.run(runId)).steps.find((x) => x.step === 'build')
      const node = (await c.node(runId, 'build')).attempts.at(-1)
      return { run: run?.outputs, node: node?.outputs, state: run?.state }
    }
    expect(await seen(dev)).toEqual({ run: { artifact: 'app-1.2.3.tar', notes: 'first\nsecond' }, node: { artifact: 'app-1.2.3.tar', notes: 'first\nsecond' }, state: 'succeeded' })
    // A read grantee may read the logs, so the outputs too, but not where the step ran on the host.
    expect(await seen(reader)).toMatchObject({ run: { artifact: 'app-1.2.3.tar' }, node: { artifact: 'app-1.2.3.tar' } })
    const step = (await reader.run(runId)).steps.find((x) => x.step === 'build')!
    expect((step.runtimeHandle as { data: Record<string, unknown> }).data).not.toHaveProperty('attemptDir')
    // A viewer sees the run (runtime-get) but not its logs, nor its outputs.
    expect(await seen(viewer)).toEqual({ run: undefined, node: undefined, state: 'succeeded' })
  })
})
