// Typed client of the control plane's HTTP API. Every failure becomes a CtlError with a
// stable code, so the CLI maps it to an exit code without looking at messages.
import { readServerEvents, type ServerEvent } from './sse.js'
import { CtlError, ManifestError, type ErrorCode } from '../errors.js'
import { nodeFetch, type FetchLike, type HttpResponse } from './http.js'
import { WatchedRun, type WatchLine } from './watch.js'
import { INSTANCE_LEVEL_TYPES } from '../manifest/model.js'
import type {
  BackfillResponse,
  ApiIssue, ApprovalRequest, ApprovalResponse, StepRunRecord, ApiKeyInfo, ApiKeysResponse, ApplyDocument, ApplyResponse, AuditEntry, AuditQuery, AuditResponse, CanIRequest,
  CanIResponse, CreateApiKeyRequest, CreateApiKeyResponse, CreateUserRequest, CreateWorkspaceRequest, DeleteResponse,
  DeleteWorkspaceResponse, ErrorBody, GrantChangeResponse, GrantInfo, GrantRequest, GrantsResponse, HealthResponse, InfoResponse, ReplicasResponse,
  ListResourcesQuery, ListResourcesResponse, LogLineRecord, LogsQuery, Principal, ResourceDetail, ResourceRef, ResourceRow,
  ResourceTable, RevisionSummary, RollbackResponse, NodeDetail, RunDetail, RunRecord, RunsResponse, TagChangeResponse, TagRequest, TagsResponse, UserInfo,
  SessionResponse, SignInLinkResponse, UserResponse, UsersResponse, UserTag, WhoAmIResponse, WorkspaceInfo, WorkspaceResponse, WorkspacesResponse,
} from '../api/types.js'
import { LogDecoder } from '../api/log-codec.js'

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
  /** `params`: of the run the apply starts (one unscheduled workflow). */
  apply(workspace: string, documents: ApplyDocument[], opts: { dryRun?: boolean; params?: Record<string, unknown> } = {}): Promise<ApplyResponse> {
    return this.json('POST', `/api/v1/workspaces/${seg(workspace)}/resources`, { dryRun: opts.dryRun }, { documents, ...(opts.params ? { params: opts.params } : {}) })
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

  /** `unsanitized`: secret values in clear (tenant-admin or `manage` only; audited). */
  get(ref: ResourceRef, opts: { revisions?: boolean; unsanitized?: boolean; revision?: number } = {}): Promise<ResourceDetail> {
    return this.json('GET', this.resourcePath(ref), { revisions: opts.revisions, unsanitized: opts.unsanitized, revision: opts.revision })
  }

  /** Applies revision `toRevision`'s manifest again as a new revision; dryRun: what would happen. */
  rollback(ref: ResourceRef, toRevision: number, opts: { dryRun?: boolean } = {}): Promise<RollbackResponse> {
    return this.json('POST', `${this.resourcePath(ref)}/rollback`, opts.dryRun ? { dryRun: true } : undefined, { toRevision })
  }

  /** dryRun: checks (rights, dependents) and answers what would be deleted, deleting nothing. */
  delete(ref: ResourceRef, opts: { force?: boolean; dryRun?: boolean } = {}): Promise<DeleteResponse> {
    return this.json('DELETE', this.resourcePath(ref), { force: opts.force, ...(opts.dryRun ? { dryRun: true } : {}) })
  }

  async revisions(ref: ResourceRef): Promise<RevisionSummary[]> {
    return (await this.get(ref, { revisions: true })).revisions ?? []
  }

  // ---- runs

  /** `params` as given; the server fills in the defaults and refuses (422) what does not match the declarations. */
  async runNow(ref: ResourceRef, params?: Record<string, unknown>, selection: { skip?: string[]; only?: string[] } = {}): Promise<RunRecord> {
    const body = { ...(params ? { params } : {}), ...(selection.skip?.length ? { skip: selection.skip } : {}), ...(selection.only?.length ? { only: selection.only } : {}) }
    return (await this.json<{ run: RunRecord }>('POST', `${this.resourcePath(ref)}/runs`, undefined, Object.keys(body).length > 0 ? body : undefined)).run
  }

  /** `runtime backfill`: with dryRun the fire times only, nothing started. */
  async backfill(ref: ResourceRef, request: { from: string; to: string; parallel?: number; dryRun?: boolean }): Promise<BackfillResponse> {
    const { dryRun, ...body } = request
    return this.json<BackfillResponse>('POST', `${this.resourcePath(ref)}/runs/backfill`, dryRun ? { dryRun: true } : undefined, body)
  }

  /** `force`: the runs end at once, their finally steps not run. */
  async stop(ref: ResourceRef, runId?: string, force = false): Promise<RunRecord[]> {
    const body = { ...(runId ? { runId } : {}), ...(force ? { force: true } : {}) }
    return (await this.json<RunsResponse>('POST', `${this.resourcePath(ref)}/runs/stop`, undefined, body)).runs
  }

  /** The runs now suspended (already suspended ones included). */
  async suspend(ref: ResourceRef, runId?: string): Promise<RunRecord[]> {
    return (await this.json<RunsResponse>('POST', `${this.resourcePath(ref)}/runs/suspend`, undefined, runId ? { runId } : {})).runs
  }

  /** The runs resumed. */
  async resume(ref: ResourceRef, runId?: string): Promise<RunRecord[]> {
    return (await this.json<RunsResponse>('POST', `${this.resourcePath(ref)}/runs/resume`, undefined, runId ? { runId } : {})).runs
  }

  async retry(ref: ResourceRef, runId?: string): Promise<RunRecord> {
    return (await this.json<{ run: RunRecord }>('POST', `${this.resourcePath(ref)}/runs/retry`, undefined, runId ? { runId } : {})).run
  }

  /** Approves or rejects a step that waits for approval (`runtime approve|reject`). */
  async decide(ref: ResourceRef, decision: 'approve' | 'reject', request: ApprovalRequest): Promise<StepRunRecord> {
    return (await this.json<ApprovalResponse>('POST', `${this.resourcePath(ref)}/runs/${decision}`, undefined, request)).stepRun
  }

  async runs(ref: ResourceRef, opts: { limit?: number } = {}): Promise<RunRecord[]> {
    return (await this.json<RunsResponse>('GET', `${this.resourcePath(ref)}/runs`, { limit: opts.limit })).runs
  }

  run(runId: string): Promise<RunDetail> {
    return this.json('GET', `/api/v1/runs/${seg(runId)}`)
  }

  /**
   * The run's detail now and each time it changes, ending once it is in a final state (or the server closes). It asks
   * for change lines (only the step attempts that changed, after the first line) and yields each detail whole all the
   * same; a server that does not know them sends whole lines, which are taken as they are.
   */
  async *watchRun(runId: string, signal?: AbortSignal): AsyncGenerator<RunDetail> {
    const res = await this.request('GET', `/api/v1/runs/${seg(runId)}/watch`, { changes: true }, undefined, { stream: true, signal })
    if (!res.body) return
    const decoder = new TextDecoder()
    const watched = new WatchedRun()
    let rest = ''
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        const lines = (rest + decoder.decode(chunk, { stream: true })).split('\n')
        rest = lines.pop()!
        for (const line of lines) if (line.trim()) yield watched.take(JSON.parse(line) as WatchLine)
      }
    } catch (err) {
      if (signal?.aborted) return
      throw this.transportError(err)
    }
    const tail = (rest + decoder.decode()).trim()
    if (tail) yield watched.take(JSON.parse(tail) as WatchLine)
  }

  /**
   * A console event stream (`/api/v1/runs/ID/events`, `.../workflow/NAME/events`): its events as they come,
   * until the server ends it or `signal` aborts.
   */
  async *events(path: string, signal?: AbortSignal): AsyncGenerator<ServerEvent> {
    const res = await this.request('GET', path, undefined, undefined, { stream: true, signal, accept: 'text/event-stream' })
    if (!res.body) return
    try {
      yield* readServerEvents(res.body as unknown as AsyncIterable<Uint8Array>)
    } catch (err) {
      if (signal?.aborted) return
      throw this.transportError(err)
    }
  }

  /** One step of a run (`step` or `step-attempt`), with the runtime's live description of its latest attempt. */
  node(runId: string, node: string): Promise<NodeDetail> {
    return this.json('GET', `/api/v1/runs/${seg(runId)}/nodes/${seg(node)}`)
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

  // ---- users, API keys, role bindings (tags)

  async createUser(input: CreateUserRequest): Promise<UserInfo> {
    return (await this.json<UserResponse>('POST', '/api/v1/users', undefined, input)).user
  }

  /** Every user (tenant-admin only). */
  async users(): Promise<UserInfo[]> {
    return (await this.json<UsersResponse>('GET', '/api/v1/users')).users
  }

  /** Every user with their tags, in one request. */
  async usersWithTags(): Promise<(UserInfo & { tags: UserTag[] })[]> {
    return (await this.json<UsersResponse>('GET', '/api/v1/users', { tags: true })).users.map((u) => ({ ...u, tags: u.tags ?? [] }))
  }

  /** One user: oneself, or anyone for a tenant-admin. */
  async user(id: string): Promise<UserInfo> {
    return (await this.json<UserResponse>('GET', `/api/v1/users/${seg(id)}`)).user
  }

  /** Deletes the user and revokes its keys (tenant-admin only). */
  async deleteUser(id: string): Promise<UserInfo> {
    return (await this.json<UserResponse>('DELETE', `/api/v1/users/${seg(id)}`)).user
  }

  /** A new key of `userId` (oneself or, for a tenant-admin, anyone). The token is in the answer only. */
  createApiKey(userId: string, input: CreateApiKeyRequest = {}): Promise<CreateApiKeyResponse> {
    return this.json('POST', `/api/v1/users/${seg(userId)}/apikeys`, undefined, input)
  }

  async apiKeys(userId: string): Promise<ApiKeyInfo[]> {
    return (await this.json<ApiKeysResponse>('GET', `/api/v1/users/${seg(userId)}/apikeys`)).apikeys
  }

  /** Revokes a key: it stops working at once. */
  async deleteApiKey(userId: string, keyId: string): Promise<ApiKeyInfo> {
    return (await this.json<{ apikey: ApiKeyInfo }>('DELETE', `/api/v1/users/${seg(userId)}/apikeys/${seg(keyId)}`)).apikey
  }

  async tags(userId: string): Promise<UserTag[]> {
    return (await this.json<TagsResponse>('GET', `/api/v1/users/${seg(userId)}/tags`)).tags
  }

  /** Binds a role: `roles:id:data-dev`, in a workspace or (without one) tenant-wide. */
  addTag(userId: string, input: TagRequest): Promise<TagChangeResponse> {
    return this.json('POST', `/api/v1/users/${seg(userId)}/tags`, undefined, input)
  }

  deleteTag(userId: string, input: TagRequest): Promise<TagChangeResponse> {
    return this.json('DELETE', `/api/v1/users/${seg(userId)}/tags`, undefined, input)
  }

  // ---- workspaces

  async createWorkspace(input: CreateWorkspaceRequest): Promise<WorkspaceInfo> {
    return (await this.json<WorkspaceResponse>('POST', '/api/v1/workspaces', undefined, input)).workspace
  }

  /** The workspaces the caller holds a binding in (a tenant-wide binding: all). */
  async workspaces(): Promise<WorkspaceInfo[]> {
    return (await this.json<WorkspacesResponse>('GET', '/api/v1/workspaces')).workspaces
  }

  async workspace(name: string): Promise<WorkspaceInfo> {
    return (await this.json<WorkspaceResponse>('GET', `/api/v1/workspaces/${seg(name)}`)).workspace
  }

  /** Refused (E_CONFLICT) while it holds resources, unless `force` (which deletes them too). */
  deleteWorkspace(name: string, opts: { force?: boolean } = {}): Promise<DeleteWorkspaceResponse> {
    return this.json('DELETE', `/api/v1/workspaces/${seg(name)}`, { force: opts.force })
  }

  // ---- grants, can-i, audit

  /** `to`: `user:ID`. */
  grant(ref: ResourceRef, input: GrantRequest): Promise<GrantChangeResponse> {
    return this.json('POST', `${this.resourcePath(ref)}/grants`, undefined, input)
  }

  revoke(ref: ResourceRef, input: GrantRequest): Promise<GrantChangeResponse> {
    return this.json('DELETE', `${this.resourcePath(ref)}/grants`, undefined, input)
  }

  async grants(ref: ResourceRef): Promise<GrantInfo[]> {
    return (await this.json<GrantsResponse>('GET', `${this.resourcePath(ref)}/grants`)).grants
  }

  /** Whether the caller may do `verb`, and which binding or grant decided (like `kubectl auth can-i`). */
  canI(input: CanIRequest): Promise<CanIResponse> {
    return this.json('POST', '/api/v1/auth/can-i', undefined, input)
  }

  /** Audit entries, oldest first (tenant-admin only). `since`: ISO time or a duration back (`1h`). */
  async audit(query: AuditQuery = {}): Promise<AuditEntry[]> {
    return (await this.json<AuditResponse>('GET', '/api/v1/audit', { since: query.since, limit: query.limit })).entries
  }

  // ---- meta

  async whoami(): Promise<Principal> {
    return (await this.json<WhoAmIResponse>('GET', '/api/v1/whoami')).principal
  }

  /** The console session this client's key stands for (the user; no CSRF token without a cookie). */
  session(): Promise<SessionResponse> {
    return this.json('GET', '/api/v1/session')
  }

  /** A one-time console sign-in URL for this client's key (ctl ui). */
  signInLink(): Promise<SignInLinkResponse> {
    return this.json('POST', '/api/v1/session/links', undefined, {})
  }

  /** Signs out (a no-op for a key: only a cookie session ends). */
  async signOut(): Promise<void> {
    await this.request('DELETE', '/api/v1/session', undefined, undefined)
  }

  info(): Promise<InfoResponse> {
    return this.json('GET', '/api/v1/info')
  }

  /** The control planes sharing the store (tenant-admin only). */
  replicas(): Promise<ReplicasResponse> {
    return this.json('GET', '/api/v1/replicas')
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
      // Node sends DELETE bodies unframed unless told the length (no chunked default for DELETE).
      headers['content-length'] = String(Buffer.byteLength(payload))
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
    // Located issues come with 422 (invalid) or 403 (a secret or volume that may not be used).
    if ((res.status === 422 || res.status === 403) && err?.issues && err.issues.length > 0) return new ManifestError(err.issues as ApiIssue[])
    if (res.status >= 500) {
      return new CtlError('E_INTERNAL', `control plane at ${this.baseUrl} failed: ${err?.message ?? `HTTP ${res.status}`}`)
    }
    const code: ErrorCode = (err?.code as ErrorCode | undefined) ?? STATUS_CODES[res.status] ?? 'E_USAGE'
    return new CtlError(code, err?.message ?? `HTTP ${res.status} ${res.statusText}`)
  }
}
