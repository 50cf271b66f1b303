// Who waits for a run to end in this process (a `--wait` follower's watch stream) hears it at once,
// rather than on its next read of the store. Another control plane's end is not heard here: waiters
// still read the store on their own schedule, this only shortens the wait.

export class RunEnds {
  private readonly waiters = new Map<string, Set<() => void>>()
  /** Told of every run's end (the backfill runner: a slot is free). */
  private readonly listeners = new Set<(runId: string) => void>()

  /** Calls `fn` at every run's end, synchronously from ended(). */
  listen(fn: (runId: string) => void): void {
    this.listeners.add(fn)
  }

  /** The run has ended (or changed its final state): wake everyone waiting for it. */
  ended(runId: string): void {
    for (const fn of this.listeners) fn(runId)
    const set = this.waiters.get(runId)
    if (!set) return
    this.waiters.delete(runId)
    for (const wake of set) wake()
  }

  /** Resolves when the run ends here, after `ms`, or when `signal` aborts; whichever comes first. */
  wait(runId: string, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(runId)
      if (!set) this.waiters.set(runId, (set = new Set()))
      const done = (): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        const s = this.waiters.get(runId)
        s?.delete(done)
        if (s?.size === 0) this.waiters.delete(runId)
        resolve()
      }
      const timer = setTimeout(done, ms)
      signal.addEventListener('abort', done, { once: true })
      set.add(done)
      if (signal.aborted) done()
    })
  }
}
