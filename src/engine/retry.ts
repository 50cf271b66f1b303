// Retry policy, pure: whether a failed attempt gets another one, and when.
// Strategies follow Argo's names with the meanings DataOS documents.

import type { RetrySpec } from '../manifest/model.js'

/** Why an attempt ended, as stored on the step run. Runtime exit reasons plus `LaunchError` (the engine could not build the step). */
export type FailureReason = 'Error' | 'DeadlineExceeded' | 'Killed' | 'StartError' | 'Lost' | 'LaunchError' | string

const TRANSIENT_MESSAGE = /transient|timeout|temporar/i

/** Does `strategy` retry a failure with this reason and message? A kill (user or system) is never retried. */
export function strategyRetries(strategy: RetrySpec['strategy'], reason: FailureReason, message?: string): boolean {
  if (reason === 'Killed') return false
  switch (strategy) {
    case 'Always':
      return true
    case 'OnFailure':
      // The step's own code exited non-zero.
      return reason === 'Error'
    case 'OnError':
      // Errors not caused by the step's own code.
      return reason === 'StartError' || reason === 'Lost'
    case 'OnTransientError':
      return reason === 'Lost' || TRANSIENT_MESSAGE.test(message ?? '')
  }
}

/** `10s`, `1m30s`, `500ms`, `2h`, or a bare number of seconds → milliseconds. Undefined for garbage. */
export function parseDurationMs(text: string | number | undefined): number | undefined {
  if (text === undefined) return undefined
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text * 1000 : undefined
  const t = text.trim()
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy
  let total = 0
  let matched = 0
  let m: RegExpExecArray | null
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * unit[m[2]!]!
    matched = re.lastIndex
  }
  return matched === t.length && t.length > 0 ? total : undefined
}

export interface RetryInput {
  retry: RetrySpec | undefined
  /** 1-based number of the attempt that just failed. */
  attempt: number
  reason: FailureReason
  message?: string
  /** When the step's first attempt started (for maxDuration). */
  firstStartedAt: Date
  now: Date
}

/** The next attempt's earliest start, or undefined when the step must stay failed. */
export function nextAttemptAt(input: RetryInput): Date | undefined {
  const { retry } = input
  if (retry === undefined || retry.count <= 0) return undefined
  if (input.attempt > retry.count) return undefined
  if (!strategyRetries(retry.strategy ?? 'OnFailure', input.reason, input.message)) return undefined
  const base = parseDurationMs(retry.duration) ?? 0
  const factor = retry.factor ?? 2
  const delay = base * Math.pow(factor, input.attempt - 1)
  const at = new Date(input.now.getTime() + delay)
  const max = parseDurationMs(retry.maxDuration)
  if (max !== undefined && at.getTime() - input.firstStartedAt.getTime() > max) return undefined
  return at
}
