// Followers waiting for a run's next log lines, woken by the store that appended them (or by a
// PostgreSQL notification). Shared by the store implementations; holds nothing but callbacks.

export class LogWaiters {
  private readonly byRun = new Map<string, Set<() => void>>()

  /** Resolves on notify(runId), after timeoutMs, or on abort, whichever comes first; never rejects. */
  wait(runId: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve()
      let set = this.byRun.get(runId)
      if (!set) this.byRun.set(runId, (set = new Set()))
      const done = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        const s = this.byRun.get(runId)
        if (s) {
          s.delete(done)
          if (s.size === 0) this.byRun.delete(runId)
        }
        resolve()
      }
      const timer = setTimeout(done, Math.max(0, timeoutMs))
      signal?.addEventListener('abort', done, { once: true })
      set.add(done)
    })
  }

  /** Wakes every follower of the run. */
  notify(runId: string): void {
    const set = this.byRun.get(runId)
    if (set) for (const wake of [...set]) wake()
  }

  /** Whether any follower waits for the run (a notifier may skip work for runs nobody follows). */
  has(runId: string): boolean {
    return this.byRun.has(runId)
  }

  /** Wakes every follower of every run (e.g. notifications may have been missed). */
  wakeAll(): void {
    for (const runId of [...this.byRun.keys()]) this.notify(runId)
  }

  /** Wakes everyone (the store is closing). */
  closeAll(): void {
    this.wakeAll()
  }
}
