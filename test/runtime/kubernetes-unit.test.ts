// Pure parts of the Kubernetes runtime: namespace names, the objects built for a step, Pod status →
// step exit, and the log cursor that keeps reconnects free of duplicates.

import type { V1Pod } from '@kubernetes/client-node'
import { describe, expect, it } from 'vitest'
import { LogCursor, parseLogLine, TIME_OFFSET_BASE } from '../../src/runtime/kubernetes/logs.js'
import { buildClaims, buildStepObjects, namespaceFor, referencedNames } from '../../src/runtime/kubernetes/objects.js'
import { describePod, podPhase } from '../../src/runtime/kubernetes/describe.js'
import { kubernetesEnvOf, kubernetesOptionsOf } from '../../src/controlplane/kube-flags.js'
import { exitFromPod, pendingReason, startFailureExit, startProblem } from '../../src/runtime/kubernetes/status.js'

const basePod = (): V1Pod => ({
  metadata: { name: 'wf-s-abc-1', namespace: 'public', labels: { 'ctl.dev/workspace': 'public' }, annotations: { 'ctl.dev/workspace': 'public' } },
  spec: {
    restartPolicy: 'Never',
    containers: [
      {
        name: 's',
        image: 'busybox:1',
        env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'wf-abc-s-projection', key: 'TOKEN' } } }],
      },
    ],
    volumes: [{ name: 'files', projected: { sources: [{ configMap: { name: 'wf-abc-s-config' } }, { secret: { name: 'wf-abc-s-projection' } }] } }],
  },
})

const withMain = (status: V1Pod['status']): V1Pod => ({ ...basePod(), status })

describe('namespaceFor', () => {
  it('joins prefix and workspace when that is a DNS label', () => {
    expect(namespaceFor('ctl-', 'public')).toBe('ctl-public')
  })
  it('makes other names DNS labels, kept distinct by a hash', () => {
    const a = namespaceFor('ctl-', 'Team_A')
    const b = namespaceFor('ctl-', 'team-a')
    expect(a).toMatch(/^ctl-team-a-[0-9a-f]{8}$/)
    expect(b).toBe('ctl-team-a')
    const long = namespaceFor('ctl-', 'x'.repeat(80))
    expect(long.length).toBeLessThanOrEqual(63)
    expect(long).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
  })
})

describe('buildStepObjects', () => {
  it('moves the Pod into the namespace and builds the Secret and ConfigMap it references', () => {
    const objs = buildStepObjects('ctl-public', { pod: basePod(), secretData: { TOKEN: 's3cret' }, configData: { 'a.yaml': 'x: 1' }, timeoutSeconds: 30 })
    expect(objs.pod.metadata?.namespace).toBe('ctl-public')
    expect(objs.pod.spec?.activeDeadlineSeconds).toBe(30)
    expect(objs.secret).toMatchObject({ kind: 'Secret', metadata: { name: 'wf-abc-s-projection', namespace: 'ctl-public' }, stringData: { TOKEN: 's3cret' } })
    expect(objs.configMap).toMatchObject({ kind: 'ConfigMap', metadata: { name: 'wf-abc-s-config', namespace: 'ctl-public' }, data: { 'a.yaml': 'x: 1' } })
  })
  it('keeps the Pod label of network: none, which the NetworkPolicy of deploy/kubernetes/workspace selects', () => {
    const pod = basePod()
    pod.metadata!.labels!['ctl.dev/network'] = 'none'
    pod.metadata!.annotations!['ctl.dev/network'] = 'none'
    const objs = buildStepObjects('ctl-public', { pod, secretData: {}, configData: {} })
    expect(objs.pod.metadata?.labels?.['ctl.dev/network']).toBe('none')
    expect(objs.pod.metadata?.annotations?.['ctl.dev/network']).toBe('none')
  })
  it('builds nothing the Pod does not reference, and ignores imagePullSecrets', () => {
    const pod: V1Pod = { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'i' }], imagePullSecrets: [{ name: 'pull' }] } }
    expect(referencedNames(pod)).toEqual({ secrets: [], configMaps: [] })
    const objs = buildStepObjects('ns', { pod, secretData: {}, configData: {} })
    expect(objs.secret).toBeUndefined()
    expect(objs.configMap).toBeUndefined()
  })
})

