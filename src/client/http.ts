// A small HTTP transport on node:http / node:https. The global fetch of Node 20
// loads undici (tens of milliseconds) on first use; a CLI that makes one or two
// calls per invocation should not pay that at every start.
import type { IncomingMessage } from 'node:http'

/** The part of a fetch Response the client uses; global fetch's Response satisfies it too. */
export interface HttpResponse {
  readonly ok: boolean
  readonly status: number
  readonly statusText: string
  /** Async iterable of byte chunks (a Node stream or a web ReadableStream). */
  readonly body: unknown
  readonly headers: { get(name: string): string | null }
  json(): Promise<unknown>
  text(): Promise<string>
}

export interface HttpRequestInit {
  method?: string
  headers?: Record<string, string>
  body?: string
  signal?: AbortSignal | null
}

export type FetchLike = (input: string, init?: HttpRequestInit) => Promise<HttpResponse>

class NodeResponse implements HttpResponse {
  constructor(private readonly message: IncomingMessage) {}
  get ok(): boolean {
    return this.status >= 200 && this.status < 300
  }
  get status(): number {
    return this.message.statusCode ?? 0
  }
  get statusText(): string {
    return this.message.statusMessage ?? ''
  }
  get body(): AsyncIterable<Uint8Array> {
    return this.message
  }
  get headers(): { get(name: string): string | null } {
    const all = this.message.headers
    return {
      get: (name) => {
        const value = all[name.toLowerCase()]
        return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value
      },
    }
  }
  async json(): Promise<unknown> {
    return JSON.parse(await this.text())
  }
  /** The whole body as one string: decoded chunk by chunk as it arrives (no megabyte copy at the end). */
  text(): Promise<string> {
    return new Promise((resolve, reject) => {
      let text = ''
      this.message.setEncoding('utf8')
      this.message.on('data', (chunk: string) => (text += chunk))
      this.message.once('end', () => resolve(text))
      this.message.once('error', reject)
    })
  }
}

export const nodeFetch: FetchLike = async (input, init = {}) => {
  const url = new URL(input)
  const { request } = url.protocol === 'https:' ? await import('node:https') : await import('node:http')
  return new Promise<HttpResponse>((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers, signal: init.signal ?? undefined }, (res) => resolve(new NodeResponse(res)))
    req.on('error', (err) => {
      // Same shape as fetch's failures: the system error as `cause`.
      reject(Object.assign(new Error((err as Error).message), { name: (err as Error).name, cause: err }))
    })
    req.end(init.body)
  })
}
