// One list + watch per namespace for every Pod ctl runs there (label `ctl.dev/run`), shared by all the
// steps followed in that namespace: a thousand running steps cost one watch connection, not a thousand
// (and no GET per Pod). The watch resumes from the last resourceVersion seen after the server ends it;
// after a dropped connection or 410 Gone (our version was compacted away) it lists again and compares,
// so no transition is missed. It stops when nobody has followed a Pod there for a while.

import type { CoreV1Api, KubeConfig, V1Pod } from '@kubernetes/client-node'
import { streamLines } from './http.js'
import { backoffMs, sleep, statusOf, withRetry } from './retry.js'

/** Every Pod ctl creates carries this label (src/stack/pod.ts). */
export const POD_SELECTOR = 'ctl.dev/run'

/** What follow() sees of one Pod: its latest state, whether it is gone, and a way to wait for the next change. */
export interface PodView {
  readonly pod: V1Pod | undefined
  readonly gone: boolean
  /** Resolves at the next change (or gone), or after `ms`. */
  changed(ms: number): Promise<void>
  /** Calls `fn` on every change until the returned function is called. */
  onChange(fn: () => void): () => void
  /** Stops following (the informer forgets this Pod). */
  stop(): void
}

/** resourceVersions are opaque, but every API server in use gives integers: compare them when both are. */
function newer(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return true
  const x = Number(a)
  const y = Number(b)
  return Number.isFinite(x) && Number.isFinite(y) ? x >= y : true
}

class Subscription implements PodView {
  pod: V1Pod | undefined
  gone = false
  private readonly listeners = new Set<() => void>()

  constructor(
    readonly name: string,
    readonly uid: string,
    private readonly release: (s: Subscription) => void,
  ) {}

  accept(pod: V1Pod): void {
    if (this.gone) return
    const uid = pod.metadata?.uid
    // Same name, other uid: our Pod was deleted and another took its name.
    if (uid && this.uid && uid !== this.uid) return this.markGone()
    if (this.pod && !newer(pod.metadata?.resourceVersion, this.pod.metadata?.resourceVersion)) return
    this.pod = pod
    this.notify()
  }

  markGone(): void {
    if (this.gone) return
    this.gone = true
    this.notify()
  }

  notify(): void {
    for (const fn of [...this.listeners]) fn()
  }

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

  onChange(fn: () => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  stop(): void {
    this.release(this)
    this.notify()
  }
}

export interface InformerOptions {
  /** How long API calls are retried on transient errors. */
  retryForMs: number
  /** How long the watch stays open with nobody following a Pod. Default 30 s. */
  idleMs?: number
}

/** The Pods of one namespace. Use `follow(name, uid, initial)`; the list + watch starts on first use. */
export class NamespacePodInformer {
  private readonly subs = new Map<string, Set<Subscription>>()
  /** Latest state of every ctl Pod in the namespace (what a new follower starts from). */
  private readonly cache = new Map<string, V1Pod>()
  private rv: string | undefined
  private running: AbortController | undefined
  private synced: Promise<void> | undefined
  private markSynced: (() => void) | undefined
  private idleTimer: NodeJS.Timeout | undefined

  constructor(
    private readonly kc: KubeConfig,
    private readonly core: CoreV1Api,
    readonly namespace: string,
    private readonly opts: InformerOptions,
  ) {}

  /** Follows one Pod. `initial` (the Pod as created) spares waiting for the list when the Pod is new. */
  follow(name: string, uid: string, initial?: V1Pod): PodView {
    const sub = new Subscription(name, uid, (s) => this.release(s))
    let set = this.subs.get(name)
    if (!set) this.subs.set(name, (set = new Set()))
    set.add(sub)
    if (this.idleTimer) clearTimeout(this.idleTimer)
    this.idleTimer = undefined
    this.ensureRunning()
    const cached = this.cache.get(name)
    if (initial) sub.accept(initial)
    if (cached) sub.accept(cached)
    // A Pod followed after the list (a reattach) that the informer has not seen: it may have been
    // deleted before the list, or created after it and not yet reported. One GET tells which.
    if (!cached && !initial) void this.synced?.then(() => this.checkUnseen(sub))
    return sub
  }

  /** The latest state the informer holds of a Pod (no request), if any: only while it watches (else it may be stale). */
  cached(name: string): V1Pod | undefined {
    return this.running ? this.cache.get(name) : undefined
  }

  /** Stops the watch now (tests, shutdown); what it knew goes with it, as it would go stale. */
  close(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer)
    this.idleTimer = undefined
    this.running?.abort()
    this.running = undefined
    this.cache.clear()
  }

