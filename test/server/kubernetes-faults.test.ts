// Issue acceptance: "Fault tests pass: image pull failure, unschedulable Pod, eviction then retry, OOMKilled, the
// watch connection dropped mid-run, the API server answering 429 and 500 for a while (backoff, then success), the
// control plane restarted mid-run." Here through a real control plane (engine, SQLite store, HTTP API, driven by
// the real client) on the wire-level fake Kubernetes API server, so the engine's retry policy and its restart
// path take part; test/runtime/kubernetes.test.ts covers the runtime alone.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import type { ResourceRef } from '../../src/api/types.js'
import { ADMIN_KEY_FILE, readServerInfo, stopServer } from '../../src/controlplane/process.js'
import { isPidAlive } from '../../src/liveness.js'
import type { ControlPlane } from '../../src/controlplane/control-plane.js'
import { openTestStore } from '../support/store.js'
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.js'
import { doc, waitFor, waitForRunEnd } from './helpers.js'
import { KubeletScripts, NAMESPACE, phaseOf, podCreates, spawnKubePlane, startKubePlane, terminateWhenHeld, waitForPod } from './kube-plane.js'

interface StepShape {
  name: string
  depends?: string[]
  retry?: { count: number; strategy: 'Always' | 'OnFailure' | 'OnError' | 'OnTransientError' }
  image?: string
  resources?: { limits?: Record<string, string> }
}

/** A v2alpha workflow of `script` steps; what each Pod does is scripted on the fake's kubelet, not by the script. */
function workflow(name: string, steps: StepShape[]): Record<string, unknown> {
  return {
    name, version: 'v2alpha', type: 'workflow',
    spec: {
      dag: steps.map((s) => ({
        name: s.name,
        ...(s.depends ? { depends: s.depends } : {}),
        ...(s.retry ? { retry: s.retry } : {}),
        spec: {
          stack: 'script',
          stackSpec: { interpreter: 'sh', script: 'echo played by the fake kubelet', ...(s.image ? { image: s.image } : {}) },
          ...(s.resources ? { resources: s.resources } : {}),
        },
      })),
    },
  }
}

/** A client of the control plane already running on `dataDir` (its admin key is in the data dir). */
function spawnKubePlaneClient(dataDir: string, url: string): CtlClient {
  return new CtlClient({ baseUrl: url, apiKey: readFileSync(join(dataDir, ADMIN_KEY_FILE), 'utf8').trim() })
}

const ref = (name: string): ResourceRef => ({ workspace: 'public', type: 'workflow', name })

/** Applies the workflow and returns the id of the run the apply started. */
async function applyAndRun(client: CtlClient, manifest: Record<string, unknown>): Promise<string> {
  const name = manifest.name as string
  const applied = await client.apply('public', [doc(manifest, `${name}.yaml`)])
  expect(applied.results.map((r) => r.outcome)).toEqual(['created'])
  const [run] = await waitFor(`a run of ${name}`, () => client.runs(ref(name)), (runs) => runs.length === 1)
  return run!.id
}

/** The stored log of a step (attempt), as the API serves it. */
async function logTexts(client: CtlClient, runId: string, step: string, attempt?: number): Promise<string[]> {
  const lines = await client.logPage(runId, attempt === undefined ? { step } : { step, attempt })
  return lines.map((l) => l.text)
}

function waitForLog(client: CtlClient, runId: string, step: string, text: string): Promise<string[]> {
  return waitFor(`"${text}" in the stored log of ${step}`, () => logTexts(client, runId, step), (texts) => texts.includes(text))
}

