// The Kubernetes runtime against the wire-level fake API server (test/support/fake-kube): the real
// client library over HTTP, a scripted kubelet playing the Pods, and faults injected on the wire.

import { KubeConfig, type V1Pod } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createKubernetesRuntime } from '../../src/runtime/kubernetes/index.js'
import { parseLogLine, TIME_OFFSET_BASE } from '../../src/runtime/kubernetes/logs.js'
import { NamespacePodInformer } from '../../src/runtime/kubernetes/informer.js'
import type { LogBatch, Runtime, RuntimeHandle, StepExit, StepLaunch } from '../../src/runtime/types.js'
import { startFakeKube, type FakeKube, type PodBehaviour } from '../support/fake-kube/index.js'

let fake: FakeKube
let rt: Runtime
/** Per Pod name: what the scripted kubelet does with it. */
const behaviours = new Map<string, PodBehaviour>()
let n = 0

beforeAll(async () => {
  fake = await startFakeKube({
    behaviour: (pod) => behaviours.get(pod.metadata?.name ?? '') ?? { lines: [], exitCode: 0 },
  })
  const kc = new KubeConfig()
  kc.loadFromString(fake.kubeconfig)
  rt = createKubernetesRuntime({ kubeConfig: kc, manageNamespaces: true, imagePullGraceSeconds: 0.2, retryForSeconds: 20 })
})

afterAll(async () => {
  expect(fake.validationFailures).toEqual([])
  await fake.close()
})

function stepLaunch(behaviour: PodBehaviour, more: Partial<StepLaunch> = {}): StepLaunch {
  const i = ++n
  const name = `wf-main-r${i}-1`
  behaviours.set(name, { delayMs: 1, ...behaviour })
  const pod: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'public',
      labels: { 'ctl.dev/workspace': 'public', 'ctl.dev/workflow': 'wf', 'ctl.dev/run': `r${i}`, 'ctl.dev/step': 'main', 'ctl.dev/attempt': '1' },
      annotations: { 'ctl.dev/workspace': 'public' },
    },
    spec: {
      restartPolicy: 'Never',
      containers: [
        {
          name: 'main',
          image: 'busybox:1',
          command: ['sh', '-c', 'true'],
          env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: `wf-r${i}-main-projection`, key: 'TOKEN' } } }],
        },
      ],
    },
  }
  return { key: { runId: `r${i}`, step: 'main', attempt: 1 }, pod, secretData: { TOKEN: 'hunter2-secret' }, configData: {}, volumeDirs: {}, ...more }
}

interface Followed {
  handle: RuntimeHandle
  exit: StepExit
  batches: LogBatch[]
  texts: string[]
}

async function runStep(l: StepLaunch, during?: (h: RuntimeHandle, texts: () => string[]) => Promise<void>): Promise<Followed> {
  const handle = await rt.start(l)
  const batches: LogBatch[] = []
  const following = rt.follow(handle, 0, async (b) => {
    batches.push(b)
  })
  const texts = () => batches.flatMap((b) => b.lines.map((x) => x.text))
  if (during) await during(handle, texts)
  const exit = await following
  return { handle, exit, batches, texts: batches.flatMap((b) => b.lines.map((x) => x.text)) }
}

const pause = () => new Promise((res) => setTimeout(res, 5))

/** A Pod's whole log as the API server gives it, with the times it stamps on each line. */
async function podLogLines(podName: string): Promise<{ time: string; text: string }[]> {
  const res = await fetch(`${fake.url}/api/v1/namespaces/ctl-public/pods/${podName}/log?timestamps=true`, { headers: { authorization: `Bearer ${fake.token}` } })
  const body = await res.text()
  return body.split('\n').filter(Boolean).map((raw) => {
    const p = parseLogLine(raw)
    return { time: p.key, text: p.text }
  })
}

/** The kubelet holds the Pod once it wrote its lines: until then terminate() refuses. */
async function terminateWhenHeld(name: string, outcome = { exitCode: 0 }): Promise<void> {
  for (;;) {
    try {
      return fake.kubelet.terminate('ctl-public', name, outcome)
    } catch {
      await pause()
    }
  }
}

