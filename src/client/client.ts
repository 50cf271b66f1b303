// Typed client of the control plane's HTTP API. Every failure becomes a CtlError with a
// stable code, so the CLI maps it to an exit code without looking at messages.
import { CtlError, ManifestError, type ErrorCode } from '../errors.js'
import { nodeFetch, type FetchLike, type HttpResponse } from './http.js'
import { INSTANCE_LEVEL_TYPES } from '../manifest/model.js'
import type {
  ApiIssue, ApplyDocument, ApplyResponse, DeleteResponse, ErrorBody, HealthResponse, InfoResponse, ListResourcesQuery,
  ListResourcesResponse, LogLineRecord, LogsQuery, Principal, ResourceDetail, ResourceRef, ResourceRow, ResourceTable, RevisionSummary,
  RunDetail, RunRecord, RunsResponse, WhoAmIResponse,
} from './types.js'

export type { FetchLike } from './http.js'

export interface CtlClientOptions {
  baseUrl: string
  apiKey?: string
  fetch?: FetchLike
  /** Per request, except log follows; default 60 s. */
  timeoutMs?: number
}

type Query = Record<string, string | number | boolean | undefined>

const STATUS_CODES: Record<number, ErrorCode> = {
  400: 'E_USAGE', 401: 'E_UNAUTHENTICATED', 403: 'E_FORBIDDEN', 404: 'E_NOT_FOUND', 409: 'E_CONFLICT', 413: 'E_TOO_LARGE',
  429: 'E_RATE_LIMITED',
}

function queryString(q: Query | undefined): string {
  if (!q) return ''
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== false) params.set(k, String(v))
  const s = params.toString()
  return s ? `?${s}` : ''
}

const seg = encodeURIComponent

type WireItem = [number, string, LogLineRecord['stream'], string] | { runId: string; step: string; attempt: number }

/**
 * Decodes the log wire format (see the server's LogEncoder): context objects, then one
 * `[seq, time, stream, text]` array per line. One JSON.parse per chunk, not per line.
 */
class LogDecoder {
  private runId = ''
  private step = ''
  private attempt = 0
  decode(text: string): LogLineRecord[] {
    if (text.length === 0) return []
    // JSON text never holds a raw newline, so newlines are exactly the record separators.
    const items = JSON.parse(`[${text.replaceAll('\n', ',')}]`) as WireItem[]
    const out: LogLineRecord[] = []
    for (const item of items) {
      if (Array.isArray(item)) {
        out.push({ runId: this.runId, step: this.step, attempt: this.attempt, seq: item[0], time: item[1], stream: item[2], text: item[3] })
      } else {
        this.runId = item.runId
        this.step = item.step
        this.attempt = item.attempt
      }
    }
    return out
  }
}

export class CtlClient {
  readonly baseUrl: string
  private readonly apiKey?: string
  private readonly fetchImpl: FetchLike
  private readonly timeoutMs: number