describe('exitFromPod', () => {
  const term = (t: Record<string, unknown>) => withMain({ phase: 'Failed', containerStatuses: [{ name: 's', image: 'busybox:1', imageID: '', ready: false, restartCount: 0, state: { terminated: t as never } }] })
  it('maps exit 0 to Completed and other codes to Error with the code', () => {
    expect(exitFromPod(term({ exitCode: 0, finishedAt: '2026-01-01T00:00:00Z' }))).toEqual({ exitCode: 0, reason: 'Completed', finishedAt: '2026-01-01T00:00:00Z' })
    expect(exitFromPod(term({ exitCode: 3, reason: 'Error' }))).toMatchObject({ exitCode: 3, reason: 'Error', message: 'exit code 3: Error' })
  })
  it('names OOMKilled', () => {
    expect(exitFromPod(term({ exitCode: 137, reason: 'OOMKilled' }))).toMatchObject({ exitCode: 137, reason: 'Error', message: expect.stringContaining('OOMKilled') })
  })
  it('maps eviction to Lost and the deadline to DeadlineExceeded', () => {
    expect(exitFromPod(withMain({ phase: 'Failed', reason: 'Evicted', message: 'low on memory' }))).toMatchObject({ reason: 'Lost', message: expect.stringContaining('low on memory') })
    expect(exitFromPod(withMain({ phase: 'Failed', reason: 'DeadlineExceeded' }))).toMatchObject({ reason: 'DeadlineExceeded' })
  })
  it('has no exit while the Pod is pending or running', () => {
    const unschedulable = withMain({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available' }] })
    expect(exitFromPod(unschedulable)).toBeUndefined()
    expect(pendingReason(unschedulable)).toBe('Unschedulable: 0/3 nodes are available')
    expect(exitFromPod(withMain({ phase: 'Running', containerStatuses: [{ name: 's', image: '', imageID: '', ready: true, restartCount: 0, state: { running: {} } }] }))).toBeUndefined()
  })
  it('reports an image pull failure naming the image', () => {
    const pod = withMain({ phase: 'Pending', containerStatuses: [{ name: 's', image: 'busybox:1', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image' } } }] })
    const p = startProblem(pod)
    expect(p).toEqual({ kind: 'pull', image: 'busybox:1', reason: 'ImagePullBackOff', message: 'Back-off pulling image' })
    expect(startFailureExit(p!, 5)).toMatchObject({ reason: 'StartError', exitCode: null, message: expect.stringContaining('image busybox:1') })
  })
  it('reports a container the kubelet cannot create (a missing Secret key), which it would retry forever', () => {
    const waiting = { reason: 'CreateContainerConfigError', message: 'couldn\'t find key TOKEN in Secret ctl-public/wf-abc-s-projection' }
    const pod = withMain({ phase: 'Pending', containerStatuses: [{ name: 's', image: 'busybox:1', imageID: '', ready: false, restartCount: 0, state: { waiting } }] })
    const p = startProblem(pod)
    expect(p?.kind).not.toBe('pull')
    expect(p).toMatchObject({ kind: 'create', reason: 'CreateContainerConfigError' })
    expect(startFailureExit(p!, 5).message).toBe(`the container could not be created (CreateContainerConfigError for over 5s): ${waiting.message}`)
  })
})

describe('LogCursor', () => {
  it('parses RFC3339Nano prefixes into sortable keys', () => {
    expect(parseLogLine('2026-01-01T00:00:01.5Z hello world')).toEqual({ key: '2026-01-01T00:00:01.500000000Z', time: '2026-01-01T00:00:01.500Z', text: 'hello world' })
    expect(parseLogLine('2026-01-01T00:00:01.123456789Z ').text).toBe('')
  })
  const ms = (t: string) => Date.parse(t)
  it('skips on a re-read what was delivered, also lines sharing the last time', () => {
    const c = new LogCursor(0)
    c.beginRead()
    const first = c.accept(['2026-01-01T00:00:01.1Z a', '2026-01-01T00:00:02.2Z b', '2026-01-01T00:00:02.2Z c'])
    expect(first.map((x) => x.line.text)).toEqual(['a', 'b', 'c'])
    expect(c.sinceTime()).toBe('2026-01-01T00:00:02Z')
    expect(c.offset).toBe(ms('2026-01-01T00:00:02.2Z') * 1000 + 2)
    c.beginRead()
    const again = c.accept(['2026-01-01T00:00:02.2Z b', '2026-01-01T00:00:02.2Z c', '2026-01-01T00:00:02.2Z d', '2026-01-01T00:00:03Z e'])
    expect(again.map((x) => x.line.text)).toEqual(['d', 'e'])
    expect(c.offset).toBe(ms('2026-01-01T00:00:03Z') * 1000 + 1)
  })
  it('resumes from a time offset (after a restart) at the stored line, reading from its second only', () => {
    const before = new LogCursor(0)
    before.beginRead()
    before.accept(['2026-01-01T00:00:01.1Z a', '2026-01-01T00:00:02.1Z b', '2026-01-01T00:00:02.2Z c', '2026-01-01T00:00:02.2Z d'])
    const offset = before.offset
    expect(offset).toBeGreaterThanOrEqual(TIME_OFFSET_BASE)
    const c = new LogCursor(offset)
    expect(c.sinceTime()).toBe('2026-01-01T00:00:02Z')
    c.beginRead()
    // What sinceTime=…:02Z answers: the whole second again, then what is new.
    const fresh = c.accept(['2026-01-01T00:00:02.1Z b', '2026-01-01T00:00:02.2Z c', '2026-01-01T00:00:02.2Z d', '2026-01-01T00:00:02.2Z e', '2026-01-01T00:00:04Z f'])
    expect(fresh.map((x) => x.line.text)).toEqual(['e', 'f'])
    expect(c.offset).toBe(ms('2026-01-01T00:00:04Z') * 1000 + 1)
  })
  it('resumes from a line count (an older offset) by skipping that many lines from the start', () => {
    const c = new LogCursor(2)
    expect(c.sinceTime()).toBeUndefined()
    c.beginRead()
    expect(c.accept(['2026-01-01T00:00:01Z a', '2026-01-01T00:00:02Z b', '2026-01-01T00:00:03Z c']).map((x) => x.line.text)).toEqual(['c'])
    expect(c.offset).toBe(ms('2026-01-01T00:00:03Z') * 1000 + 1)
  })
})

describe('buildClaims', () => {
  const mounting = (): V1Pod => ({
    ...basePod(),
    spec: { ...basePod().spec!, volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'ctl-vol-public-data' } }] },
  })
  it("uses the volume's storage class, else the server default, else leaves it to the cluster", () => {
    const spec = { size: '1Gi', accessMode: 'ReadWriteOnce' as const }
    expect(buildClaims('ns', mounting(), { 'ctl-vol-public-data': { ...spec, storageClass: 'fast' } }, 'standard')[0]?.spec?.storageClassName).toBe('fast')
    expect(buildClaims('ns', mounting(), { 'ctl-vol-public-data': spec }, 'standard')[0]?.spec?.storageClassName).toBe('standard')
    expect(buildClaims('ns', mounting(), { 'ctl-vol-public-data': spec })[0]?.spec).not.toHaveProperty('storageClassName')
  })
})

describe('describePod', () => {
  it('gives conditions, container states and the Pod\'s own events in time order', () => {
    const pod: V1Pod = {
      ...basePod(),
      metadata: { ...basePod().metadata, uid: 'u1', namespace: 'ctl-public' },
      spec: { ...basePod().spec!, nodeName: 'node-7' },
      status: {
        phase: 'Failed',
        conditions: [{ type: 'Ready', status: 'False', reason: 'PodFailed' }],
        containerStatuses: [{ name: 's', image: 'busybox:1', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 137, reason: 'OOMKilled', startedAt: new Date('2026-01-01T00:00:00Z'), finishedAt: new Date('2026-01-01T00:00:05Z') } } }],
      },
    }
    const ev = (t: string, reason: string, uid = 'u1') => ({ metadata: {}, involvedObject: { kind: 'Pod', name: pod.metadata!.name, uid }, reason, message: reason, type: 'Normal', lastTimestamp: new Date(t), count: 1 })
    const d = describePod(pod, [ev('2026-01-01T00:00:02Z', 'Started'), ev('2026-01-01T00:00:01Z', 'Pulled'), ev('2026-01-01T00:00:00Z', 'Other', 'u0')])
    expect(d).toMatchObject({ object: 'pod ctl-public/wf-s-abc-1', node: 'node-7', phase: 'Failed' })
    expect(d.containers).toEqual([{ name: 's', image: 'busybox:1', state: 'Terminated', reason: 'OOMKilled', message: undefined, exitCode: 137, startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:05.000Z', restarts: 0 }])
    expect(d.events.map((e) => e.reason)).toEqual(['Pulled', 'Started'])
    expect(d.conditions).toEqual([{ type: 'Ready', status: 'False', reason: 'PodFailed', message: undefined, since: undefined }])
  })

  it('reports a Pending Pod with the reason it waits', () => {
    const pod = withMain({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available' }] })
    expect(podPhase(pod)).toEqual({ phase: 'Pending', message: 'Unschedulable: 0/1 nodes are available' })
    expect(podPhase(withMain({ phase: 'Running' }))).toEqual({ phase: 'Running' })
  })
})

describe('kubernetesOptionsOf (server start flags)', () => {
  const flags = { 'namespace-prefix': 'ctl-', 'manage-namespaces': false, 'image-pull-grace': '90s', 'gc-when-complete': true, 'pod-ttl': '10m', 'storage-class': 'fast' }
  it('reads durations and passes the policy through, and the same values to a detached child', () => {
    expect(kubernetesOptionsOf(flags)).toMatchObject({ imagePullGraceSeconds: 90, podTtlSeconds: 600, gcWhenComplete: true, defaultStorageClass: 'fast', namespacePrefix: 'ctl-' })
    expect(kubernetesEnvOf(flags)).toMatchObject({ CTL_IMAGE_PULL_GRACE: '90s', CTL_POD_TTL: '10m', CTL_GC_WHEN_COMPLETE: 'true', CTL_STORAGE_CLASS: 'fast' })
  })
  it('refuses a duration it cannot read, naming the flag', () => {
    expect(() => kubernetesOptionsOf({ ...flags, 'pod-ttl': 'soon' })).toThrow('--pod-ttl "soon" is not a duration')
  })
})