describe('kubernetes runtime on the fake API server', () => {
  it('runs a Pod: objects in the workspace namespace, its log, exit 0; cleanup deletes the Pod', async () => {
    const r = await runStep(stepLaunch({ lines: ['one', 'two', 'token is hunter2-secret'], exitCode: 0 }))
    expect(r.exit).toMatchObject({ exitCode: 0, reason: 'Completed' })
    expect(r.texts).toEqual(['one', 'two', 'token is [redacted]'])
    // The offset is the last line's time (and its count within that millisecond): a restart resumes there.
    expect(r.batches.at(-1)?.offset).toBeGreaterThanOrEqual(TIME_OFFSET_BASE)
    const d = r.handle.data as { namespace: string; podName: string }
    expect(d.namespace).toBe('ctl-public')
    const secret = fake.get('secrets', 'ctl-public', `wf-r${n}-main-projection`)
    const pod = fake.get('pods', 'ctl-public', d.podName)
    // Owned by the Pod, so the cluster's garbage collector deletes it with the Pod.
    expect(secret?.metadata?.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Pod', name: d.podName, uid: pod?.metadata?.uid }])
    await rt.cleanup(r.handle)
    expect(fake.get('pods', 'ctl-public', d.podName)).toBeUndefined()
    expect(fake.get('secrets', 'ctl-public', `wf-r${n}-main-projection`)).toBeUndefined()
  })

  it('keeps finished Pods when gcWhenComplete is off, and deletes them after the TTL when it is on', async () => {
    const kc = new KubeConfig()
    kc.loadFromString(fake.kubeconfig)
    const keep = createKubernetesRuntime({ kubeConfig: kc, gcWhenComplete: false, retryForSeconds: 20 })
    const kept = await keep.start(stepLaunch({ lines: ['kept'] }))
    await keep.follow(kept, 0, async () => {})
    await keep.cleanup(kept)
    expect(fake.get('pods', 'ctl-public', kept.id)).toBeDefined()
    await keep.close!()
    await rt.cleanup(kept)

    const ttl = createKubernetesRuntime({ kubeConfig: kc, podTtlSeconds: 0.3, retryForSeconds: 20 })
    const h = await ttl.start(stepLaunch({ lines: ['ttl'] }))
    await ttl.follow(h, 0, async () => {})
    await ttl.cleanup(h)
    expect(fake.get('pods', 'ctl-public', h.id)).toBeDefined()
    await fake.waitFor('pods', 'ctl-public', h.id, (p) => p === undefined)

    // A control plane that stops before the TTL ends: the next one's sweep deletes the Pod (a timer cannot).
    const h2 = await ttl.start(stepLaunch({ lines: ['left behind'] }))
    await ttl.follow(h2, 0, async () => {})
    await ttl.cleanup(h2)
    await ttl.close!()
    const next = createKubernetesRuntime({ kubeConfig: kc, podTtlSeconds: 0.3, sweepEverySeconds: 0.2, retryForSeconds: 20 })
    try {
      expect(fake.get('pods', 'ctl-public', h2.id)).toBeDefined()
      await fake.waitFor('pods', 'ctl-public', h2.id, (p) => p === undefined)
    } finally {
      await next.close!()
    }
  })

  it('describes a Pod: an unschedulable one is Pending with the scheduler\'s message, its condition and event', async () => {
    const l = stepLaunch({ failure: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient memory.' })
    const r = await runStep(l, async (h) => {
      await fake.waitFor('pods', 'ctl-public', h.id, (p) => JSON.stringify(p?.status ?? {}).includes('Unschedulable'))
      for (;;) {
        const seen = await rt.peek!(h)
        if (seen?.message) {
          expect(seen).toEqual({ phase: 'Pending', message: 'Unschedulable: 0/3 nodes are available: 3 Insufficient memory.' })
          break
        }
        await pause()
      }
      const d = await rt.describe!(h)
      expect(d).toMatchObject({ object: `pod ctl-public/${h.id}`, phase: 'Pending', message: expect.stringContaining('Insufficient memory') })
      expect(d.conditions).toContainEqual(expect.objectContaining({ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }))
      expect(d.containers).toEqual([expect.objectContaining({ name: 'main', image: 'busybox:1', state: 'Waiting' })])
      expect(d.events).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'FailedScheduling', message: '0/3 nodes are available: 3 Insufficient memory.', source: 'default-scheduler' }))
      await rt.kill(h, 'gave up')
    })
    expect(r.exit).toMatchObject({ reason: 'Killed' })
    const gone = await rt.describe!(r.handle)
    expect(gone.phase).toBe('Gone')
  })

  it('lets its namespace watch go when nobody follows a Pod there for a while, forgetting what it knew', async () => {
    const kc = new KubeConfig()
    kc.loadFromString(fake.kubeconfig)
    const { CoreV1Api } = await import('@kubernetes/client-node')
    const inf = new NamespacePodInformer(kc, kc.makeApiClient(CoreV1Api), 'ctl-public', { retryForMs: 5000, idleMs: 50 })
    const h = await rt.start(stepLaunch({ lines: ['idle'] }))
    const view = inf.follow(h.id, (h.data as { uid: string }).uid)
    while (!view.pod) await view.changed(100)
    expect(inf.cached(h.id)?.metadata?.uid).toBe((h.data as { uid: string }).uid)
    view.stop()
    for (let i = 0; i < 200 && inf.cached(h.id); i++) await pause()
    expect(inf.cached(h.id)).toBeUndefined()
    await rt.follow(h, 0, async () => {})
    await rt.cleanup(h)
  })

  it('follows many Pods of a namespace over one watch', async () => {
    await runStep(stepLaunch({ lines: [] })) // informer running
    const before = fake.requests.length
    const all = await Promise.all(Array.from({ length: 12 }, (_, i) => runStep(stepLaunch({ lines: [`line ${i}`] }))))
    expect(all.map((r) => r.texts)).toEqual(Array.from({ length: 12 }, (_, i) => [`line ${i}`]))
    const used = fake.requests.slice(before)
    expect(used.filter((q) => q.kind === 'watch').length).toBeLessThanOrEqual(1)
    expect(used.filter((q) => q.method === 'GET' && q.kind === 'request').length).toBe(0)
  })

  it('reports a failing exit code', async () => {
    const r = await runStep(stepLaunch({ lines: ['bad'], exitCode: 3 }))
    expect(r.exit).toMatchObject({ exitCode: 3, reason: 'Error' })
    expect(r.texts).toEqual(['bad'])
  })

  it('fails an image that cannot be pulled after the grace period, naming it, and deletes the Pod', async () => {
    const r = await runStep(stepLaunch({ failure: 'ErrImagePull' }))
    expect(r.exit).toMatchObject({ exitCode: null, reason: 'StartError', message: expect.stringContaining('busybox:1') })
    expect(fake.get('pods', 'ctl-public', r.handle.id)).toBeUndefined()
  })

  it('keeps an unschedulable Pod pending until it is killed', async () => {
    const l = stepLaunch({ failure: 'Unschedulable' })
    const r = await runStep(l, async (h) => {
      await fake.waitFor('pods', 'ctl-public', h.id, (p) => JSON.stringify(p?.status ?? {}).includes('Unschedulable'))
      await rt.kill(h, 'timed out waiting')
    })
    expect(r.exit).toMatchObject({ reason: 'Killed', message: 'timed out waiting' })
  })

  it('names OOMKilled', async () => {
    const r = await runStep(stepLaunch({ lines: ['allocating'], failure: 'OOMKilled' }))
    expect(r.exit).toMatchObject({ exitCode: 137, reason: 'Error', message: expect.stringContaining('OOMKilled') })
    expect(r.texts).toEqual(['allocating'])
  })

  it('maps eviction to Lost (transient)', async () => {
    const r = await runStep(stepLaunch({ lines: ['working'], hold: true }), async (h) => {
      await fake.waitFor('pods', 'ctl-public', h.id, (p) => (p?.status as { phase?: string } | undefined)?.phase === 'Running')
      fake.kubelet.evict('ctl-public', h.id)
    })
    expect(r.exit).toMatchObject({ reason: 'Lost', message: expect.stringContaining('evicted') })
  })

  it('survives dropped watch and log connections: one exit, every line exactly once', async () => {
    let dropAt = 0
    const r = await runStep(stepLaunch({ lines: ['a', 'b'], hold: true }), async (h, texts) => {
      // Once the first lines came through the log stream, cut both connections while the Pod runs on.
      while (!texts().includes('b')) await pause()
      dropAt = fake.requests.length
      expect(fake.dropWatches() + fake.dropLogStreams()).toBeGreaterThan(0)
      fake.kubelet.writeLog('ctl-public', h.id, 'c')
      fake.dropWatches()
      fake.kubelet.writeLog('ctl-public', h.id, 'd')
      // After the dropped watch the informer lists the namespace's Pods again (by label) before watching on;
      // the Pod ends only once it watches again, so that its end has to come through the new watch.
      const rewatched = () => {
        const after = fake.requests.slice(dropAt)
        const relist = after.findIndex((q) => q.method === 'GET' && q.kind === 'request' && q.path === '/api/v1/namespaces/ctl-public/pods' && q.query.includes('labelSelector=ctl.dev%2Frun'))
        return relist >= 0 && after.slice(relist).some((q) => q.kind === 'watch')
      }
      while (!rewatched()) await pause()
      await terminateWhenHeld(h.id)
    })
    expect(r.exit).toMatchObject({ exitCode: 0, reason: 'Completed' })
    expect(r.texts).toEqual(['a', 'b', 'c', 'd'])
  })

  it('retries through 429 and 500 answers, then succeeds', async () => {
    const before = fake.requests.length
    fake.failNext(2, 429, { retryAfterSeconds: 0 })
    fake.failNext(2, 500)
    const r = await runStep(stepLaunch({ lines: ['ok'], exitCode: 0 }))
    expect(r.exit).toMatchObject({ exitCode: 0, reason: 'Completed' })
    expect(r.texts).toEqual(['ok'])
    const answers = fake.requests.slice(before).map((q) => q.status)
    expect(answers.filter((s) => s === 429)).toHaveLength(2)
    expect(answers.filter((s) => s === 500)).toHaveLength(2)
  })

  it('adopts its own Pod when the answer to the create was lost and the retry gets 409', async () => {
    fake.failNext(1, 500, { afterApplying: true, match: (method, path) => method === 'POST' && path.endsWith('/pods') })
    const r = await runStep(stepLaunch({ lines: ['once'], exitCode: 0 }))
    expect(r.exit).toMatchObject({ exitCode: 0, reason: 'Completed' })
    expect(r.texts).toEqual(['once'])
    const creates = fake.requests.filter((q) => q.method === 'POST' && q.path.endsWith('/pods') && q.status !== 0).slice(-2)
    expect(creates.map((q) => q.status)).toEqual([500, 409])
  })

  it('maps the active deadline to DeadlineExceeded', async () => {
    const r = await runStep(stepLaunch({ lines: ['slow'], failure: 'DeadlineExceeded' }, { timeoutSeconds: 5 }))
    expect(r.exit).toMatchObject({ exitCode: null, reason: 'DeadlineExceeded' })
    expect(fake.get('pods', 'ctl-public', r.handle.id)?.spec).toMatchObject({ activeDeadlineSeconds: 5 })
  })

  it('keeps following through 500s on the watch and the log, and a 410 Gone watch', async () => {
    const r = await runStep(stepLaunch({ lines: ['p', 'q'], hold: true }), async (h, texts) => {
      while (!texts().includes('q')) await pause()
      fake.compactHistory()
      fake.failNext(3, 500, { match: (method) => method === 'GET' })
      fake.dropWatches()
      fake.dropLogStreams()
      fake.kubelet.writeLog('ctl-public', h.id, 'r')
      await terminateWhenHeld(h.id, { exitCode: 4 })
    })
    expect(r.exit).toMatchObject({ exitCode: 4, reason: 'Error' })
    expect(r.texts).toEqual(['p', 'q', 'r'])
  })

  it('uses at most 6 API requests per Pod lifecycle, log streams excluded', async () => {
    await runStep(stepLaunch({ lines: [] })) // the namespace exists from here on
    const before = fake.requests.length
    const r = await runStep(stepLaunch({ lines: ['one'], exitCode: 0 }))
    await rt.cleanup(r.handle)
    const used = fake.requests.slice(before).filter((q) => q.kind !== 'log')
    expect(used.length).toBeLessThanOrEqual(6)
  })

  it('owns the Secret by the Pod and the ConfigMap and image pull Secret by that Secret: all go with the Pod, in at most 6 requests', async () => {
    await runStep(stepLaunch({ lines: [] })) // the namespace and the watch exist from here on
    const l = stepLaunch({ lines: ['with everything'] })
    const i = n
    const spec = l.pod.spec!
    spec.volumes = [{ name: 'config', configMap: { name: `wf-r${i}-main-config` } }]
    spec.containers[0]!.volumeMounts = [{ name: 'config', mountPath: '/etc/ctl/config' }]
    spec.imagePullSecrets = [{ name: `wf-r${i}-main-pull-0` }]
    l.configData = { 'app.yaml': 'a: 1\n' }
    l.pullSecrets = { [`wf-r${i}-main-pull-0`]: JSON.stringify({ auths: { 'registry.example.com': { auth: 'dTpw' } } }) }
    const before = fake.requests.length
    const r = await runStep(l)
    expect(r.texts).toEqual(['with everything'])
    const pod = fake.get('pods', 'ctl-public', r.handle.id)!
    const secret = fake.get('secrets', 'ctl-public', `wf-r${i}-main-projection`)!
    const config = fake.get('configmaps', 'ctl-public', `wf-r${i}-main-config`)!
    const pull = fake.get('secrets', 'ctl-public', `wf-r${i}-main-pull-0`)!
    expect(pull).toMatchObject({ type: 'kubernetes.io/dockerconfigjson' })
    expect(secret.metadata?.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Pod', name: r.handle.id, uid: pod.metadata?.uid }])
    for (const o of [config, pull]) expect(o.metadata?.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Secret', name: secret.metadata?.name, uid: secret.metadata?.uid }])
    await rt.cleanup(r.handle)
    expect(fake.requests.slice(before).filter((q) => q.kind !== 'log').length).toBeLessThanOrEqual(6)
    for (const [kind, name] of [['secrets', secret], ['configmaps', config], ['secrets', pull]] as const) {
      expect(fake.get(kind, 'ctl-public', name.metadata!.name!)).toBeUndefined()
    }
  })

  it('leaves nothing behind when the Pod cannot be created: its Secret and ConfigMap are removed', async () => {
    await runStep(stepLaunch({ lines: [] })) // the namespace exists
    const kc = new KubeConfig()
    kc.loadFromString(fake.kubeconfig)
    const impatient = createKubernetesRuntime({ kubeConfig: kc, retryForSeconds: 0.3 })
    const l = stepLaunch({ lines: [] })
    const i = n
    l.pod.spec!.volumes = [{ name: 'config', configMap: { name: `wf-r${i}-main-config` } }]
    l.configData = { 'a.yaml': 'a: 1\n' }
    fake.failNext(1000, 500, { match: (method, path) => method === 'POST' && path.endsWith('/pods') })
    try {
      await expect(impatient.start(l)).rejects.toMatchObject({ code: 'E_UNAVAILABLE', message: expect.stringContaining(`creating pod ctl-public/${l.pod.metadata!.name}`) })
    } finally {
      fake.clearFailures()
      await impatient.close!()
    }
    expect(fake.get('secrets', 'ctl-public', `wf-r${i}-main-projection`)).toBeUndefined()
    expect(fake.get('configmaps', 'ctl-public', `wf-r${i}-main-config`)).toBeUndefined()
  })

  it('finds a started attempt by its labels, and refuses to start it twice', async () => {
    const l = stepLaunch({ lines: [], hold: true })
    const h = await rt.start(l)
    expect(await rt.find!(l.key)).toMatchObject({ runtime: 'kubernetes', id: h.id, data: { uid: (h.data as { uid: string }).uid } })
    await expect(rt.start(l)).rejects.toMatchObject({ code: 'E_CONFLICT' })
    expect(await rt.find!({ ...l.key, attempt: 9 })).toBeUndefined()
    // Knowing the workspace, it looks in that namespace only (a runtime bound per namespace cannot list the cluster).
    const before = fake.requests.length
    expect(await rt.find!({ ...l.key, workspace: 'public' })).toMatchObject({ id: h.id })
    expect(fake.requests.slice(before).map((q) => `${q.method} ${q.path}`)).toEqual(['GET /api/v1/namespaces/ctl-public/pods'])
    await rt.kill(h)
    await rt.cleanup(h)
  })

  it('resumes from an offset after a restart (a new runtime instance) without duplicates', async () => {
    const l = stepLaunch({ lines: ['x1', 'x2', 'x3'], exitCode: 0 })
    const h = await rt.start(l)
    await fake.waitFor('pods', 'ctl-public', h.id, (p) => (p?.status as { phase?: string } | undefined)?.phase === 'Succeeded')
    const kc = new KubeConfig()
    kc.loadFromString(fake.kubeconfig)
    const fresh = createKubernetesRuntime({ kubeConfig: kc })
    const batches: LogBatch[] = []
    const exit = await fresh.follow(h, 2, async (b) => {
      batches.push(b)
    })
    expect(exit).toMatchObject({ exitCode: 0, reason: 'Completed' })
    expect(batches.flatMap((b) => b.lines.map((x) => x.text))).toEqual(['x3'])
    expect(batches.at(-1)?.offset).toBeGreaterThanOrEqual(TIME_OFFSET_BASE)
  })

  it('after a restart, redacts the projected values and the registry credentials, read back from their Secrets', async () => {
    const l = stepLaunch({ lines: ['token hunter2-secret', 'registry pw reg-pass-123'], exitCode: 0 })
    const pullName = `${l.pod.metadata!.name}-pull-0`
    l.pod.spec!.imagePullSecrets = [{ name: pullName }]
    l.pullSecrets = { [pullName]: JSON.stringify({ auths: { 'registry.example.com': { username: 'robot', password: 'reg-pass-123' } } }) }
    const h = await rt.start(l)
    await fake.waitFor('pods', 'ctl-public', h.id, (p) => (p?.status as { phase?: string } | undefined)?.phase === 'Succeeded')
    const kc = new KubeConfig()
    kc.loadFromString(fake.kubeconfig)
    const fresh = createKubernetesRuntime({ kubeConfig: kc })
    const texts: string[] = []
    await fresh.follow(h, 0, async (b) => {
      texts.push(...b.lines.map((x) => x.text))
    })
    await fresh.close?.()
    expect(texts).toEqual(['token [redacted]', 'registry pw [redacted]'])
    await rt.cleanup(h)
  })

  it('resumes from the stored time offset after a restart, asking the API server for that second only', async () => {
    const l = stepLaunch({ lines: ['t1', 't2', 't3', 't4'], exitCode: 0 })
    const h = await rt.start(l)
    const seen: { text: string; offset: number }[] = []
    await rt.follow(h, 0, async (b) => {
      for (const x of b.lines) seen.push({ text: x.text, offset: b.offset })
    })
    expect(seen.map((x) => x.text)).toEqual(['t1', 't2', 't3', 't4'])
    // As if the control plane had stored the log up to t2 when it died: the position of t2.
    const lines = await podLogLines(h.id)
    const t2 = Date.parse(lines[1]!.time)
    const atMs = lines.slice(0, 2).filter((x) => Date.parse(x.time) === t2).length
    const kc = new KubeConfig()
    kc.loadFromString(fake.kubeconfig)
    const fresh = createKubernetesRuntime({ kubeConfig: kc })
    const before = fake.requests.length
    const resumed: string[] = []
    const exit = await fresh.follow(h, t2 * 1000 + atMs, async (b) => {
      resumed.push(...b.lines.map((x) => x.text))
    })
    await fresh.close?.()
    expect(exit).toMatchObject({ exitCode: 0, reason: 'Completed' })
    expect(resumed).toEqual(['t3', 't4'])
    const logReads = fake.requests.slice(before).filter((q) => q.kind === 'log')
    expect(logReads.length).toBeGreaterThan(0)
    expect(logReads.every((q) => q.query.includes(`sinceTime=${encodeURIComponent(new Date(Math.floor(t2 / 1000) * 1000).toISOString().replace('.000Z', 'Z'))}`))).toBe(true)
    await rt.cleanup(h)
  })
})