  private release(sub: Subscription): void {
    const set = this.subs.get(sub.name)
    set?.delete(sub)
    if (set && set.size === 0) this.subs.delete(sub.name)
    if (this.subs.size === 0 && this.running && !this.idleTimer) {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = undefined
        if (this.subs.size === 0) this.close()
      }, this.opts.idleMs ?? 30_000)
      this.idleTimer.unref()
    }
  }

  private ensureRunning(): void {
    if (this.running) return
    const ctl = new AbortController()
    this.running = ctl
    this.rv = undefined
    this.cache.clear()
    this.synced = new Promise((resolve) => (this.markSynced = resolve))
    void this.loop(ctl.signal).catch(() => {
      // Never expected (the loop catches what it can retry); followers must not wait forever.
      for (const set of this.subs.values()) for (const s of set) s.markGone()
    }).finally(() => {
      if (this.running === ctl) this.running = undefined
    })
  }

  private async checkUnseen(sub: Subscription): Promise<void> {
    if (sub.pod || sub.gone) return
    try {
      const pod = await withRetry(() => this.core.readNamespacedPod({ namespace: this.namespace, name: sub.name }), { retryForMs: this.opts.retryForMs })
      sub.accept(pod)
    } catch (e) {
      if (statusOf(e) === 404) sub.markGone()
      // Other errors: the watch reports the Pod when it can.
    }
  }

  private deliver(pod: V1Pod): void {
    const name = pod.metadata?.name
    if (!name) return
    const prev = this.cache.get(name)
    if (prev && prev.metadata?.uid === pod.metadata?.uid && !newer(pod.metadata?.resourceVersion, prev.metadata?.resourceVersion)) return
    this.cache.set(name, pod)
    for (const s of this.subs.get(name) ?? []) s.accept(pod)
  }

  private deleted(pod: V1Pod): void {
    const name = pod.metadata?.name
    if (!name) return
    const uid = pod.metadata?.uid
    if (this.cache.get(name)?.metadata?.uid === uid || !uid) this.cache.delete(name)
    for (const s of this.subs.get(name) ?? []) if (!uid || !s.uid || s.uid === uid) s.markGone()
  }

  /** Lists the namespace's ctl Pods, replaces the cache and tells each follower what changed, including deletions missed. */
  private async relist(signal: AbortSignal): Promise<void> {
    const list = await withRetry(() => this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: POD_SELECTOR }), { retryForMs: this.opts.retryForMs, signal })
    const listed = new Map<string, V1Pod>()
    for (const p of list.items) if (p.metadata?.name) listed.set(p.metadata.name, p)
    for (const [name, prev] of this.cache) {
      // Gone from the list and not newer than it: deleted while we were not watching.
      if (!listed.has(name) && newer(list.metadata?.resourceVersion, prev.metadata?.resourceVersion)) this.deleted(prev)
    }
    for (const p of listed.values()) this.deliver(p)
    for (const [name, set] of this.subs) {
      if (listed.has(name)) continue
      for (const s of set) {
        // Created after the list was taken (its create answer is newer): the watch will report it.
        if (s.pod && !newer(list.metadata?.resourceVersion, s.pod.metadata?.resourceVersion)) continue
        if (s.pod) s.markGone()
        else void this.checkUnseen(s)
      }
    }
    this.rv = list.metadata?.resourceVersion
    this.markSynced?.()
  }

  private async loop(signal: AbortSignal): Promise<void> {
    let needList = true
    let failures = 0
    while (!signal.aborted) {
      if (needList) {
        try {
          await this.relist(signal)
          needList = false
        } catch {
          if (signal.aborted) return
          await sleep(backoffMs(failures++), signal).catch(() => undefined)
          continue
        }
      }
      let expired = false
      let events = 0
      try {
        await streamLines(
          this.kc,
          `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/pods`,
          { watch: 'true', labelSelector: POD_SELECTOR, resourceVersion: this.rv, allowWatchBookmarks: 'true', timeoutSeconds: '300' },
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
                expired = true
                continue
              }
              if (!obj) continue
              const rv = obj.metadata?.resourceVersion
              if (ev.type === 'BOOKMARK') {
                this.rv = rv ?? this.rv
                continue
              }
              if (ev.type === 'DELETED') this.deleted(obj)
              else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') this.deliver(obj)
              this.rv = rv ?? this.rv
            }
          },
          signal,
        )
        // A server that ends watches at once must not make this a busy loop.
        if (events === 0) await sleep(backoffMs(failures++), signal).catch(() => undefined)
        else failures = 0
      } catch {
        if (signal.aborted) return
        // A dropped connection (or an error answer, 410 included): list again and compare, as a reflector does,
        // so nothing that happened while no watch was open is missed, whatever the server kept.
        expired = true
        await sleep(backoffMs(failures++), signal).catch(() => undefined)
      }
      // A watch the server ended (its timeout) resumes from the last version seen; an expired one lists again.
      if (expired) needList = true
    }
  }
}
