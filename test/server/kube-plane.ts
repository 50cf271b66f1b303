// A control plane on the fake Kubernetes API server (test/support/fake-kube), in this process or as a
// separate process that can be SIGKILLed, and the scripted kubelet keyed by the labels ctl puts on
// every Pod (workflow, step, attempt), so each test scripts its own workflow's Pods.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { CtlClient } from '../../src/client/client.js'
import { ADMIN_KEY_FILE, spawnDetachedServer } from '../../src/controlplane/process.js'
import { startControlPlane, type ControlPlane, type KubernetesServerOptions } from '../../src/controlplane/control-plane.js'
import type { FakeKube, KubeObject, PodBehaviour, RequestRecord } from '../support/fake-kube/index.js'
import { cliEntry } from '../cli/helpers.js'
import { waitFor } from './helpers.js'

/** The namespace of workspace `public` with the default prefix and namespace management on. */
export const NAMESPACE = 'ctl-public'

export interface PodKey {
  workflow: string
  step: string
  attempt: number
}

export type Script = (key: PodKey) => PodBehaviour

/** Plays each Pod per the script of its workflow (unscripted: no lines, exit 0) and keeps every Pod played. */
export class KubeletScripts {
  private readonly scripts = new Map<string, Script>()
  /** Every Pod the kubelet was handed, in creation order (the runtime deletes Pods once done). */
  readonly played: KubeObject[] = []

  constructor(fake: FakeKube) {
    fake.kubelet.behaviour = (pod) => {
      this.played.push(structuredClone(pod))
      const key = keyOf(pod)
      return { delayMs: 1, ...(this.scripts.get(key.workflow)?.(key) ?? { lines: [], exitCode: 0 }) }
    }
  }

  script(workflow: string, script: Script): void {
    this.scripts.set(workflow, script)
  }

  /** Names of the Pods played for a workflow, in creation order. */
  podsOf(workflow: string): { name: string; key: PodKey; image: string }[] {
    return this.played
      .filter((p) => p.metadata?.labels?.['ctl.dev/workflow'] === workflow)
      .map((p) => ({
        name: p.metadata!.name!,
        key: keyOf(p),
        image: (p.spec as { containers?: { image?: string }[] } | undefined)?.containers?.[0]?.image ?? '',
      }))
  }
}

export function keyOf(pod: KubeObject): PodKey {
  const labels = pod.metadata?.labels ?? {}
  return { workflow: labels['ctl.dev/workflow'] ?? '', step: labels['ctl.dev/step'] ?? '', attempt: Number(labels['ctl.dev/attempt'] ?? 0) }
}

/** Pod creations the fake answered, from `since` (an index into fake.requests) on. */
export function podCreates(fake: FakeKube, since = 0): RequestRecord[] {
  return fake.requests.slice(since).filter((r) => r.method === 'POST' && r.path === `/api/v1/namespaces/${NAMESPACE}/pods`)
}

type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed'

/** The Pod of a step attempt once it exists and `check` holds (bounded wait). */
export async function waitForPod(fake: FakeKube, key: PodKey, check: (pod: KubeObject) => boolean, what: string, limitMs = 15_000): Promise<KubeObject> {
  const selector = `ctl.dev/workflow=${key.workflow},ctl.dev/step=${key.step},ctl.dev/attempt=${key.attempt}`
  const pod = await waitFor(
    `the pod of ${key.workflow}/${key.step}/${key.attempt} ${what}`,
    async () => fake.list('pods', NAMESPACE, selector)[0],
    (p) => p !== undefined && check(p),
    limitMs,
  )
  return pod!
}

export function phaseOf(pod: KubeObject | undefined): PodPhase | undefined {
  return (pod?.status as { phase?: PodPhase } | undefined)?.phase
}

/** terminate() refuses until the kubelet holds the Pod (it has written its lines); retried within a bound. */
export async function terminateWhenHeld(fake: FakeKube, podName: string, outcome: { exitCode?: number } = { exitCode: 0 }): Promise<void> {
  await waitFor(`the kubelet to hold ${podName}`, async () => {
    try {
      fake.kubelet.terminate(NAMESPACE, podName, outcome)
      return true
    } catch {
      return false
    }
  }, (done) => done, 10_000)
}

export interface KubePlane {
  plane: ControlPlane
  client: CtlClient
}

/** A control plane in this process whose runtime is the fake cluster (namespaces managed, short image pull grace). */
export async function startKubePlane(fake: FakeKube, dataDir: string, kubernetes: Partial<KubernetesServerOptions> = {}): Promise<KubePlane> {
  const plane = await startControlPlane({
    dataDir, port: 0, runtime: 'kubernetes',
    kubernetes: { kubeconfigPath: fake.kubeconfigPath, manageNamespaces: true, imagePullGraceSeconds: 1, ...kubernetes },
  })
  // A restart on the same data dir creates no key: the first start wrote it to the data dir.
  const token = plane.adminToken ?? readFileSync(join(dataDir, ADMIN_KEY_FILE), 'utf8').trim()
  return { plane, client: new CtlClient({ baseUrl: plane.url, apiKey: token }) }
}

/**
 * `ctl server start` in a detached child process on the fake cluster, as `server start --detach --runtime kubernetes
 * --kubeconfig K --manage-namespaces` starts it: the runtime flags travel in CTL_* variables (see commands/server/start.ts).
 */
export async function spawnKubePlane(fake: FakeKube, dataDir: string): Promise<{ pid: number; client: CtlClient }> {
  const vars: Record<string, string> = { CTL_RUNTIME: 'kubernetes', CTL_KUBECONFIG: fake.kubeconfigPath, CTL_MANAGE_NAMESPACES: 'true' }
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]))
  Object.assign(process.env, vars)
  try {
    // Loading the Kubernetes client in the child takes a while on a busy machine.
    const started = await spawnDetachedServer({ dataDir, port: 0, cliEntry, timeoutMs: 30_000 })
    const token = readFileSync(join(dataDir, ADMIN_KEY_FILE), 'utf8').trim()
    return { pid: started.pid, client: new CtlClient({ baseUrl: started.url, apiKey: token }) }
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}
