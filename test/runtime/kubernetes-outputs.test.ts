// Step outputs on the Kubernetes runtime: the Pod's termination message (its terminationMessagePath file, which
// the kubelet cuts to its last 4096 bytes) becomes the exit's outputs, parsed like the local runtime's and redacted.

import { KubeConfig, type V1Pod } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createKubernetesRuntime } from '../../src/runtime/kubernetes/index.js'
import { exitFromPod, outputsOf } from '../../src/runtime/kubernetes/status.js'
import type { Runtime, StepExit, StepLaunch } from '../../src/runtime/types.js'
import { formatOutputs } from '../../src/runtime/outputs.js'
import { defaultBehaviour, startFakeKube, type FakeKube, type PodBehaviour } from '../support/fake-kube/index.js'

let fake: FakeKube
let rt: Runtime
const behaviours = new Map<string, PodBehaviour>()
let n = 0

beforeAll(async () => {
  fake = await startFakeKube({ behaviour: (pod) => behaviours.get(pod.metadata?.name ?? '') ?? defaultBehaviour(pod) })
  const kc = new KubeConfig()
  kc.loadFromString(fake.kubeconfig)
  rt = createKubernetesRuntime({ kubeConfig: kc, manageNamespaces: true, imagePullGraceSeconds: 0.2, retryForSeconds: 20 })
})

afterAll(async () => {
  expect(fake.validationFailures).toEqual([])
  await rt.close?.()
  await fake.close()
})

/** A step as the Pod builder makes it (CTL_OUTPUTS, terminationMessagePath, policy File); `behaviour` undefined: the default kubelet script. */
function outputsLaunch(behaviour: PodBehaviour | undefined, script = 'true'): StepLaunch {
  const i = ++n
  const name = `wf-out-r${i}-1`
  if (behaviour) behaviours.set(name, { delayMs: 1, ...behaviour })
  const pod: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'public', labels: { 'ctl.dev/workspace': 'public', 'ctl.dev/run': `o${i}`, 'ctl.dev/step': 'main', 'ctl.dev/attempt': '1' } },
    spec: {
      restartPolicy: 'Never',
      containers: [
        {
          name: 'main',
          image: 'busybox:1',
          command: ['sh', '-c', script],
          env: [{ name: 'CTL_OUTPUTS', value: '/ctl/outputs' }],
          terminationMessagePath: '/ctl/outputs',
          terminationMessagePolicy: 'File',
        },
      ],
    },
  }
  return { key: { runId: `o${i}`, step: 'main', attempt: 1 }, pod, secretData: { TOKEN: 'hunter2-secret' }, configData: {}, volumeDirs: {} }
}

async function runToEnd(l: StepLaunch): Promise<{ exit: StepExit; texts: string[]; podName: string }> {
  const handle = await rt.start(l)
  const texts: string[] = []
  const exit = await rt.follow(handle, 0, async (b) => {
    texts.push(...b.lines.map((x) => x.text))
  })
  const podName = (handle.data as { podName: string }).podName
  const described = await rt.describe!(handle)
  // The raw termination message is the outputs: never shown unredacted by describe.
  expect(described.containers[0]?.message).toBeUndefined()
  await rt.cleanup(handle)
  return { exit, texts, podName }
}

