// Authenticating webhook calls. A request carries `X-Ctl-Timestamp: UNIX_SECONDS` and
// `X-Ctl-Signature: sha256=HEX`, HEX = HMAC-SHA256(HMAC_KEY, TIMESTAMP + "." + BODY): GitHub's header
// format, but the timestamp is signed with the body (as Stripe and Slack do), so a captured request
// cannot be replayed later with a fresh timestamp. Timestamps more than 5 minutes away are refused,
// and a signature seen within those 5 minutes is refused again (ReplayCache), so an exact replay fails too.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/** How far a request's timestamp may be from the server's clock, either way. */
export const HOOK_WINDOW_MS = 5 * 60_000
/** Largest hook body; 413 above (checked while reading, before any HMAC work). */
export const HOOK_BODY_LIMIT = 256 * 1024
export const SIGNATURE_HEADER = 'x-ctl-signature'
export const TIMESTAMP_HEADER = 'x-ctl-timestamp'

/** HMAC computations done, for tests and metrics: a rate-limited address must cost none. */
export const hookStats = { hmac: 0 }

/** The signature of `body` sent at `timestamp` (unix seconds, as sent), as lowercase hex. */
export function signHook(key: string, timestamp: string, body: Buffer | string): string {
  hookStats.hmac++
  return createHmac('sha256', key).update(`${timestamp}.`).update(body).digest('hex')
}

export type HookHeaders = { signature: string; timestamp: string; at: number }

/** The two headers, or why they are unusable (missing, malformed, outside the window). */
export function readHookHeaders(headers: Record<string, string | string[] | undefined>, now = Date.now()): HookHeaders | string {
  const sig = headers[SIGNATURE_HEADER]
  const ts = headers[TIMESTAMP_HEADER]
  if (typeof sig !== 'string' || typeof ts !== 'string') return 'missing X-Ctl-Signature or X-Ctl-Timestamp header'
  const m = /^sha256=([0-9a-fA-F]{64})$/.exec(sig.trim())
  if (!m) return 'X-Ctl-Signature must be "sha256=" and 64 hex digits'
  if (!/^\d{1,12}$/.test(ts.trim())) return 'X-Ctl-Timestamp must be unix seconds'
  const at = Number(ts.trim()) * 1000
  if (Math.abs(now - at) > HOOK_WINDOW_MS) return 'X-Ctl-Timestamp is more than 5 minutes away from the server\'s clock'
  return { signature: m[1]!.toLowerCase(), timestamp: ts.trim(), at }
}

/** A key nobody knows, to spend the same HMAC work on unknown hooks as on known ones. */
const DECOY_KEY = randomBytes(32).toString('hex')

/**
 * Whether `sig` signs `body` at `timestamp` under `key`; `key` undefined (unknown hook, secret gone)
 * still computes an HMAC with a decoy key, so the answer takes as long whatever exists.
 */
export function signatureMatches(key: string | undefined, timestamp: string, body: Buffer, sig: string): boolean {
  const expected = Buffer.from(signHook(key ?? DECOY_KEY, timestamp, body), 'hex')
  const given = Buffer.from(sig, 'hex')
  return given.length === expected.length && timingSafeEqual(given, expected) && key !== undefined
}

/**
 * Signatures accepted within the window, so each is accepted once. Bounded: when full, the oldest
 * entry is dropped and every timestamp up to its own is refused from then on (the floor), so an
 * evicted signature cannot be replayed either; at worst valid but late requests are refused.
 */
export class ReplayCache {
  private readonly seen = new Map<string, number>()
  private floor = 0
  constructor(private readonly maxEntries = 10_000) {}

  /** False when `id` was seen (or is at or below the floor); otherwise records it. */
  accept(id: string, at: number, now = Date.now()): boolean {
    if (at <= this.floor || this.seen.has(id)) return false
    for (const [k, t] of this.seen) {
      if (now - t <= HOOK_WINDOW_MS) break // insertion order: roughly oldest first
      this.seen.delete(k)
    }
    while (this.seen.size >= this.maxEntries) {
      const [k, t] = this.seen.entries().next().value!
      this.seen.delete(k)
      // Never above now: a flood stamped minutes ahead must not refuse every honest call until then.
      this.floor = Math.max(this.floor, Math.min(t, now))
    }
    if (at <= this.floor) return false
    this.seen.set(id, at)
    return true
  }

  /** Forgets an accepted `id` whose request made nothing, so that its redelivery is accepted. */
  forget(id: string): void {
    this.seen.delete(id)
  }

  get size(): number {
    return this.seen.size
  }
}

/**
 * One ReplayCache per webhook secret: a signature is used once on any hook that shares the key (the signed text
 * does not name the hook), and a flood under one key fills that key's cache alone. At most `maxKeys` caches.
 */
export class ReplayCaches {
  private readonly caches = new Map<string, ReplayCache>()
  constructor(private readonly maxKeys = 1_000) {}

  accept(secret: string, signature: string, at: number, now = Date.now()): boolean {
    let cache = this.caches.get(secret)
    if (cache) this.caches.delete(secret) // most recently used last
    else {
      cache = new ReplayCache()
      if (this.caches.size >= this.maxKeys) this.caches.delete(this.caches.keys().next().value!)
    }
    this.caches.set(secret, cache)
    return cache.accept(signature, at, now)
  }

  forget(secret: string, signature: string): void {
    this.caches.get(secret)?.forget(signature)
  }
}
