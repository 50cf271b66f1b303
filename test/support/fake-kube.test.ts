// Tests of the fake Kubernetes API server itself, driven by the real @kubernetes/client-node.
import { PassThrough } from 'node:stream'
import { ApiException, CoreV1Api, KubeConfig, Log, Watch, makeInformer, type V1Pod } from '@kubernetes/client-node'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startFakeKube, type FakeKube, type KubeObject, type PodBehaviour } from './fake-kube/index.js'

let fake: FakeKube
let kc: KubeConfig
let core: CoreV1Api

async function boot(behaviour?: (pod: KubeObject) => PodBehaviour): Promise<void> {
  fake = await startFakeKube({ namespaces: ['default', 'ws'], behaviour })
  kc = new KubeConfig()
  kc.loadFromString(fake.kubeconfig)
  core = kc.makeApiClient(CoreV1Api)
}

const pod = (name: string, script = 'echo hello', labels: Record<string, string> = { app: 'ctl' }): V1Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels },
  spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36', command: ['sh', '-c', script] }] },
})

async function apiError(p: Promise<unknown>): Promise<ApiException<unknown>> {
  try {
    await p
  } catch (err) {
    if (err instanceof ApiException) return err
    throw err
  }
  throw new Error('expected an ApiException')
}

const phase = (want: string) => (o: KubeObject | undefined): boolean => (o?.status as { phase?: string } | undefined)?.phase === want

interface Seen { type: string; name: string; phase?: string; rv: string }

/** Opens a watch and collects events until `until` holds; resolves with the events. */
function collectWatch(path: string, params: Record<string, string | number | boolean | undefined>, until: (seen: Seen[]) => boolean): Promise<Seen[]> {
  const seen: Seen[] = []
  return new Promise((resolve, reject) => {
    let ctl: AbortController | undefined
    let finished = false
    const check = (): void => {
      if (!finished && until(seen)) {
        finished = true
        ctl?.abort()
        resolve(seen)
      }
    }
    new Watch(kc).watch(path, params, (type, obj: KubeObject) => {
      seen.push({ type, name: obj.metadata?.name ?? '', phase: (obj.status as { phase?: string } | undefined)?.phase, rv: obj.metadata?.resourceVersion ?? '' })
      check()
    }, (err: unknown) => {
      if (!finished) {
        finished = true
        if (until(seen)) resolve(seen)
        else reject(err instanceof Error ? err : new Error(`watch ended early: ${JSON.stringify(seen)}`))
      }
    }).then((c) => { ctl = c; if (finished) c.abort() }, reject)
  })
}

afterEach(async () => {
  await fake.close()
})

