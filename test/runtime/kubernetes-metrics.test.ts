// The Kubernetes runtime counts its requests to the API server (ctl_kubernetes_requests_total by verb and
// code) into the control plane's metrics: the client library's calls and the watch and log streams alike.
import { KubeConfig, type V1Pod } from '@kubernetes/client-node'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createKubernetesRuntime } from '../../src/runtime/kubernetes/index.js'
import type { Runtime } from '../../src/runtime/types.js'
import { createMetrics } from '../../src/metrics/metrics.js'
import { parsePrometheusText, total } from '../support/prom-text.js'
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.js'

let fake: FakeKube
let rt: Runtime
const metrics = createMetrics({ processMetrics: false })

beforeAll(async () => {
  fake = await startFakeKube({ behaviour: () => ({ lines: ['one', 'two'], exitCode: 0, delayMs: 1 }) })
  const kc = new KubeConfig()
  kc.loadFromString(fake.kubeconfig)
  rt = createKubernetesRuntime({ kubeConfig: kc, manageNamespaces: true, retryForSeconds: 20, metrics })
})

afterAll(async () => {
  await rt?.close?.()
  expect(fake.validationFailures).toEqual([])
  await fake.close()
})

it('counts the requests of a step by verb and status code', async () => {
  const pod: V1Pod = {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name: 'wf-main-r1-1', namespace: 'public',
      labels: { 'ctl.dev/workspace': 'public', 'ctl.dev/workflow': 'wf', 'ctl.dev/run': 'r1', 'ctl.dev/step': 'main', 'ctl.dev/attempt': '1' },
      annotations: { 'ctl.dev/workspace': 'public' },
    },
    spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1', command: ['sh', '-c', 'true'] }] },
  }
  const handle = await rt.start({ key: { runId: 'r1', step: 'main', attempt: 1 }, pod, secretData: {}, configData: {}, volumeDirs: {} })
  const exit = await rt.follow(handle, 0, async () => {})
  expect(exit).toMatchObject({ exitCode: 0, reason: 'Completed' })
  await rt.cleanup(handle)
  const families = parsePrometheusText(await metrics.exposition())
  // The Pod (and its namespace) created, the log read, the Pod watched and deleted.
  expect(total(families, 'ctl_kubernetes_requests_total', { verb: 'post', code: '201' })).toBeGreaterThan(0)
  expect(total(families, 'ctl_kubernetes_requests_total', { verb: 'get', code: '200' })).toBeGreaterThan(0)
  expect(total(families, 'ctl_kubernetes_requests_total', { verb: 'watch', code: '200' })).toBeGreaterThan(0)
  expect(total(families, 'ctl_kubernetes_requests_total', { verb: 'delete' })).toBeGreaterThan(0)
})
