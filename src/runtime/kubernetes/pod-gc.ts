// When a finished step's Pod goes (and with it, through owner references, its Secret and ConfigMap): at once,
// after a TTL, or never (gcWhenComplete false, for inspection). A TTL deletion waits on a timer; a sweep finds
// what a restart left, since timers die with the process.

import type { V1Pod } from '@kubernetes/client-node'
import { exitFromPod } from './status.js'

export interface PodRef {
  namespace: string
  podName: string
  uid: string
}

export interface PodCollectorOptions {
  gcWhenComplete: boolean
  /** 0: at once. */
  ttlMs: number
  /** How often the sweep runs. Default the TTL, at least a minute. */
  sweepEveryMs?: number
  deletePod(ref: PodRef): Promise<void>
  /** ctl's Pods in the runtime's namespaces (the sweep's candidates). */
  listPods(): Promise<V1Pod[]>
  /** A Pod this control plane still follows is not the sweep's. */
  isFollowed(uid: string): boolean
}

export class PodCollector {
  /** Deletions waiting for the TTL. */
  private readonly expiring = new Set<NodeJS.Timeout>()
  private sweeper: NodeJS.Timeout | undefined

  constructor(private readonly opts: PodCollectorOptions) {
    if (opts.gcWhenComplete && opts.ttlMs > 0) {
      this.sweeper = setInterval(() => void this.sweep().catch(() => undefined), opts.sweepEveryMs ?? Math.max(opts.ttlMs, 60_000))
      this.sweeper.unref()
    }
  }

  /** The attempt ended and everything it produced is stored: its Pod goes now, later, or never. */
  async collect(ref: PodRef): Promise<void> {
    if (!this.opts.gcWhenComplete) return
    if (this.opts.ttlMs <= 0) return this.opts.deletePod(ref)
    const t = setTimeout(() => {
      this.expiring.delete(t)
      void this.opts.deletePod(ref).catch(() => undefined)
    }, this.opts.ttlMs)
    t.unref()
    this.expiring.add(t)
  }

  /**
   * Finished Pods older than the TTL, deleted. A Pod that ended while the control plane was down is collected on
   * reattach within seconds, long before a sweep, which runs first one period after start.
   */
  async sweep(): Promise<void> {
    const now = Date.now()
    for (const pod of await this.opts.listPods()) {
      const meta = pod.metadata
      if (!meta?.name || !meta.namespace || !meta.uid || meta.deletionTimestamp) continue
      const ended = exitFromPod(pod)
      if (!ended || now - Date.parse(ended.finishedAt) < this.opts.ttlMs || this.opts.isFollowed(meta.uid)) continue
      await this.opts.deletePod({ namespace: meta.namespace, podName: meta.name, uid: meta.uid })
    }
  }

  /** Deletions still waiting for their TTL are left to the next control plane's sweep. */
  close(): void {
    for (const t of this.expiring) clearTimeout(t)
    this.expiring.clear()
    if (this.sweeper) clearInterval(this.sweeper)
    this.sweeper = undefined
  }
}