describe('Kubernetes faults through a control plane in this process', () => {
  let fake: FakeKube
  let kubelet: KubeletScripts
  let plane: ControlPlane
  let client: CtlClient
  let dataDir: string

  beforeAll(async () => {
    fake = await startFakeKube()
    kubelet = new KubeletScripts(fake)
    dataDir = mkdtempSync(join(tmpdir(), 'ctl-k8s-faults-'))
    ;({ plane, client } = await startKubePlane(fake, dataDir))
  }, 30_000)

  afterAll(async () => {
    await plane?.close()
    // Every object ctl created (namespace, config maps, secrets, Pods) passed the fake's OpenAPI validation.
    expect(fake?.validationFailures).toEqual([])
    await fake?.close()
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  })

  it('fails the run on an image that cannot be pulled, naming the image, and deletes the Pod', async () => {
    const image = 'registry.invalid/ctl/missing:9.9'
    kubelet.script('pull-fails', () => ({ failure: 'ErrImagePull' }))
    const runId = await applyAndRun(client, workflow('pull-fails', [{ name: 'main', image }]))

    const done = await waitForRunEnd(client, runId)
    expect(done.run.state).toBe('failed')
    expect(done.steps).toHaveLength(1)
    expect(done.steps[0]).toMatchObject({ step: 'main', attempt: 1, state: 'failed', reason: 'StartError' })
    expect(done.steps[0]!.message).toContain(`image ${image} could not be pulled`)
    expect(done.steps[0]!.message).toMatch(/ErrImagePull|ImagePullBackOff/)
    // The container never ran: nothing of its own in the log.
    expect((await client.logPage(runId)).filter((l) => l.stream !== 'system')).toEqual([])

    const pods = kubelet.podsOf('pull-fails')
    expect(pods.map((p) => p.image)).toEqual([image])
    await waitFor('the pod to be deleted', async () => fake.get('pods', NAMESPACE, pods[0]!.name), (p) => p === undefined)
  })

  it('keeps an unschedulable Pod pending (run and step running) until the run is stopped', async () => {
    kubelet.script('no-room', () => ({ failure: 'Unschedulable' }))
    const runId = await applyAndRun(client, workflow('no-room', [{ name: 'main', resources: { limits: { cpu: '64' } } }]))
    const pod = await waitForPod(fake, { workflow: 'no-room', step: 'main', attempt: 1 }, (p) => JSON.stringify(p.status ?? {}).includes('Unschedulable'), 'to be unschedulable')
    expect(phaseOf(pod)).not.toBe('Running')

    const pending = await waitFor('the runtime to report the scheduler', () => client.run(runId), (d) => Object.keys(d.live ?? {}).length > 0)
    expect(pending.run.state).toBe('running')
    expect(pending.steps.map((s) => [s.step, s.state])).toEqual([['main', 'running']])
    // Started as far as the engine goes, but the runtime reports the Pod Pending, with the scheduler's message.
    expect(pending.live?.[pending.steps[0]!.id]).toEqual({ phase: 'Pending', message: expect.stringMatching(/^Unschedulable: 0\/3 nodes are available/) })

    await client.stop(ref('no-room'), runId)
    const done = await waitForRunEnd(client, runId)
    expect(done.run.state).toBe('killed')
    expect(done.steps).toHaveLength(1)
    expect(done.steps[0]).toMatchObject({ state: 'cancelled', reason: 'Killed' })
    await waitFor('the pod to be deleted', async () => fake.get('pods', NAMESPACE, pod.metadata!.name!), (p) => p === undefined)
    expect(kubelet.podsOf('no-room')).toHaveLength(1)
  })

  it('fails the run of an OOMKilled step with the OOMKilled message and keeps its log', async () => {
    kubelet.script('oom', () => ({ lines: ['allocating'], failure: 'OOMKilled' }))
    const runId = await applyAndRun(client, workflow('oom', [{ name: 'main', resources: { limits: { memory: '64Mi' } } }]))

    const done = await waitForRunEnd(client, runId)
    expect(done.run.state).toBe('failed')
    expect(done.steps).toHaveLength(1)
    expect(done.steps[0]).toMatchObject({
      state: 'failed', exitCode: 137, reason: 'Error', message: 'OOMKilled: the container ran out of memory (limit 64Mi)',
    })
    expect(await logTexts(client, runId, 'main')).toEqual(['allocating'])
    expect(kubelet.podsOf('oom')).toHaveLength(1)
  })

  it('retries an evicted step (Lost, strategy OnError) in a new Pod; the run succeeds', async () => {
    kubelet.script('evicted', (k) => (k.attempt === 1 ? { lines: ['first try'], hold: true } : { lines: ['second try'], exitCode: 0 }))
    const runId = await applyAndRun(client, workflow('evicted', [{ name: 'main', retry: { count: 2, strategy: 'OnError' } }]))
    const first = await waitForPod(fake, { workflow: 'evicted', step: 'main', attempt: 1 }, (p) => phaseOf(p) === 'Running', 'to run')
    // Evicted while running, after its first line reached the store.
    await waitForLog(client, runId, 'main', 'first try')
    fake.kubelet.evict(NAMESPACE, first.metadata!.name!)

    const done = await waitForRunEnd(client, runId)
    expect(done.run.state).toBe('succeeded')
    expect(done.steps.map((s) => [s.step, s.attempt, s.state, s.reason])).toEqual([
      ['main', 1, 'failed', 'Lost'],
      ['main', 2, 'succeeded', 'Completed'],
    ])
    expect(done.steps[0]!.message).toContain('evicted')
    // Exactly two Pods, one per attempt, each under its own name.
    const pods = kubelet.podsOf('evicted')
    expect(pods.map((p) => p.key.attempt)).toEqual([1, 2])
    expect(new Set(pods.map((p) => p.name)).size).toBe(2)
    expect(await logTexts(client, runId, 'main', 1)).toEqual(['first try'])
    expect(await logTexts(client, runId, 'main', 2)).toEqual(['second try'])
  })

  it('keeps following through dropped watch and log connections: every line stored exactly once, in order', async () => {
    kubelet.script('dropped', () => ({ lines: ['a', 'b'], hold: true }))
    const runId = await applyAndRun(client, workflow('dropped', [{ name: 'main' }]))
    const pod = await waitForPod(fake, { workflow: 'dropped', step: 'main', attempt: 1 }, (p) => phaseOf(p) === 'Running', 'to run')
    const name = pod.metadata!.name!
    await waitForLog(client, runId, 'main', 'b')

    const before = fake.requests.length
    expect(fake.dropWatches() + fake.dropLogStreams()).toBeGreaterThan(0)
    fake.kubelet.writeLog(NAMESPACE, name, 'c')
    fake.dropWatches()
    fake.kubelet.writeLog(NAMESPACE, name, 'd')
    await terminateWhenHeld(fake, name)

    const done = await waitForRunEnd(client, runId)
    expect(done.run.state).toBe('succeeded')
    expect(done.steps.map((s) => [s.attempt, s.state])).toEqual([[1, 'succeeded']])
    const lines = await client.logPage(runId, { step: 'main' })
    expect(lines.map((l) => l.text)).toEqual(['a', 'b', 'c', 'd'])
    expect(lines.map((l) => l.seq)).toEqual([1, 2, 3, 4])
    // The runtime came back on both connections after the drop.
    const after = fake.requests.slice(before)
    expect(after.some((r) => r.kind === 'watch' && r.status === 200)).toBe(true)
    expect(after.some((r) => r.kind === 'log' && r.path.endsWith(`/pods/${name}/log`) && r.status === 200)).toBe(true)
    expect(kubelet.podsOf('dropped')).toHaveLength(1)
  })

  it('backs off through 429 and 500 answers, on the Pod create and mid-run, then succeeds', async () => {
    kubelet.script('throttled', () => ({ lines: ['before'], hold: true }))
    const since = fake.requests.length
    const podCreate = (method: string, path: string) => method === 'POST' && path === `/api/v1/namespaces/${NAMESPACE}/pods`
    fake.failNext(2, 429, { retryAfterSeconds: 1, match: podCreate })
    fake.failNext(2, 500, { match: podCreate })
    const runId = await applyAndRun(client, workflow('throttled', [{ name: 'main' }]))
    const pod = await waitForPod(fake, { workflow: 'throttled', step: 'main', attempt: 1 }, (p) => phaseOf(p) === 'Running', 'to run')
    const name = pod.metadata!.name!
    await waitForLog(client, runId, 'main', 'before')

    // Mid-run: the reads that follow a dropped connection (watch, log, any GET) are answered 429, then 500, for a while.
    const midRun = fake.requests.length
    fake.failNext(2, 429, { retryAfterSeconds: 0, match: (method) => method === 'GET' })
    fake.failNext(3, 500, { match: (method) => method === 'GET' })
    fake.dropWatches()
    fake.dropLogStreams()
    fake.kubelet.writeLog(NAMESPACE, name, 'after')
    await terminateWhenHeld(fake, name)

    const done = await waitForRunEnd(client, runId)
    expect(done.run.state).toBe('succeeded')
    expect(done.steps.map((s) => [s.attempt, s.state])).toEqual([[1, 'succeeded']])
    expect(await logTexts(client, runId, 'main')).toEqual(['before', 'after'])

    // One Pod: the failed creates were retried (the fake never created anything for them), then one 201.
    expect(podCreates(fake, since).map((r) => r.status)).toEqual([429, 429, 500, 500, 201])
    expect(kubelet.podsOf('throttled')).toHaveLength(1)
    const gets = fake.requests.slice(midRun).filter((r) => r.method === 'GET')
    const statuses = gets.map((r) => r.status)
    expect(statuses.filter((s) => s === 429)).toHaveLength(2)
    expect(statuses.filter((s) => s === 500)).toHaveLength(3)
    // Successes came after the last injected failure, on the watch and on the Pod's log.
    const lastFailure = Math.max(statuses.lastIndexOf(429), statuses.lastIndexOf(500))
    const later = gets.slice(lastFailure + 1)
    expect(later.some((r) => r.kind === 'log' && r.path.endsWith(`/pods/${name}/log`) && r.status === 200)).toBe(true)
    expect(later.some((r) => r.kind !== 'log' && r.path.startsWith(`/api/v1/namespaces/${NAMESPACE}/pods`) && r.status === 200)).toBe(true)
  })

  // Last in this group: it restarts the control plane.
  it('ends a step cancelled, not Lost, when its run was stopped and its Pod deleted before a restart', async () => {
    kubelet.script('stopped-then-restart', () => ({ lines: ['working'], hold: true }))
    const runId = await applyAndRun(client, workflow('stopped-then-restart', [{ name: 'main' }]))
    const pod = await waitForPod(fake, { workflow: 'stopped-then-restart', step: 'main', attempt: 1 }, (p) => phaseOf(p) === 'Running', 'to run')
    await waitForLog(client, runId, 'main', 'working')
    await plane.close() // lets go of the step without killing it
    // What a stop does, cut short by a crash before the step's end was recorded: the run marked killed, the Pod deleted.
    const store = await openTestStore(dataDir)
    await store.updateRun(runId, { state: 'killed', finishedAt: new Date().toISOString() })
    await store.close()
    const deleted = await fetch(`${fake.url}/api/v1/namespaces/${NAMESPACE}/pods/${pod.metadata!.name!}`, { method: 'DELETE', headers: { authorization: `Bearer ${fake.token}` } })
    expect(deleted.status).toBe(200)

    ;({ plane, client } = await startKubePlane(fake, dataDir))
    const step = await waitFor('the step to end', () => client.run(runId), (d) => d.steps[0]!.state !== 'running')
    expect(step.steps.map((x) => [x.state, x.reason])).toEqual([['cancelled', 'Killed']])
    expect(step.run.state).toBe('killed')
  })
})

