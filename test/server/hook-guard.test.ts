// The webhook guard's parts on their own: header reading and the 5-minute window, the signature (timestamp
// covered), and the bounded replay cache, whose floor keeps an evicted signature from being replayed.
import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { HOOK_WINDOW_MS, readHookHeaders, ReplayCache, ReplayCaches, signatureMatches, signHook } from '../../src/http/hook-guard.js'

describe('hook guard', () => {
  const now = 1_800_000_000_000
  const ts = String(now / 1000)

  it('signs TIMESTAMP.BODY with HMAC-SHA256, as openssl would', () => {
    const expected = createHmac('sha256', 'key').update(`${ts}.{"a":1}`).digest('hex')
    expect(signHook('key', ts, '{"a":1}')).toBe(expected)
    expect(signatureMatches('key', ts, Buffer.from('{"a":1}'), expected)).toBe(true)
    expect(signatureMatches('key', String(now / 1000 + 1), Buffer.from('{"a":1}'), expected)).toBe(false)
    expect(signatureMatches(undefined, ts, Buffer.from('{"a":1}'), expected)).toBe(false)
  })

  it('reads the headers and bounds the timestamp to 5 minutes either way', () => {
    const sig = `sha256=${'a'.repeat(64)}`
    expect(readHookHeaders({ 'x-ctl-signature': sig, 'x-ctl-timestamp': ts }, now)).toEqual({ signature: 'a'.repeat(64), timestamp: ts, at: now })
    expect(readHookHeaders({ 'x-ctl-signature': sig }, now)).toMatch(/missing/)
    expect(readHookHeaders({ 'x-ctl-signature': 'sha1=abc', 'x-ctl-timestamp': ts }, now)).toMatch(/sha256=/)
    expect(readHookHeaders({ 'x-ctl-signature': sig, 'x-ctl-timestamp': '12.5' }, now)).toMatch(/unix seconds/)
    expect(readHookHeaders({ 'x-ctl-signature': sig, 'x-ctl-timestamp': String((now + HOOK_WINDOW_MS + 1000) / 1000) }, now)).toMatch(/5 minutes/)
    expect(readHookHeaders({ 'x-ctl-signature': sig, 'x-ctl-timestamp': String((now - HOOK_WINDOW_MS - 1000) / 1000) }, now)).toMatch(/5 minutes/)
  })

  it('accepts a signature once; when full, evicted signatures stay refused through the floor', () => {
    const cache = new ReplayCache(3)
    expect(cache.accept('a', now - 4000, now)).toBe(true)
    expect(cache.accept('a', now - 4000, now)).toBe(false)
    expect(cache.accept('b', now - 3000, now)).toBe(true)
    expect(cache.accept('c', now - 2000, now)).toBe(true)
    expect(cache.accept('d', now - 1000, now)).toBe(true) // evicts a: the floor rises to a's time
    expect(cache.size).toBe(3)
    expect(cache.accept('a', now - 4000, now)).toBe(false)
    expect(cache.accept('e', now - 5000, now)).toBe(false)
    // Entries past the window are dropped as new ones come.
    expect(cache.accept('f', now + HOOK_WINDOW_MS, now + HOOK_WINDOW_MS + 3500)).toBe(true)
    expect(cache.size).toBeLessThanOrEqual(3)
  })

  it('a flood stamped minutes ahead never lifts the floor above now: honest calls still pass', () => {
    const cache = new ReplayCache(3)
    for (let i = 0; i < 10; i++) expect(cache.accept(`flood-${i}`, now + 299_000, now)).toBe(true)
    expect(cache.accept('honest', now - 1000, now)).toBe(false) // at or below now: the floor holds what was evicted
    expect(cache.accept('honest-now', now + 1, now)).toBe(true)
  })

  it('one cache per secret: a signature is used once across the hooks of one key; another key is not touched', () => {
    const caches = new ReplayCaches(2)
    expect(caches.accept('ws\u0000key-a', 'sig', now, now)).toBe(true)
    expect(caches.accept('ws\u0000key-a', 'sig', now, now)).toBe(false)
    expect(caches.accept('ws\u0000key-b', 'sig', now, now)).toBe(true)
  })
})