describe('fake-kube: objects', () => {
  beforeEach(() => boot())

  it('creates, gets, lists by label and deletes pods with increasing resourceVersions', async () => {
    const a = await core.createNamespacedPod({ namespace: 'ws', body: pod('a') })
    const b = await core.createNamespacedPod({ namespace: 'ws', body: pod('b', 'echo b', { app: 'other' }) })
    expect(a.metadata?.uid).toBeTruthy()
    expect(Number(b.metadata?.resourceVersion)).toBeGreaterThan(Number(a.metadata?.resourceVersion))
    expect((await core.readNamespacedPod({ namespace: 'ws', name: 'a' })).spec?.containers[0]?.image).toBe('busybox:1.36')
    const list = await core.listNamespacedPod({ namespace: 'ws', labelSelector: 'app=ctl' })
    expect(list.items.map((p) => p.metadata?.name)).toEqual(['a'])
    expect(Number(list.metadata?.resourceVersion)).toBeGreaterThanOrEqual(Number(b.metadata?.resourceVersion))
    const dup = await apiError(core.createNamespacedPod({ namespace: 'ws', body: pod('a') }))
    expect(dup.code).toBe(409)
    expect(JSON.parse(String(dup.body)).reason).toBe('AlreadyExists')
    await core.deleteNamespacedPod({ namespace: 'ws', name: 'a' })
    const missing = await apiError(core.readNamespacedPod({ namespace: 'ws', name: 'a' }))
    expect(missing.code).toBe(404)
    expect(JSON.parse(String(missing.body))).toMatchObject({ kind: 'Status', reason: 'NotFound', code: 404 })
    expect(fake.validationFailures).toEqual([])
    // The duplicate's body is valid too: validation runs before the AlreadyExists check, as in Kubernetes.
    expect(fake.validatedCount()).toBe(3)
  })

  it('serves secrets, configmaps, PVCs and namespaces; owner references cascade on delete', async () => {
    await core.createNamespace({ body: { metadata: { name: 'ws-new' } } })
    expect((await core.readNamespace({ name: 'ws-new' })).status?.phase).toBe('Active')
    const p = await core.createNamespacedPod({ namespace: 'ws-new', body: pod('owner') })
    const owner = [{ apiVersion: 'v1', kind: 'Pod', name: 'owner', uid: p.metadata!.uid! }]
    await core.createNamespacedSecret({ namespace: 'ws-new', body: { metadata: { name: 's', ownerReferences: owner }, stringData: { k: 'v' } } })
    await core.createNamespacedConfigMap({ namespace: 'ws-new', body: { metadata: { name: 'cm' }, data: { 'a.yaml': 'x: 1' } } })
    await core.createNamespacedPersistentVolumeClaim({
      namespace: 'ws-new',
      body: { metadata: { name: 'vol' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } },
    })
    expect((await core.readNamespacedConfigMap({ namespace: 'ws-new', name: 'cm' })).data).toEqual({ 'a.yaml': 'x: 1' })
    expect((await core.readNamespacedPersistentVolumeClaim({ namespace: 'ws-new', name: 'vol' })).status?.phase).toBe('Bound')
    expect((await core.listNamespacedSecret({ namespace: 'ws-new' })).items).toHaveLength(1)
    await core.deleteNamespacedPod({ namespace: 'ws-new', name: 'owner' })
    expect((await core.listNamespacedSecret({ namespace: 'ws-new' })).items).toHaveLength(0)
    const noNs = await apiError(core.createNamespacedConfigMap({ namespace: 'nope', body: { metadata: { name: 'x' } } }))
    expect(noNs.code).toBe(404)
    expect(fake.validationFailures).toEqual([])
  })

  it('rejects objects that fail OpenAPI validation with 422 Invalid and records them', async () => {
    const bad = { metadata: { name: 'bad' }, spec: { containers: [{ name: 'main', image: 42 }] } } as unknown as V1Pod
    const err = await apiError(core.createNamespacedPod({ namespace: 'ws', body: bad }))
    expect(err.code).toBe(422)
    expect(JSON.parse(String(err.body))).toMatchObject({ reason: 'Invalid', code: 422 })
    expect(fake.validationFailures).toHaveLength(1)
    expect(fake.validationFailures[0]!.messages.join()).toContain('/spec/containers/0/image')
    expect(fake.get('pods', 'ws', 'bad')).toBeUndefined()
  })

  it('injects 429 (with Retry-After) and 500 for the next n requests, then succeeds', async () => {
    fake.failNext(2, 429, { retryAfterSeconds: 3 })
    const first = await apiError(core.listNamespacedPod({ namespace: 'ws' }))
    expect(first.code).toBe(429)
    expect(first.headers['retry-after']).toBe('3')
    expect(JSON.parse(String(first.body)).reason).toBe('TooManyRequests')
    expect((await apiError(core.listNamespacedPod({ namespace: 'ws' }))).code).toBe(429)
    fake.failNext(1, 500)
    const second = await apiError(core.listNamespacedPod({ namespace: 'ws' }))
    expect(second.code).toBe(500)
    expect(JSON.parse(String(second.body)).reason).toBe('InternalError')
    expect((await core.listNamespacedPod({ namespace: 'ws' })).items).toEqual([])
    expect(fake.requests.filter((r) => r.path === '/api/v1/namespaces/ws/pods').map((r) => r.status)).toEqual([429, 429, 500, 200])
  })
})

