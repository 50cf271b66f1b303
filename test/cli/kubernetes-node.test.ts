// `ctl resource runtime get` on the Kubernetes runtime, through the built CLI against a control plane whose
// steps run on the fake cluster: an unschedulable Pod shows as `pending` with the scheduler's message, and
// `--node STEP` shows the Pod's conditions, container states and events, as dataos-ctl's node view does.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { startControlPlane, type ControlPlane } from '../../src/controlplane/control-plane.js'
import { defaultBehaviour, startFakeKube, type FakeKube } from '../support/fake-kube/index.js'
import { doc, waitFor, waitForRunEnd, workflow } from '../server/helpers.js'
import { runCli, type CliResult } from './helpers.js'

describe('runtime get on the Kubernetes runtime', () => {
  let fake: FakeKube
  let plane: ControlPlane
  let client: CtlClient
  let dataDir: string
  const home = mkdtempSync(join(tmpdir(), 'ctl-cli-k8s-'))
  let env: NodeJS.ProcessEnv
  const ctl = (args: string[]): Promise<CliResult> => runCli(['resource', ...args], { env })

  beforeAll(async () => {
    fake = await startFakeKube()
    fake.kubelet.behaviour = (pod) => {
      const wf = pod.metadata?.labels?.['ctl.dev/workflow']
      if (wf === 'too-big') return { failure: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient memory.' }
      if (wf === 'greedy') return { lines: ['allocating'], failure: 'OOMKilled' }
      return defaultBehaviour(pod)
    }
    dataDir = mkdtempSync(join(tmpdir(), 'ctl-k8s-node-'))
    plane = await startControlPlane({
      dataDir, port: 0, runtime: 'kubernetes', advertiseUrl: 'http://ctl-control-plane.ctl-system.svc:7419',
      kubernetes: { kubeconfigPath: fake.kubeconfigPath, manageNamespaces: true },
    })
    client = new CtlClient({ baseUrl: plane.url, apiKey: plane.adminToken! })
    env = { CTL_HOME: home, CTL_APIKEY: plane.adminToken! }
    const added = await runCli(['context', 'add', 'cluster', '--server', plane.url, '--select'], { env })
    expect(added.code).toBe(0)
  }, 30_000)

  afterAll(async () => {
    await plane?.close()
    await fake?.close()
    rmSync(dataDir, { recursive: true, force: true })
    rmSync(home, { recursive: true, force: true })
  })

  it('shows an unschedulable step as pending with the scheduler\'s message, and its Pod with --node', async () => {
    await client.apply('public', [doc(workflow('too-big', { main: 'echo never' }))])
    const runs = await waitFor('a run', () => client.runs({ workspace: 'public', type: 'workflow', name: 'too-big' }), (r) => r.length > 0)
    await waitFor('the scheduler to give up', () => client.run(runs[0]!.id), (d) => Object.values(d.live ?? {}).some((l) => (l.message ?? '').includes('Insufficient memory')))

    // Steps are told how to reach the control plane (--advertise-url), for a ctl inside them.
    const waiting = fake.list('pods', 'ctl-public').find((p) => p.metadata?.labels?.['ctl.dev/workflow'] === 'too-big')
    const env = (waiting?.spec as { containers: { env?: { name: string; value?: string }[] }[] }).containers[0]!.env ?? []
    expect(env).toContainEqual({ name: 'CTL_SERVER', value: 'http://ctl-control-plane.ctl-system.svc:7419' })

    const get = await ctl(['runtime', 'get', '-t', 'workflow', '-n', 'too-big'])
    expect(get.code, get.stderr).toBe(0)
    const row = get.stdout.split('\n').find((l) => l.includes('main-1'))
    expect(row).toMatch(/\bpending\b/)
    expect(row).toContain('Unschedulable: 0/3 nodes are available: 3 Insufficient memory.')
    expect(get.stdout).toContain('runtime: kubernetes (Pods on http://127.0.0.1:')

    const node = await ctl(['runtime', 'get', '-t', 'workflow', '-n', 'too-big', '--node', 'main'])
    expect(node.code, node.stderr).toBe(0)
    expect(node.stdout).toMatch(/main-1\s.*pending/)
    expect(node.stdout).toMatch(/pod ctl-public\/\S+: Pending \(Unschedulable: 0\/3 nodes are available/)
    expect(node.stdout).toMatch(/CONDITION\s.*STATUS/)
    expect(node.stdout).toMatch(/PodScheduled\s.*False\s.*Unschedulable/)
    expect(node.stdout).toMatch(/main\s.*Waiting/)
    expect(node.stdout).toMatch(/Warning\s.*FailedScheduling\s.*default-scheduler\s.*Insufficient memory/)

    await client.stop({ workspace: 'public', type: 'workflow', name: 'too-big' })
    const end = await waitForRunEnd(client, runs[0]!.id)
    expect(end.run.state).toBe('killed')
  }, 30_000)

  it('shows a finished step\'s events and says its Pod was deleted', async () => {
    await client.apply('public', [doc(workflow('fine', { main: 'echo ok' }))])
    const runs = await waitFor('a run', () => client.runs({ workspace: 'public', type: 'workflow', name: 'fine' }), (r) => r.length > 0)
    const end = await waitForRunEnd(client, runs[0]!.id)
    expect(end.run.state).toBe('succeeded')
    const node = await ctl(['runtime', 'get', '-t', 'workflow', '-n', 'fine', '--node', 'main-1'])
    expect(node.code, node.stderr).toBe(0)
    expect(node.stdout).toMatch(/main-1\s.*succeeded/)
    expect(node.stdout).toContain(': Gone (the Pod was deleted')
    expect(node.stdout).toMatch(/Normal\s.*Scheduled\s.*default-scheduler/)
    expect(node.stdout).toMatch(/Normal\s.*Started\s.*kubelet/)

    await client.apply('public', [doc(workflow('greedy', { main: 'echo allocating' }))])
    const greedy = await waitFor('a run', () => client.runs({ workspace: 'public', type: 'workflow', name: 'greedy' }), (r) => r.length > 0)
    expect((await waitForRunEnd(client, greedy[0]!.id)).run.state).toBe('failed')
    const oom = await ctl(['runtime', 'get', '-t', 'workflow', '-n', 'greedy', '--node', 'main'])
    expect(oom.code, oom.stderr).toBe(0)
    // Why the attempt ended stays readable after its Pod is gone.
    expect(oom.stdout).toMatch(/main-1\s.*failed\s.*137\s.*Error\s.*OOMKilled: the container ran out of memory/)

    const missing = await ctl(['runtime', 'get', '-t', 'workflow', '-n', 'fine', '--node', 'nope'])
    expect(missing.code).not.toBe(0)
    expect(missing.stderr).toContain('has no node "nope"')
  }, 30_000)
})