describe('Kubernetes: control plane SIGKILLed mid-run and started again (separate process)', () => {
  let fake: FakeKube
  let kubelet: KubeletScripts
  const dataDir = mkdtempSync(join(tmpdir(), 'ctl-k8s-restart-'))

  beforeAll(async () => {
    fake = await startFakeKube()
    kubelet = new KubeletScripts(fake)
  })

  afterAll(async () => {
    await stopServer(dataDir, 5_000)
    expect(fake?.validationFailures).toEqual([])
    await fake?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('reattaches to the running Pod: one Pod per step attempt, no step twice, every line once, later steps after the restart', async () => {
    const wf = 'restarted'
    kubelet.script(wf, (k) => {
      if (k.step === 'prepare') return { lines: ['prepared'], exitCode: 0 }
      if (k.step === 'work') return { lines: ['w1', 'w2', 'w3'], hold: true }
      return { lines: ['reported'], exitCode: 0 }
    })
    const first = await spawnKubePlane(fake, dataDir)
    let client = first.client
    const runId = await applyAndRun(client, workflow(wf, [
      { name: 'prepare' },
      { name: 'work', depends: ['prepare'] },
      { name: 'report', depends: ['work'] },
    ]))
    const work = await waitForPod(fake, { workflow: wf, step: 'work', attempt: 1 }, (p) => phaseOf(p) === 'Running', 'to run')
    const workPod = work.metadata!.name!
    await waitForLog(client, runId, 'work', 'w3')

    // Killed without any chance to clean up, while the Pod runs; the Pod writes on meanwhile.
    process.kill(first.pid, 'SIGKILL')
    await waitFor('the control plane to die', async () => isPidAlive(first.pid), (alive) => !alive)
    const restartedAt = fake.requests.length
    fake.kubelet.writeLog(NAMESPACE, workPod, 'w4')
    fake.kubelet.writeLog(NAMESPACE, workPod, 'w5')
    expect(readServerInfo(dataDir)?.pid).toBe(first.pid) // stale: nobody removed it

    const second = await spawnKubePlane(fake, dataDir)
    expect(second.pid).not.toBe(first.pid)
    client = second.client
    // The new control plane follows the same Pod: what was written while nobody listened arrives.
    await waitForLog(client, runId, 'work', 'w5')
    fake.kubelet.writeLog(NAMESPACE, workPod, 'w6')
    await terminateWhenHeld(fake, workPod)

    const done = await waitFor('the run to end', () => client.run(runId), (d) => ['succeeded', 'failed', 'cancelled', 'killed'].includes(d.run.state), 30_000)
    expect(done.run.state).toBe('succeeded')
    // One attempt per step: nothing was retried or started twice.
    // (ordered by step name, then attempt)
    expect(done.steps.map((s) => [s.step, s.attempt, s.state])).toEqual([
      ['prepare', 1, 'succeeded'],
      ['report', 1, 'succeeded'],
      ['work', 1, 'succeeded'],
    ])

    // Exactly one Pod ever created per step attempt: three creates, all 201, three distinct Pods played.
    expect(podCreates(fake).map((r) => r.status)).toEqual([201, 201, 201])
    const pods = kubelet.podsOf(wf)
    expect(pods.map((p) => `${p.key.step}/${p.key.attempt}`)).toEqual(['prepare/1', 'work/1', 'report/1'])
    expect(new Set(pods.map((p) => p.name)).size).toBe(3)
    // The step after the held one was started by the second control plane: the one create after the kill is its Pod.
    expect(podCreates(fake, restartedAt)).toHaveLength(1)
    const report = done.steps.find((s) => s.step === 'report')!
    const workStep = done.steps.find((s) => s.step === 'work')!
    expect(Date.parse(report.startedAt!)).toBeGreaterThanOrEqual(Date.parse(workStep.finishedAt!))

    // Every line exactly once, in order, numbered without gaps.
    const lines = await client.logPage(runId, { step: 'work' })
    expect(lines.map((l) => l.text)).toEqual(['w1', 'w2', 'w3', 'w4', 'w5', 'w6'])
    expect(lines.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5, 6])
    expect(await logTexts(client, runId, 'prepare')).toEqual(['prepared'])
    expect(await logTexts(client, runId, 'report')).toEqual(['reported'])
  }, 60_000)

  it('stops on SIGTERM while it follows a running Pod (the watch does not hold it), leaving the Pod running', async () => {
    kubelet.script('left-running', () => ({ lines: ['still here'], hold: true }))
    const info = readServerInfo(dataDir)!
    const client = spawnKubePlaneClient(dataDir, info.url)
    const runId = await applyAndRun(client, workflow('left-running', [{ name: 'main' }]))
    const pod = await waitForPod(fake, { workflow: 'left-running', step: 'main', attempt: 1 }, (p) => phaseOf(p) === 'Running', 'to run')
    await waitForLog(client, runId, 'main', 'still here')
    expect(fake.openWatches()).toBeGreaterThan(0)
    process.kill(info.pid, 'SIGTERM')
    await waitFor('the control plane to exit', async () => isPidAlive(info.pid), (alive) => !alive, 15_000)
    expect(phaseOf(fake.get('pods', NAMESPACE, pod.metadata!.name!))).toBe('Running')
    await fake.waitForWatches(0)
  }, 60_000)
})
