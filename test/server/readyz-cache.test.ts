// /readyz asks the store at most once a second, and concurrent probes share one check (review 13, item 10): an
// unauthenticated flood of probes must not take the pool connections the engine needs.
import { expect, it } from 'vitest'
import { cachedReadiness } from '../../src/http/app.js'

it('one check for concurrent probes and for probes within the cache time; asked again after it', async () => {
  let checks = 0
  let release: (ok: boolean) => void = () => undefined
  let clock = 1_000
  const ready = cachedReadiness(() => {
    checks++
    return new Promise<boolean>((resolve) => (release = resolve))
  }, 1_000, () => clock)
  const flood = Array.from({ length: 50 }, () => ready())
  expect(checks).toBe(1)
  release(true)
  expect(await Promise.all(flood)).toEqual(Array.from({ length: 50 }, () => true))
  clock += 999
  expect(await ready()).toBe(true)
  expect(checks).toBe(1)
  clock += 1
  const next = ready()
  expect(checks).toBe(2)
  release(false)
  expect(await next).toBe(false)
  // A check that throws reads as not ready, and is cached like any answer.
  clock += 1_000
  const failing = cachedReadiness(() => Promise.reject(new Error('down')), 1_000, () => clock)
  expect(await failing()).toBe(false)
})
