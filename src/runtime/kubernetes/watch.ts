// Watches one Pod: a GET (or the Pod start() created), then a watch from its resourceVersion,
// resumed from the last version seen after the server ends it, and preceded by a fresh GET after a
// dropped connection or 410 Gone, so no transition is missed. Deletion ends the watch.

import type { CoreV1Api, KubeConfig, V1Pod } from '@kubernetes/client-node'
import { streamLines } from './http.js'
import { backoffMs, sleep, statusOf, withRetry } from './retry.js'

export class PodWatcher {
  pod: V1Pod | undefined
  gone = false
  private rv: string | undefined
  private listeners = new Set<() => void>()
  private readonly ctl = new AbortController()

  constructor(
    private readonly kc: KubeConfig,
    private readonly core: CoreV1Api,
    private readonly namespace: string,
    private readonly podName: string,
    private readonly uid: string,
    initial: V1Pod | undefined,
    private readonly retryForMs: number,
  ) {
    if (initial) this.accept(initial)
  }

  /** Runs until stop() or the Pod is gone; never rejects. */
  start(): void {
    void this.loop().catch(() => this.markGone())
  }

  stop(): void {
    this.ctl.abort()
    this.notify()
  }

  /** Resolves at the next change (or gone), or after `ms`. */
  changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t)
        this.listeners.delete(done)
        resolve()
      }
      const t = setTimeout(done, ms)
      this.listeners.add(done)
    })
  }

  /** Calls `fn` on every change until the returned function is called (e.g. to end a log stream once the Pod is gone). */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  private notify(): void {
    for (const fn of [...this.listeners]) fn()
  }

  private markGone(): void {
    this.gone = true
    this.notify()
  }

  private accept(pod: V1Pod): void {
    const uid = pod.metadata?.uid
    // Same name, other uid: our Pod was deleted and another took its name.
    if (uid && this.uid && uid !== this.uid) return this.markGone()
    this.pod = pod
    this.rv = pod.metadata?.resourceVersion ?? this.rv
    this.notify()
  }

  private async loop(): Promise<void> {
    const signal = this.ctl.signal
    let needGet = !this.pod
    let failures = 0
    while (!signal.aborted && !this.gone) {
      if (needGet) {
        try {
          const pod = await withRetry(() => this.core.readNamespacedPod({ namespace: this.namespace, name: this.podName }), { retryForMs: this.retryForMs, signal })
          this.accept(pod)
          needGet = false
        } catch (e) {
          if (signal.aborted) return
          if (statusOf(e) === 404) return this.markGone()
          await sleep(backoffMs(failures++), signal).catch(() => undefined)
          continue
        }
        if (this.gone) return
      }
      let relist = false
      let events = 0
      try {
        await streamLines(
          this.kc,
          `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/pods`,
          {
            watch: 'true',
            fieldSelector: `metadata.name=${this.podName}`,
            resourceVersion: this.rv,
            allowWatchBookmarks: 'true',
            timeoutSeconds: '300',
          },
          (lines) => {
            for (const line of lines) {
              if (!line.trim()) continue
              events++
              let ev: { type?: string; object?: V1Pod & { code?: number } }
              try {
                ev = JSON.parse(line) as typeof ev
              } catch {
                continue
              }
              const obj = ev.object
              if (ev.type === 'ERROR') {
                relist = true
                continue
              }
              if (!obj) continue
              if (ev.type === 'BOOKMARK') this.rv = obj.metadata?.resourceVersion ?? this.rv
              else if (ev.type === 'DELETED') {
                if (!obj.metadata?.uid || obj.metadata.uid === this.uid) return this.markGone()
              } else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') this.accept(obj)
            }
          },
          signal,
        )
        // A server that ends watches at once must not make this a busy loop.
        if (events === 0) await sleep(backoffMs(failures++), signal).catch(() => undefined)
        else failures = 0
        // An ERROR event (410 Gone: our version is too old) ends with a fresh GET.
        if (relist) needGet = true
      } catch {
        if (signal.aborted) return
        needGet = true
        await sleep(backoffMs(failures++), signal).catch(() => undefined)
      }
    }
  }
}