describe('outputs on the Kubernetes runtime (fake API server)', () => {
  it('turns the termination message into outputs, redacted', async () => {
    const message = formatOutputs({ artifact: 'app-1.2.3.tar', notes: 'line one\nline two', token: 'is hunter2-secret' })
    const r = await runToEnd(outputsLaunch({ lines: ['built'], terminationMessage: message }))
    expect(r.exit).toMatchObject({ reason: 'Completed', exitCode: 0 })
    expect(r.exit.outputs).toEqual({ artifact: 'app-1.2.3.tar', notes: 'line one\nline two', token: 'is [redacted]' })
    expect(r.texts).toEqual(['built'])
  })

  it('takes what a script appends to $CTL_OUTPUTS (the fake kubelet plays it into the file)', async () => {
    const r = await runToEnd(outputsLaunch(undefined, 'echo building; echo "artifact=x" >> "$CTL_OUTPUTS"; echo \'files=["a.csv"]\' >> "$CTL_OUTPUTS"'))
    expect(r.texts).toEqual(['building'])
    expect(r.exit.outputs).toEqual({ artifact: 'x', files: '["a.csv"]' })
  })

  it('fails a step whose outputs reach the 4 KiB the kubelet keeps, saying so', async () => {
    const big = formatOutputs({ head: 'first', blob: 'x'.repeat(5000), tail: 'last' })
    const r = await runToEnd(outputsLaunch({ terminationMessage: big }))
    const pod = fake.get('pods', 'ctl-public', r.podName)
    expect(pod).toBeUndefined() // cleaned up; the exit holds what the Pod said
    expect(r.exit).toMatchObject({ reason: 'Error', exitCode: 0 })
    expect(r.exit.message).toMatch(/^outputs: Kubernetes keeps at most 4096 bytes of \$CTL_OUTPUTS .* under 4 KiB \(1 MiB on the local runtime\)$/)
    expect(r.exit.outputs).toBeUndefined()
  })

  it('fails a step with malformed outputs, and keeps a failed step\'s own reason first', async () => {
    const bad = await runToEnd(outputsLaunch({ terminationMessage: 'a=1\nx y\n' }))
    expect(bad.exit).toMatchObject({ reason: 'Error', message: 'outputs: line 2: "x y" is not KEY=VALUE or KEY<<DELIMITER' })
    const failed = await runToEnd(outputsLaunch({ terminationMessage: 'partial=1\n', exitCode: 2 }))
    // The message is outputs, not a reason: the exit says the container's reason instead.
    expect(failed.exit).toMatchObject({ reason: 'Error', exitCode: 2, message: 'exit code 2: Error', outputs: { partial: '1' } })
  })
})

describe('the fake kubelet and the termination message', () => {
  it('keeps the last 4096 bytes of the file, as the kubelet does', async () => {
    const l = outputsLaunch({ hold: true })
    const handle = await rt.start(l)
    const name = (handle.data as { podName: string }).podName
    await fake.waitFor('pods', 'ctl-public', name, (p) => (p?.status as { phase?: string } | undefined)?.phase === 'Running')
    // 6003 bytes: the last 4096 start in the middle of an é.
    fake.kubelet.terminate('ctl-public', name, { exitCode: 0, terminationMessage: 'k=' + 'é'.repeat(3000) + 'z' })
    const ended = await fake.waitFor('pods', 'ctl-public', name, (p) => (p?.status as { phase?: string } | undefined)?.phase === 'Succeeded')
    const message = (ended?.status as { containerStatuses: { state: { terminated: { message: string } } }[] }).containerStatuses[0]!.state.terminated.message
    expect(message.startsWith('\uFFFD')).toBe(true) // the cut character, as Go's JSON encoding gives it
    expect(Buffer.byteLength(message.slice(1), 'utf8')).toBe(4095)
    expect(message.endsWith('é'.repeat(10) + 'z')).toBe(true)
    const exit = await rt.follow(handle, 0, async () => {})
    expect(exit.message).toMatch(/^outputs: Kubernetes keeps at most 4096 bytes/)
    await rt.cleanup(handle)
  })
})

describe('outputsOf / exitFromPod (pure)', () => {
  const ended = (message: string | undefined, exitCode = 0, policy: string | undefined = 'File'): V1Pod => ({
    spec: { containers: [{ name: 'main', terminationMessagePath: '/ctl/outputs', ...(policy ? { terminationMessagePolicy: policy } : {}) }] },
    status: { phase: exitCode === 0 ? 'Succeeded' : 'Failed', containerStatuses: [{ name: 'main', image: 'i', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode, reason: exitCode ? 'Error' : 'Completed', ...(message !== undefined ? { message } : {}) } } }] },
  })
  it('reads outputs only from a container whose message is its outputs file', () => {
    expect(exitFromPod(ended('a=1\n'))?.outputs).toEqual({ a: '1' })
    expect(exitFromPod(ended(undefined))).toMatchObject({ reason: 'Completed' })
    expect(exitFromPod(ended(undefined))?.outputs).toBeUndefined()
    // FallbackToLogsOnError: the message may be log lines, never outputs.
    expect(exitFromPod(ended('boom', 1, 'FallbackToLogsOnError'))).toMatchObject({ message: 'exit code 1: boom' })
    const plain: V1Pod = { ...ended('oops', 1), spec: { containers: [{ name: 'main' }] } }
    expect(exitFromPod(plain)).toMatchObject({ message: 'exit code 1: oops' })
    expect(exitFromPod(plain)?.outputs).toBeUndefined()
  })
  it('refuses a message of 4096 bytes or more', () => {
    expect(outputsOf('k=' + 'x'.repeat(4093))).toEqual({ outputs: { k: 'x'.repeat(4093) } })
    expect(outputsOf('k=' + 'x'.repeat(4094)).problem).toMatch(/4096 bytes/)
  })
})
