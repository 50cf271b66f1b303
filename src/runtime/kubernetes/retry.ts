// API errors: which are worth retrying (429, 5xx, broken connections) and how those that are not
// become CtlErrors. The client library's ApiException is recognised by shape, so this module does
// not load the library.

import { CtlError, type ErrorCode } from '../../errors.js'
import { StreamError } from './http.js'

const TRANSIENT_HTTP = new Set([429, 500, 502, 503, 504])
const NETWORK = /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|UND_ERR_\w+)$/

/** The HTTP status of an API error (ApiException or StreamError); 0 for a broken connection; undefined for other errors. */
export function statusOf(e: unknown): number | undefined {
  if (e instanceof StreamError) return e.code
  if (e && typeof e === 'object') {
    const o = e as { code?: unknown; body?: unknown; name?: unknown; type?: unknown }
    if (typeof o.code === 'number' && 'body' in o) return o.code
    if (typeof o.code === 'string' && NETWORK.test(o.code)) return 0
    if (o.name === 'FetchError' || o.type === 'system') return 0
  }
  return undefined
}

export function isTransient(e: unknown): boolean {
  const s = statusOf(e)
  return s === 0 || (s !== undefined && TRANSIENT_HTTP.has(s))
}

function retryAfterMs(e: unknown): number | undefined {
  if (e instanceof StreamError) return e.retryAfterSeconds !== undefined ? e.retryAfterSeconds * 1000 : undefined
  const h = (e as { headers?: Record<string, string> } | undefined)?.headers
  const v = h ? Number(h['retry-after'] ?? h['Retry-After']) : NaN
  return Number.isFinite(v) ? v * 1000 : undefined
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(t)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

export interface RetryOptions {
  /** Give up on transient errors after this long. */
  retryForMs: number
  signal?: AbortSignal
}

/** Backoff delay of attempt n (0-based): 100 ms doubling to 3 s, or the server's Retry-After (at most 10 s). */
export function backoffMs(n: number, e?: unknown): number {
  const after = e === undefined ? undefined : retryAfterMs(e)
  if (after !== undefined) return Math.min(after, 10_000)
  return Math.min(100 * 2 ** n, 3000)
}

/** Runs `fn` again on transient errors until it succeeds, fails otherwise, or retryForMs has passed. */
export async function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const until = Date.now() + opts.retryForMs
  for (let n = 0; ; n++) {
    try {
      return await fn()
    } catch (e) {
      if (!isTransient(e) || Date.now() >= until || opts.signal?.aborted) throw e
      await sleep(Math.min(backoffMs(n, e), Math.max(0, until - Date.now())), opts.signal)
    }
  }
}

/** A CtlError for an API error a caller cannot retry away. */
export function apiError(what: string, e: unknown): CtlError {
  if (e instanceof CtlError) return e
  const s = statusOf(e)
  const code: ErrorCode =
    s === 401 ? 'E_UNAUTHENTICATED' : s === 403 ? 'E_FORBIDDEN' : s === 404 ? 'E_NOT_FOUND' : s === 409 ? 'E_CONFLICT' : s === 429 ? 'E_RATE_LIMITED' : s === 422 || s === 400 ? 'E_INTERNAL' : 'E_UNAVAILABLE'
  const body = (e as { body?: unknown } | undefined)?.body
  let detail = e instanceof Error ? e.message : String(e)
  if (typeof body === 'string') {
    try {
      detail = (JSON.parse(body) as { message?: string }).message ?? detail
    } catch {}
  } else if (body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string') {
    detail = (body as { message: string }).message
  }
  return new CtlError(code, `${what}: ${s ? `HTTP ${s}: ` : ''}${detail}`)
}
