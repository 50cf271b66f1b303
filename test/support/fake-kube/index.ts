// Wire-level fake Kubernetes API server for tests: the real @kubernetes/client-node talks to it over
// loopback HTTP. See README.md in this folder for the API and what is (not) modelled.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ScriptedKubelet } from './kubelet.js'
import { LogBook } from './logs.js'
import { FakeKubeHandler } from './server.js'
import { ObjectStore } from './store.js'
import type { FailNextOptions, FakeKubeOptions, KubeObject, RequestRecord, ResourceName, ValidationFailure } from './types.js'

export type * from './types.js'
export { ScriptedKubelet, defaultBehaviour, type Outcome } from './kubelet.js'

export interface FakeKube {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string
  /** Kubeconfig YAML (cluster server = url, token user, context "fake"): `kc.loadFromString(fake.kubeconfig)`. */
  kubeconfig: string
  /** The same kubeconfig written to a temp file (for KUBECONFIG / --kubeconfig in child processes). */
  kubeconfigPath: string
  token: string
  kubelet: ScriptedKubelet
  /** Every HTTP request in arrival order (kubelet status writes are not requests). */
  requests: RequestRecord[]
  /** Bodies rejected with 422 Invalid by OpenAPI validation. Assert it stays empty. */
  validationFailures: ValidationFailure[]
  /** Number of create/replace bodies that passed validation. */
  validatedCount(): number
  /** Current (latest) resourceVersion across all objects. */
  resourceVersion(): number
  get(resource: ResourceName, namespace: string | undefined, name: string): KubeObject | undefined
  list(resource: ResourceName, namespace?: string, labelSelector?: string): KubeObject[]
  /** Seeds an object directly (no HTTP, no validation, not logged). */
  seed(resource: ResourceName, namespace: string | undefined, obj: KubeObject): KubeObject
  /** Resolves with the object once predicate(obj) holds (obj undefined = absent); rejects after timeoutMs (default 10 s). */
  waitFor(
    resource: ResourceName, namespace: string | undefined, name: string,
    predicate: (obj: KubeObject | undefined) => boolean, timeoutMs?: number,
  ): Promise<KubeObject | undefined>
  /** The next n matching requests answer `status` (429 with Retry-After, or 500 InternalError). */
  failNext(n: number, status: 429 | 500, opts?: FailNextOptions): void
  /** Forgets the failures failNext queued and not yet answered. */
  clearFailures(): void
  /** Closes every open watch connection mid-stream (abrupt: socket destroyed, default; else a clean end). */
  dropWatches(opts?: { abrupt?: boolean }): number
  /** Closes every open follow log stream mid-stream (socket destroyed). */
  dropLogStreams(): number
  /** Forgets watch history: a watch from any older resourceVersion gets a 410 Gone ERROR event. */
  compactHistory(): void
  /** Sends BOOKMARK events on watches opened with allowWatchBookmarks=true. */
  bookmark(): void
  openWatches(): number
  /** Resolves once exactly `count` watches are open (default 1); rejects after timeoutMs (default 10 s). */
  waitForWatches(count?: number, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

export async function startFakeKube(opts: FakeKubeOptions = {}): Promise<FakeKube> {
  const token = opts.token ?? 'fake-token'
  const store = new ObjectStore(opts.historyLimit ?? 1000)
  const logs = new LogBook()
  for (const ns of opts.namespaces ?? ['default']) store.create('namespaces', undefined, { metadata: { name: ns } })
  const kubelet = new ScriptedKubelet(store, logs, opts.behaviour, opts.autoKubelet ?? true)
  const handler = new FakeKubeHandler(store, logs, token)
  handler.requireNs = opts.requireNamespace ?? true
  const server: Server = createServer((req, res) => handler.handle(req, res))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const kubeconfig = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: fake',
    '  cluster:',
    `    server: ${url}`,
    // client-node refuses plain http unless TLS verification is marked skipped.
    '    insecure-skip-tls-verify: true',
    'users:',
    '- name: fake',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: fake',
    '  context:',
    '    cluster: fake',
    '    user: fake',
    '    namespace: default',
    'current-context: fake',
    '',
  ].join('\n')
  const dir = mkdtempSync(join(tmpdir(), 'fake-kube-'))
  const kubeconfigPath = join(dir, 'kubeconfig')
  writeFileSync(kubeconfigPath, kubeconfig)

  return {
    url, kubeconfig, kubeconfigPath, token, kubelet,
    requests: handler.requests,
    validationFailures: handler.validationFailures,
    validatedCount: () => handler.validatedCount,
    resourceVersion: () => store.resourceVersion,
    get: (r, ns, name) => store.get(r, r === 'namespaces' ? undefined : ns, name),
    list: (r, ns, sel) => store.list(r, ns, sel),
    seed: (r, ns, obj) => store.create(r, r === 'namespaces' ? undefined : ns, obj),
    waitFor(r, ns, name, predicate, timeoutMs = 10_000) {
      const scope = r === 'namespaces' ? undefined : ns
      return new Promise((resolve, reject) => {
        const cur = store.get(r, scope, name)
        if (predicate(cur)) return resolve(cur)
        const timer = setTimeout(() => {
          unsubscribe()
          reject(new Error(`fake-kube: ${r} ${ns ?? ''}/${name} did not reach the expected state; last: ${JSON.stringify(store.get(r, scope, name)?.status)}`))
        }, timeoutMs)
        const unsubscribe = store.subscribe((e) => {
          if (e.resource !== r || e.event.object.metadata?.name !== name || e.namespace !== scope) return
          const obj = e.event.type === 'DELETED' ? undefined : store.get(r, scope, name)
          if (predicate(obj)) {
            clearTimeout(timer)
            unsubscribe()
            resolve(obj)
          }
        })
      })
    },
    failNext: (n, status, o) => handler.failNext(n, status, o),
    clearFailures: () => handler.clearFailures(),
    dropWatches({ abrupt = true } = {}) {
      const ws = [...handler.watches]
      for (const w of ws) {
        if (abrupt) w.res.socket?.destroy()
        else w.res.end()
      }
      return ws.length
    },
    dropLogStreams() {
      const ls = [...handler.logStreams]
      for (const res of ls) res.socket?.destroy()
      return ls.length
    },
    compactHistory: () => store.compact(),
    bookmark: () => handler.bookmark(),
    openWatches: () => handler.watches.size,
    waitForWatches(count = 1, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        if (handler.watches.size === count) return resolve()
        const timer = setTimeout(() => {
          handler.watchListeners.delete(check)
          reject(new Error(`fake-kube: ${handler.watches.size} watches open, waited for ${count}`))
        }, timeoutMs)
        const check = (): void => {
          if (handler.watches.size !== count) return
          clearTimeout(timer)
          handler.watchListeners.delete(check)
          resolve()
        }
        handler.watchListeners.add(check)
      })
    },
    async close() {
      kubelet.stopAll()
      for (const w of handler.watches) w.res.socket?.destroy()
      for (const res of handler.logStreams) res.socket?.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
