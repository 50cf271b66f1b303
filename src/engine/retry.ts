// Retry policy, pure: whether a failed attempt gets another one, and when.
// Strategies follow Argo's names with the meanings DataOS documents.

import { readDuration } from '../duration.js'
import { MANIFEST_LIMITS } from '../manifest/limits.js'
import type { RetrySpec } from '../manifest/model.js'

/** Why an attempt ended, as stored on the step run. Runtime exit reasons plus `LaunchError` (the engine could not build the step). */
export type FailureReason = 'Error' | 'DeadlineExceeded' | 'Killed' | 'StartError' | 'Lost' | 'LaunchError' | string

/** Stored as the reason of a step a person rejected (its message: `Rejected by USER: COMMENT`). */
export const REJECTED_REASON = 'Rejected'
/** Stored as the reason of a step whose approval timed out. */
export const APPROVAL_TIMEOUT_REASON = 'ApprovalTimeout'
/** Stored as the reason of a step whose approval condition or message could not be evaluated. */
export const APPROVAL_ERROR_REASON = 'ApprovalError'

/** Ends that are a decision, never a failure to try again: a kill (user or system), a person's rejection, an approval that timed out or could not be asked. */
const NEVER_RETRIED: ReadonlySet<string> = new Set(['Killed', REJECTED_REASON, APPROVAL_TIMEOUT_REASON, APPROVAL_ERROR_REASON])

const TRANSIENT_MESSAGE = /transient|timeout|temporar/i

/** Does `strategy` retry a failure with this reason and message? A decision (NEVER_RETRIED) is never retried. */
export function strategyRetries(strategy: RetrySpec['strategy'], reason: FailureReason, message?: string): boolean {
  if (NEVER_RETRIED.has(reason)) return false
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
  // Lint checked these texts with the same grammar and bounds; a stored manifest older than a bound reads as absent.
  const base = retryDuration(retry.duration, MANIFEST_LIMITS.retryDelayMs) ?? 0
  const factor = retry.factor ?? 2
  // factor^attempt grows without bound (100 attempts × factor 10); each wait stays within the largest first one.
  const delay = Math.min(base * Math.pow(factor, input.attempt - 1), MANIFEST_LIMITS.retryDelayMs)
  const at = new Date(input.now.getTime() + delay)
  const max = retryDuration(retry.maxDuration, MANIFEST_LIMITS.retryMaxDurationMs)
  if (max !== undefined && at.getTime() - input.firstStartedAt.getTime() > max) return undefined
  return at
}

function retryDuration(text: string | undefined, maxMs: number): number | undefined {
  if (text === undefined) return undefined
  const r = readDuration(text, { maxMs, allowZero: true })
  return r.ok ? r.ms : undefined
}
