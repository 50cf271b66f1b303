// Log retention: logs outlive runs and processes, but not forever. A timer
// deletes the lines of step attempts that finished longer ago than the
// retention; running steps are never touched.
import { CtlError } from '../errors.js'
import type { Store } from '../store/types.js'

export const DEFAULT_LOG_RETENTION = '30d'

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `30d`, `12h`, `90m`, `0` (keep forever) → milliseconds; 0 means keep forever. */
export function parseRetention(text: string): number {
  const trimmed = text.trim()
  if (trimmed === '0' || trimmed === 'forever') return 0
  const m = /^(\d+)(s|m|h|d)$/.exec(trimmed)
  if (!m) throw new CtlError('E_USAGE', `log retention "${text}" is not a duration such as 30d, 12h or 90m (0 keeps logs forever)`)
  return Number(m[1]) * UNIT_MS[m[2]!]!
}

export interface LogRetention {
  /** Deletes what is due now; returns the number of lines deleted. */
  sweep(): Promise<number>
  stop(): void
}

export function startLogRetention(opts: { store: Store; retentionMs: number; intervalMs?: number; now?: () => Date; onError?: (err: unknown) => void }): LogRetention {
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
