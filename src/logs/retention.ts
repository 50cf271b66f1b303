// Log retention: logs outlive runs and processes, but not forever. A timer
// deletes the lines of step attempts that finished longer ago than the
// retention; running steps are never touched.
import { MAX_CALENDAR_DURATION_MS, parseDuration } from '../duration.js'
import type { LogStore } from '../store/types.js'

export const DEFAULT_LOG_RETENTION = '30d'

/** `30d`, `12h`, `1w`, `0` or `forever` (keep forever) → milliseconds, 0 meaning forever; E_USAGE otherwise. A bare number other than 0 is refused: `30` would be 30 seconds to the grammar, 30 days to a reader. */
export function parseRetention(text: string): number {
  if (text.trim() === 'forever') return 0
  return parseDuration(text, { what: 'log retention', maxMs: MAX_CALENDAR_DURATION_MS, allowZero: true })
}

export interface LogRetention {
  /** Deletes what is due now; returns the number of lines deleted. */
  sweep(): Promise<number>
  stop(): void
}

export function startLogRetention(opts: { store: LogStore; retentionMs: number; intervalMs?: number; now?: () => Date; onError?: (err: unknown) => void }): LogRetention {
  const now = opts.now ?? (() => new Date())
  const sweep = async (): Promise<number> => {
    if (opts.retentionMs <= 0) return 0
    return opts.store.deleteLogsBefore(new Date(now().getTime() - opts.retentionMs).toISOString())
  }
  const timer = setInterval(() => {
    sweep().catch((err) => opts.onError?.(err))
  }, opts.intervalMs ?? 3_600_000)
  timer.unref()
  return { sweep, stop: () => clearInterval(timer) }
}