describe('fake-kube: watches', () => {
  beforeEach(() => boot())

  it('a watch sees ADDED → MODIFIED (phases) → DELETED in order', async () => {
    const events = collectWatch('/api/v1/namespaces/ws/pods', { labelSelector: 'app=ctl' }, (s) => s.some((e) => e.type === 'DELETED'))
    await fake.waitForWatches(1)
    await core.createNamespacedPod({ namespace: 'ws', body: pod('x') })
    await core.createNamespacedPod({ namespace: 'ws', body: pod('ignored', 'echo', { app: 'no' }) })
    await fake.waitFor('pods', 'ws', 'x', phase('Succeeded'))
    await core.deleteNamespacedPod({ namespace: 'ws', name: 'x' })
    const seen = await events
    expect(seen.every((e) => e.name === 'x')).toBe(true)
    expect(seen[0]!.type).toBe('ADDED')
    expect(seen.at(-1)!.type).toBe('DELETED')
    const phases = seen.map((e) => e.phase)
    expect(phases.indexOf('Running')).toBeGreaterThan(0)
    expect(phases.indexOf('Succeeded')).toBeGreaterThan(phases.indexOf('Running'))
    const rvs = seen.map((e) => Number(e.rv))
    expect(rvs).toEqual([...rvs].sort((a, b) => a - b))
  })

  it('resumes from a resourceVersion, and answers 410 Gone for one older than the history', async () => {
    const created = await core.createNamespacedPod({ namespace: 'ws', body: pod('r') })
    await fake.waitFor('pods', 'ws', 'r', phase('Succeeded'))
    const from = created.metadata!.resourceVersion!
    const resumed = await collectWatch('/api/v1/namespaces/ws/pods', { resourceVersion: from }, (s) => s.some((e) => e.phase === 'Succeeded'))
    expect(resumed.every((e) => e.type === 'MODIFIED' && Number(e.rv) > Number(from))).toBe(true)

    fake.compactHistory()
    const errors: KubeObject[] = []
    await new Promise<void>((resolve) => {
      void new Watch(kc).watch('/api/v1/namespaces/ws/pods', { resourceVersion: from }, (type, obj: KubeObject) => {
        if (type === 'ERROR') errors.push(obj)
      }, () => resolve())
    })
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' })
  })

  it('dropWatches closes open watches mid-stream', async () => {
    let ended = false
    const done = new Promise<void>((resolve) => {
      void new Watch(kc).watch('/api/v1/namespaces/ws/pods', {}, () => {}, () => { ended = true; resolve() })
    })
    await core.createNamespacedPod({ namespace: 'ws', body: pod('d') })
    await fake.waitFor('pods', 'ws', 'd', phase('Succeeded'))
    expect(fake.openWatches()).toBe(1)
    expect(ended).toBe(false)
    expect(fake.dropWatches()).toBe(1)
    await done
    await fake.waitForWatches(0)
    expect(fake.openWatches()).toBe(0)
  })
})

describe('fake-kube: informer', () => {
  beforeEach(() => boot())

  it("client-node's informer lists, watches, and resumes after a cleanly dropped watch without missing a transition", async () => {
    await core.createNamespacedPod({ namespace: 'ws', body: pod('before') })
    await fake.waitFor('pods', 'ws', 'before', phase('Succeeded'))
    const informer = makeInformer(kc, '/api/v1/namespaces/ws/pods', () => core.listNamespacedPod({ namespace: 'ws', labelSelector: 'app=ctl' }), 'app=ctl')
    const finalPhase = new Map<string, string>()
    const track = (p: V1Pod): void => { finalPhase.set(p.metadata!.name!, p.status?.phase ?? '') }
    informer.on('add', track)
    informer.on('update', track)
    await informer.start()
    await fake.waitForWatches(1)
    expect(finalPhase.get('before')).toBe('Succeeded')
    fake.kubelet.behaviour = () => ({ hold: true })
    await core.createNamespacedPod({ namespace: 'ws', body: pod('during') })
    await fake.waitFor('pods', 'ws', 'during', phase('Running'))
    expect(fake.dropWatches({ abrupt: false })).toBe(1)
    fake.kubelet.terminate('ws', 'during', { failure: 'OOMKilled' }) // happens while no watch is open
    await fake.waitFor('pods', 'ws', 'during', phase('Failed'))
    await fake.waitForWatches(1) // the informer re-watched from its last resourceVersion
    await new Promise<void>((resolve) => {
      if (finalPhase.get('during') === 'Failed') resolve()
      else informer.on('update', (p) => { if (p.status?.phase === 'Failed') resolve() })
    })
    await informer.stop()
    expect(finalPhase.get('during')).toBe('Failed')
    const watches = fake.requests.filter((r) => r.kind === 'watch')
    expect(watches).toHaveLength(2)
    expect(watches[1]!.query).toMatch(/resourceVersion=[1-9]/)
  })
})

