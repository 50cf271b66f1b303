// Streaming GETs against the API server (watches and `pods/log?follow=true`). The client library's
// Watch and Log helpers hide the end of a stream and its errors behind callbacks that may never fire
// on a half-closed connection; here every stream ends in exactly one resolve or reject, and the
// caller reads it chunk by chunk so it can await its own consumer (backpressure).

import http from 'node:http'
import https from 'node:https'
import type { CoreV1Api, KubeConfig } from '@kubernetes/client-node'

/** Counts one request to the API server by verb (`get`, `watch`, `post`…) and status code (0: no answer). */
export type KubeRequestCounter = (verb: string, code: number) => void

// Keyed by the runtime's own KubeConfig (one per control plane): every request to its cluster, the client
// library's and the streams below, is counted without handing a counter to each caller.
const counters = new WeakMap<KubeConfig, KubeRequestCounter>()

export function countRequestsOf(kc: KubeConfig, count: KubeRequestCounter): void {
  counters.set(kc, count)
}

/** The core API client of `kc` (as kc.makeApiClient), its requests counted when a counter is set. */
export function coreApiOf(k8s: typeof import('@kubernetes/client-node'), kc: KubeConfig): CoreV1Api {
  const count = counters.get(kc)
  const cluster = kc.getCurrentCluster()
  if (!count || !cluster) return kc.makeApiClient(k8s.CoreV1Api)
  const inner = new k8s.IsomorphicFetchHttpLibrary()
  const httpApi = k8s.wrapHttpLibrary({
    async send(request) {
      const verb = request.getHttpMethod().toLowerCase()
      try {
        const response = await inner.send(request).toPromise()
        count(verb, response.httpStatusCode)
        return response
      } catch (err) {
        count(verb, 0)
        throw err
      }
    },
  })
  return new k8s.CoreV1Api(k8s.createConfiguration({ baseServer: new k8s.ServerConfiguration(cluster.server, {}), authMethods: { default: kc }, httpApi }))
}

/** An HTTP answer other than 200 (code) or a broken connection (code 0). */
export class StreamError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message)
  }
}

/**
 * GETs `path?query` and hands each complete line to `onLines` (awaited: the next chunk is read
 * afterwards). Resolves when the server ends the body; rejects with StreamError otherwise.
 */
export async function streamLines(
  kc: KubeConfig,
  path: string,
  query: Record<string, string | undefined>,
  onLines: (lines: string[]) => Promise<void> | void,
  signal?: AbortSignal,
): Promise<void> {
  const cluster = kc.getCurrentCluster()
  if (!cluster) throw new StreamError(0, 'no current cluster in the kubeconfig')
  const url = new URL(cluster.server.replace(/\/+$/, '') + path)
  for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v)
  const opts: https.RequestOptions = { method: 'GET', headers: {} }
  await kc.applyToHTTPSOptions(opts)
  const isHttps = url.protocol === 'https:'
  // applyToHTTPSOptions adds an https.Agent; a plain-http server (a local proxy, the test fake) needs none.
  if (!isHttps) delete opts.agent
  const mod = isHttps ? https : http
  const count = counters.get(kc)
  const verb = query.watch === 'true' ? 'watch' : 'get'
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = mod.request(url, { ...opts, signal }, resolve)
    req.on('error', (e) => reject(new StreamError(0, `GET ${path}: ${e.message}`)))
    req.end()
  }).catch((err: unknown) => {
    count?.(verb, 0)
    throw err
  })
  count?.(verb, res.statusCode ?? 0)
  if (res.statusCode !== 200) {
    let body = ''
    for await (const chunk of res) body += String(chunk)
    const retry = Number(res.headers['retry-after'])
    let message = body.slice(0, 500)
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? message
    } catch {}
    throw new StreamError(res.statusCode ?? 0, `GET ${path}: ${res.statusCode} ${message}`, Number.isFinite(retry) ? retry : undefined)
  }
  // Decoded by the stream, so a character split across chunks stays whole.
  res.setEncoding('utf8')
  let rest = ''
  // The consumer's own errors pass through as they are; only the connection's become StreamErrors.
  let consumerFailed: { error: unknown } | undefined
  try {
    for await (const chunk of res) {
      const text = rest + String(chunk)
      const parts = text.split('\n')
      rest = parts.pop() ?? ''
      if (!parts.length) continue
      try {
        await onLines(parts)
      } catch (error) {
        consumerFailed = { error }
        break
      }
    }
  } catch (e) {
    throw new StreamError(0, `GET ${path}: ${(e as Error).message}`)
  }
  if (consumerFailed) throw consumerFailed.error
  // A body that ends without a final newline still ends a line.
  if (!res.complete) throw new StreamError(0, `GET ${path}: connection closed before the end of the answer`)
  if (rest) await onLines([rest])
}
