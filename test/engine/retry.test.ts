import { describe, expect, it } from 'vitest'
import { nextAttemptAt, strategyRetries } from '../../src/engine/retry.js'
import type { RetrySpec } from '../../src/manifest/model.js'

describe('strategyRetries', () => {
  const reasons = ['Error', 'DeadlineExceeded', 'Killed', 'StartError', 'Lost', 'LaunchError']
  const table: Record<RetrySpec['strategy'], string[]> = {
    Always: ['Error', 'DeadlineExceeded', 'StartError', 'Lost', 'LaunchError'],
    OnFailure: ['Error'],
    OnError: ['StartError', 'Lost'],
    OnTransientError: ['Lost'],
  }
  for (const [strategy, yes] of Object.entries(table)) {
    it(`${strategy} retries exactly ${yes.join(', ')}`, () => {
      for (const r of reasons) expect(strategyRetries(strategy as RetrySpec['strategy'], r), r).toBe(yes.includes(r))
    })
  }
  it('OnTransientError also retries failures whose message looks transient', () => {
    expect(strategyRetries('OnTransientError', 'Error', 'connection Timeout to db')).toBe(true)
    expect(strategyRetries('OnTransientError', 'Error', 'Temporary failure in name resolution')).toBe(true)
    expect(strategyRetries('OnTransientError', 'Error', 'a Transient glitch')).toBe(true)
    expect(strategyRetries('OnTransientError', 'Error', 'exit code 1')).toBe(false)
    expect(strategyRetries('OnTransientError', 'Killed', 'timeout')).toBe(false)
  })
})

describe('nextAttemptAt', () => {
  const now = new Date('2024-01-01T00:00:10Z')
  const first = new Date('2024-01-01T00:00:00Z')
  const base = { attempt: 1, reason: 'Error', firstStartedAt: first, now }
  it('no retry spec, no retry', () => {
    expect(nextAttemptAt({ ...base, retry: undefined })).toBeUndefined()
    expect(nextAttemptAt({ ...base, retry: { count: 0, strategy: 'Always' } })).toBeUndefined()
  })
  it('retries immediately without a duration, up to count extra attempts', () => {
    const retry: RetrySpec = { count: 2, strategy: 'OnFailure' }
    expect(nextAttemptAt({ ...base, retry })?.toISOString()).toBe(now.toISOString())
    expect(nextAttemptAt({ ...base, retry, attempt: 2 })).toBeDefined()
    expect(nextAttemptAt({ ...base, retry, attempt: 3 })).toBeUndefined()
  })
  it('backs off exponentially', () => {
    const retry: RetrySpec = { count: 5, strategy: 'Always', duration: '2s' }
    const delays = [1, 2, 3, 4].map((attempt) => nextAttemptAt({ ...base, retry, attempt })!.getTime() - now.getTime())
    expect(delays).toEqual([2000, 4000, 8000, 16000])
    const f3 = { ...retry, factor: 3 }
    expect(nextAttemptAt({ ...base, retry: f3, attempt: 3 })!.getTime() - now.getTime()).toBe(18000)
  })
  it('maxDuration caps the total retry time since the first start', () => {
    const retry: RetrySpec = { count: 10, strategy: 'Always', duration: '10s', maxDuration: '1m' }
    // attempt 3: delay 40s → at 50s after first start: allowed; attempt 4: 80s → 90s: refused
    expect(nextAttemptAt({ ...base, retry, attempt: 3 })).toBeDefined()
    expect(nextAttemptAt({ ...base, retry, attempt: 4 })).toBeUndefined()
  })
  it('the strategy decides which failures count', () => {
    expect(nextAttemptAt({ ...base, reason: 'Lost', retry: { count: 1, strategy: 'OnFailure' } })).toBeUndefined()
    expect(nextAttemptAt({ ...base, reason: 'Lost', retry: { count: 1, strategy: 'OnError' } })).toBeDefined()
    expect(nextAttemptAt({ ...base, reason: 'Killed', retry: { count: 1, strategy: 'Always' } })).toBeUndefined()
  })
  it('caps each wait at the largest first backoff, so factor^attempt never overflows a Date', () => {
    const retry: RetrySpec = { count: 100, strategy: 'Always', duration: '1d', factor: 10 }
    const at = nextAttemptAt({ ...base, retry, attempt: 100 })
    expect(at?.getTime()).toBe(now.getTime() + 86_400_000)
  })
})