describe('fake-kube: kubelet and logs', () => {
  it('follows logs with timestamps until the container terminates; sinceTime resumes inclusively', async () => {
    await boot(() => ({ lines: ['one', 'two'], hold: true }))
    await core.createNamespacedPod({ namespace: 'ws', body: pod('l') })
    await fake.waitFor('pods', 'ws', 'l', phase('Running'))
    const out = new PassThrough()
    let text = ''
    out.on('data', (c: Buffer) => { text += c.toString() })
    const ended = new Promise<void>((resolve) => out.on('end', () => resolve()))
    const saw = (word: string): Promise<void> =>
      new Promise<void>((resolve) => {
        if (text.includes(word)) resolve()
        else out.on('data', () => { if (text.includes(word)) resolve() })
      })
    await new Log(kc).log('ws', 'l', 'main', out, { follow: true, timestamps: true })
    await saw('two') // the scripted lines come while Running; append after them
    const sawThree = saw('three')
    fake.kubelet.writeLog('ws', 'l', 'three')
    await sawThree
    fake.kubelet.terminate('ws', 'l', { exitCode: 0 })
    await ended
    const lines = text.trim().split('\n')
    expect(lines.map((l) => l.slice(l.indexOf(' ') + 1))).toEqual(['one', 'two', 'three'])
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z /)
    await fake.waitFor('pods', 'ws', 'l', phase('Succeeded'))

    const since = lines[1]!.split(' ')[0]!
    const again = new PassThrough()
    let rest = ''
    again.on('data', (c: Buffer) => { rest += c.toString() })
    const againEnded = new Promise<void>((resolve) => again.on('end', () => resolve()))
    await new Log(kc).log('ws', 'l', 'main', again, { follow: true, sinceTime: since })
    await againEnded
    expect(rest).toBe('two\nthree\n')
  })

  it('default behaviour runs the echo lines of sh -c and reflects the exit code', async () => {
    await boot()
    await core.createNamespacedPod({ namespace: 'ws', body: pod('ok', "echo 'hello world'; echo bye") })
    await core.createNamespacedPod({ namespace: 'ws', body: pod('bad', 'echo oops && exit 3') })
    const ok = await fake.waitFor('pods', 'ws', 'ok', phase('Succeeded'))
    const bad = await fake.waitFor('pods', 'ws', 'bad', phase('Failed'))
    expect(JSON.stringify(ok?.status)).toContain('"reason":"Completed"')
    expect(JSON.stringify(bad?.status)).toContain('"exitCode":3')
    const log = await core.readNamespacedPodLog({ namespace: 'ws', name: 'ok', container: 'main' })
    expect(log).toBe('hello world\nbye\n')
    const events = await core.listNamespacedEvent({ namespace: 'ws' })
    expect(events.items.filter((e) => e.involvedObject.name === 'ok').map((e) => e.reason)).toEqual(['Scheduled', 'Pulled', 'Started'])
    expect(fake.validationFailures).toEqual([])
  })

  it('plays the failure modes: ErrImagePull, Unschedulable, OOMKilled, DeadlineExceeded, Evicted', async () => {
    await boot((p) => ({ failure: p.metadata?.labels?.failure as PodBehaviour['failure'] }))
    for (const f of ['ErrImagePull', 'Unschedulable', 'OOMKilled', 'DeadlineExceeded']) {
      await core.createNamespacedPod({ namespace: 'ws', body: pod(f.toLowerCase(), 'echo', { failure: f }) })
    }
    const waitingReason = (o: KubeObject | undefined): string | undefined =>
      (o?.status as { containerStatuses?: { state: { waiting?: { reason: string } } }[] } | undefined)?.containerStatuses?.[0]?.state.waiting?.reason
    const pull = await fake.waitFor('pods', 'ws', 'errimagepull', (o) => waitingReason(o) === 'ImagePullBackOff')
    expect(pull?.status).toMatchObject({ phase: 'Pending' })
    const pullEvents = (await core.listNamespacedEvent({ namespace: 'ws' })).items.filter((e) => e.reason === 'Failed')
    expect(pullEvents[0]?.message).toContain('busybox:1.36')
    const unsched = await fake.waitFor('pods', 'ws', 'unschedulable', (o) => JSON.stringify(o?.status).includes('Unschedulable'))
    expect((unsched?.status as { conditions: unknown[] }).conditions[0]).toMatchObject({ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' })
    const oom = await fake.waitFor('pods', 'ws', 'oomkilled', phase('Failed'))
    expect(JSON.stringify(oom?.status)).toContain('"reason":"OOMKilled"')
    const dl = await fake.waitFor('pods', 'ws', 'deadlineexceeded', phase('Failed'))
    expect(dl?.status).toMatchObject({ reason: 'DeadlineExceeded' })

    fake.kubelet.behaviour = () => ({ hold: true })
    await core.createNamespacedPod({ namespace: 'ws', body: pod('ev') })
    await fake.waitFor('pods', 'ws', 'ev', phase('Running'))
    fake.kubelet.evict('ws', 'ev')
    const ev = await fake.waitFor('pods', 'ws', 'ev', phase('Failed'))
    expect(ev?.status).toMatchObject({ phase: 'Failed', reason: 'Evicted' })
    const waitingLog = await apiError(core.readNamespacedPodLog({ namespace: 'ws', name: 'errimagepull', container: 'main' }))
    expect(waitingLog.code).toBe(400)
  })
})