  constructor(opts: CtlClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '')
    this.apiKey = opts.apiKey
    this.fetchImpl = opts.fetch ?? nodeFetch
    this.timeoutMs = opts.timeoutMs ?? 60_000
  }

  // ---- resources

  /** Apply (create or update) documents in a workspace; instance-level types ignore the workspace. */
  apply(workspace: string, documents: ApplyDocument[], opts: { dryRun?: boolean } = {}): Promise<ApplyResponse> {
    return this.json('POST', `/api/v1/workspaces/${seg(workspace)}/resources`, { dryRun: opts.dryRun }, { documents })
  }

  async list(query: ListResourcesQuery = {}): Promise<ResourceRow[]> {
    const res = await this.json<ListResourcesResponse>('GET', '/api/v1/resources', { ...query })
    return res.resources
  }

  /** The `get` table, printed by the server: cheaper than rows of objects for big listings. */
  listTable(query: ListResourcesQuery = {}): Promise<ResourceTable> {
    return this.json<ResourceTable>('GET', '/api/v1/resources', { ...query, format: 'table' })
  }

  /**
   * The `get` table as the text `ctl` prints ('' when nothing matches), rendered by the server:
   * 10,000 rows go straight to stdout, with no JSON to parse and no cells to pad. A server that
   * answers JSON instead (one older than text tables) gets its ResourceTable returned as it is.
   */
  async listTableText(query: ListResourcesQuery = {}): Promise<string | ResourceTable> {
    const res = await this.request('GET', '/api/v1/resources', { ...query, format: 'table' }, undefined, { accept: 'text/plain, application/json;q=0.5' })
    try {
      if (res.headers.get('content-type')?.startsWith('text/plain')) return await res.text()
      return (await res.json()) as ResourceTable
    } catch (err) {
      throw this.transportError(err)
    }
  }

  get(ref: ResourceRef, opts: { revisions?: boolean } = {}): Promise<ResourceDetail> {
    return this.json('GET', this.resourcePath(ref), { revisions: opts.revisions })
  }

  delete(ref: ResourceRef, opts: { force?: boolean } = {}): Promise<DeleteResponse> {
    return this.json('DELETE', this.resourcePath(ref), { force: opts.force })
  }

  async revisions(ref: ResourceRef): Promise<RevisionSummary[]> {
    return (await this.get(ref, { revisions: true })).revisions ?? []
  }

  // ---- runs

  async runNow(ref: ResourceRef): Promise<RunRecord> {
    return (await this.json<{ run: RunRecord }>('POST', `${this.resourcePath(ref)}/runs`)).run
  }

  async stop(ref: ResourceRef, runId?: string): Promise<RunRecord[]> {
    return (await this.json<RunsResponse>('POST', `${this.resourcePath(ref)}/runs/stop`, undefined, runId ? { runId } : {})).runs
  }

  async retry(ref: ResourceRef, runId?: string): Promise<RunRecord> {
    return (await this.json<{ run: RunRecord }>('POST', `${this.resourcePath(ref)}/runs/retry`, undefined, runId ? { runId } : {})).run
  }

  async runs(ref: ResourceRef, opts: { limit?: number } = {}): Promise<RunRecord[]> {
    return (await this.json<RunsResponse>('GET', `${this.resourcePath(ref)}/runs`, { limit: opts.limit })).runs
  }

  run(runId: string): Promise<RunDetail> {
    return this.json('GET', `/api/v1/runs/${seg(runId)}`)
  }

  // ---- logs

  /**
   * Log lines in batches as they stream in. Without `follow`: the lines stored now; with it:
   * until the step (or run) has ended. Stop early with `break` or the signal.
   */
  async *logs(runId: string, query: LogsQuery = {}, signal?: AbortSignal): AsyncGenerator<LogLineRecord[]> {
    const res = await this.request('GET', `/api/v1/runs/${seg(runId)}/logs`, { ...query }, undefined, { stream: true, signal })
    if (!res.body) return
    const decoder = new TextDecoder()
    const lines = new LogDecoder()
    let rest = ''
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        const text = rest + decoder.decode(chunk, { stream: true })
        const end = text.lastIndexOf('\n')
        if (end < 0) {
          rest = text
          continue
        }
        rest = text.slice(end + 1)
        const batch = lines.decode(text.slice(0, end))
        if (batch.length > 0) yield batch
      }
    } catch (err) {
      if (signal?.aborted) return
      throw this.transportError(err)
    }
    const tail = (rest + decoder.decode()).trim()
    if (tail) yield lines.decode(tail)
  }

  /** One page: every line stored now that matches (no follow). */
  async logPage(runId: string, query: Omit<LogsQuery, 'follow'> = {}): Promise<LogLineRecord[]> {
    const out: LogLineRecord[] = []
    for await (const batch of this.logs(runId, { ...query, follow: false })) for (const l of batch) out.push(l)
    return out
  }

  // ---- meta

  async whoami(): Promise<Principal> {
    return (await this.json<WhoAmIResponse>('GET', '/api/v1/whoami')).principal
  }

  info(): Promise<InfoResponse> {
    return this.json('GET', '/api/v1/info')
  }

  health(): Promise<HealthResponse> {
    return this.json('GET', '/healthz')
  }

  openapi(): Promise<Record<string, unknown>> {
    return this.json('GET', '/api/v1/openapi.json')
  }

  // ---- plumbing

  resourcePath(ref: ResourceRef): string {
    const instance = ref.workspace === null || (INSTANCE_LEVEL_TYPES as readonly string[]).includes(ref.type)
    const base = instance ? '/api/v1/instance/resources' : `/api/v1/workspaces/${seg(ref.workspace ?? 'public')}/resources`
    return `${base}/${seg(ref.type)}/${seg(ref.name)}`
  }

  private async json<T>(method: string, path: string, query?: Query, body?: unknown): Promise<T> {
    const res = await this.request(method, path, query, body)
    try {
      return (await res.json()) as T
    } catch (err) {
      throw this.transportError(err)
    }
  }

  private async request(
    method: string, path: string, query: Query | undefined, body: unknown,
    opts: { stream?: boolean; signal?: AbortSignal; accept?: string } = {},
  ): Promise<HttpResponse> {
    const headers: Record<string, string> = { accept: opts.accept ?? (opts.stream ? 'application/x-ndjson' : 'application/json') }
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`
    let payload: string | undefined
    if (body !== undefined) {
      headers['content-type'] = 'application/json'
      payload = JSON.stringify(body)
    }
    // Streams (log follows) may last long: only the caller's signal ends them.
    const signal = opts.stream ? opts.signal : AbortSignal.timeout(this.timeoutMs)
    let res: HttpResponse
    try {
      res = await this.fetchImpl(`${this.baseUrl}${path}${queryString(query)}`, { method, headers, body: payload, signal })
    } catch (err) {
      throw this.transportError(err)
    }
    if (!res.ok) throw await this.httpError(res)
    return res
  }

  private transportError(err: unknown): CtlError {
    if (err instanceof CtlError) return err
    const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } }
    const why = e.name === 'TimeoutError' ? 'timed out' : e.cause?.code ?? e.cause?.message ?? e.message ?? String(err)
    return new CtlError('E_UNAVAILABLE', `control plane at ${this.baseUrl} is unreachable (${why})`)
  }

  private async httpError(res: HttpResponse): Promise<CtlError> {
    let body: Partial<ErrorBody> | undefined
    try {
      body = (await res.json()) as Partial<ErrorBody>
    } catch {
      body = undefined
    }
    const err = body?.error
    if (res.status === 422 && err?.issues && err.issues.length > 0) return new ManifestError(err.issues as ApiIssue[])
    if (res.status >= 500) {
      return new CtlError('E_INTERNAL', `control plane at ${this.baseUrl} failed: ${err?.message ?? `HTTP ${res.status}`}`)
    }
    const code: ErrorCode = (err?.code as ErrorCode | undefined) ?? STATUS_CODES[res.status] ?? 'E_USAGE'
    return new CtlError(code, err?.message ?? `HTTP ${res.status} ${res.statusText}`)
  }
}
