// Opt-in (`npm run test:k8s` with KUBECONFIG set): the runtime's fault scenarios of test/runtime/kubernetes.test.ts on a
// REAL cluster, where the kubelet, the scheduler and the image registry are real. What a real cluster cannot be made
// to do on demand (evict, drop a watch, answer 429) is covered on the fake only.
import { KubeConfig, type V1Pod } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createKubernetesRuntime } from '../../src/runtime/kubernetes/index.js'
import type { LogBatch, Runtime, RuntimeHandle, StepExit, StepLaunch } from '../../src/runtime/types.js'

const enabled = process.env.CTL_TEST_K8S === '1' && Boolean(process.env.KUBECONFIG)
const IMAGE = process.env.CTL_TEST_K8S_IMAGE ?? 'docker.io/library/busybox:1.36'
const prefix = `ctl-ft-${Date.now().toString(36)}-`
const workspace = 'faults'
let n = 0

function launch(script: string, more: { image?: string; resources?: Record<string, unknown>; timeoutSeconds?: number } = {}): StepLaunch {
  const i = ++n
  const run = `r${i}`
  const pod: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `faults-main-${run}-1`,
      namespace: workspace,
      labels: { 'ctl.dev/workspace': workspace, 'ctl.dev/workflow': 'faults', 'ctl.dev/run': run, 'ctl.dev/step': 'main', 'ctl.dev/attempt': '1' },
      annotations: { 'ctl.dev/workspace': workspace },
    },
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image: more.image ?? IMAGE, command: ['sh', '-c', script], ...(more.resources ? { resources: more.resources } : {}) }],
    },
  }
  return { key: { runId: run, step: 'main', attempt: 1 }, pod, secretData: {}, configData: {}, volumeDirs: {}, ...(more.timeoutSeconds ? { timeoutSeconds: more.timeoutSeconds } : {}) }
}

describe.skipIf(!enabled)('Kubernetes runtime faults on a real cluster (KUBECONFIG)', () => {
  let kc: KubeConfig
  let rt: Runtime
  const handles: RuntimeHandle[] = []

  beforeAll(() => {
    kc = new KubeConfig()
    kc.loadFromDefault()
    rt = createKubernetesRuntime({ kubeConfig: kc, namespacePrefix: prefix, manageNamespaces: true, imagePullGraceSeconds: 20 })
  })

  afterAll(async () => {
    for (const h of handles) await rt.cleanup(h).catch(() => undefined)
    await rt.close?.()
    const { CoreV1Api } = await import('@kubernetes/client-node')
    await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: `${prefix}${workspace}` }).catch(() => undefined)
  })

  async function run(l: StepLaunch, during?: (h: RuntimeHandle) => Promise<void>): Promise<{ exit: StepExit; texts: string[]; handle: RuntimeHandle }> {
    const handle = await rt.start(l)
    handles.push(handle)
    const batches: LogBatch[] = []
    const following = rt.follow(handle, 0, async (b) => {
      batches.push(b)
    })
    if (during) await during(handle)
    const exit = await following
    return { exit, texts: batches.flatMap((b) => b.lines.map((x) => x.text)), handle }
  }

  it('runs a Pod and streams its log exactly once', async () => {
    const r = await run(launch('for i in 1 2 3 4 5; do echo line-$i; sleep 0.2; done'))
    expect(r.exit).toMatchObject({ exitCode: 0, reason: 'Completed' })
    expect(r.texts).toEqual(['line-1', 'line-2', 'line-3', 'line-4', 'line-5'])
  }, 180_000)

  it('fails an image that cannot be pulled, naming it', async () => {
    const image = 'registry.invalid/ctl/missing:0.0.0'
    const r = await run(launch('true', { image }))
    expect(r.exit).toMatchObject({ reason: 'StartError', message: expect.stringContaining(image) })
  }, 180_000)

  it('keeps an unschedulable Pod Pending with the scheduler\'s message, until killed', async () => {
    const r = await run(launch('true', { resources: { requests: { cpu: '4000' } } }), async (h) => {
      for (let i = 0; i < 120; i++) {
        const seen = await rt.peek!(h)
        if (seen?.message?.includes('Unschedulable')) break
        await new Promise((res) => setTimeout(res, 500))
      }
      const d = await rt.describe!(h)
      expect(d.phase).toBe('Pending')
      expect(d.conditions).toContainEqual(expect.objectContaining({ type: 'PodScheduled', status: 'False' }))
      expect(d.events.some((e) => e.reason === 'FailedScheduling')).toBe(true)
      await rt.kill(h, 'no room')
    })
    expect(r.exit).toMatchObject({ reason: 'Killed', message: 'no room' })
  }, 180_000)

  it('names OOMKilled', async () => {
    // `tail /dev/zero` buffers an endless line: the memory limit ends it.
    const r = await run(launch('echo allocating; tail /dev/zero', { resources: { limits: { memory: '16Mi' }, requests: { memory: '16Mi' } } }))
    expect(r.exit).toMatchObject({ exitCode: 137, message: expect.stringContaining('OOMKilled') })
    expect(r.texts).toContain('allocating')
  }, 180_000)

  it('maps the active deadline to DeadlineExceeded', async () => {
    const r = await run(launch('echo slow; sleep 120', { timeoutSeconds: 5 }))
    expect(r.exit).toMatchObject({ reason: 'DeadlineExceeded' })
  }, 180_000)

  it('resumes from an offset after a restart (a new runtime instance) without duplicates', async () => {
    const l = launch('for i in 1 2 3 4 5 6; do echo x$i; sleep 0.5; done')
    const h = await rt.start(l)
    handles.push(h)
    const fresh = createKubernetesRuntime({ kubeConfig: kc, namespacePrefix: prefix })
    const seen: string[] = []
    let offset = 0
    // First follower stops after two lines (as a control plane that dies); the second resumes from its offset.
    const ctl = new AbortController()
    await rt.follow(h, 0, async (b) => {
      for (const x of b.lines) if (seen.length < 2) seen.push(x.text)
      offset = Math.min(b.offset, 2)
      if (seen.length >= 2) ctl.abort(new Error('stop'))
    }, ctl.signal).catch(() => undefined)
    const exit = await fresh.follow(h, offset, async (b) => {
      seen.push(...b.lines.map((x) => x.text))
    })
    await fresh.close?.()
    expect(exit).toMatchObject({ exitCode: 0, reason: 'Completed' })
    expect(seen).toEqual(['x1', 'x2', 'x3', 'x4', 'x5', 'x6'])
  }, 180_000)
})
