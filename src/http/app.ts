// The HTTP app. Each route group is an encapsulated plugin given exactly what it needs;
// authentication wraps the /api/v1 groups except health and the OpenAPI document.
import Fastify, { type FastifyInstance } from 'fastify'
import type { EngineApi } from '../engine/api.js'
import type { Store } from '../store/types.js'
import type { SecretBox } from '../secrets/crypto.js'
import { authPlugin, newFailureLimiter, type AuthLimits } from './auth.js'
import { SessionSigner } from './session.js'
import { consoleRoutes } from './console.js'
import { sessionRoutes } from './routes/session.js'
import { auditPlugin } from './audit.js'
import { dryRunPlugin } from './dry-run.js'
import { frameworkErrors, installErrorHandling, MAX_PARAM_LENGTH } from './errors.js'
import { collectRoutes, healthRoutes, openapiRoutes } from './openapi.js'
import { auditRoutes } from './routes/audit.js'
import { grantsRoutes } from './routes/grants.js'
import { hooksRoutes } from './routes/hooks.js'
import { identityRoutes } from './routes/identity.js'
import { logsRoutes } from './routes/logs.js'
import { metaRoutes } from './routes/meta.js'
import { resourcesRoutes, type ResourceService, type RevealSecrets } from './routes/resources.js'
import { runsRoutes } from './routes/runs.js'
import { streamsRoutes, type StreamLimits } from './routes/streams.js'
import { approvalRoutes } from './routes/approvals.js'
import { workspacesRoutes } from './routes/workspaces.js'
import { metricsRoutes } from './routes/metrics.js'
import { packageVersion } from '../package-root.js'
import type { MetricsRegistry } from '../metrics/metrics.js'

export const DEFAULT_BODY_LIMIT = 8 * 1024 * 1024

/** Request-log paths that carry credentials (the API key, the console session cookie). */
const LOG_REDACT = ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-csrf-token"]', 'res.headers["set-cookie"]']

export interface AppDeps {
  store: Store
  engine: EngineApi
  /** Largest request body in bytes (413 beyond); default 8 MiB. */
  bodyLimit?: number
  /** Structured request logs (pino, JSON lines) go to this file; none when absent. */
  logFile?: string
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'
  /** How often a log follow (and a run watch) polls the store when idle (ms). */
  logPollMs?: number
  /** Failed authentications allowed per client address and window before 429 (default 10 a minute). */
  authLimits?: AuthLimits
  /** Apply, rollback and delete checks: the control plane's resource service (src/controlplane/resource-service.ts). */
  resources: ResourceService
  /** Decrypts secret values for `get --unsanitized` (the secrets module); without it manifests go out as stored. */
  revealSecrets?: RevealSecrets
  /** Opens webhook triggers' secrets (their HMAC_KEY). */
  secrets?: SecretBox
  /** Signs console sessions and sign-in codes (derived from the master key: every replica derives the same); without it there are no sessions. */
  sessionKey?: Buffer
  /** The web console's bundle (index.html and assets); default dist/ui of this ctl. */
  consoleDir?: string
  /** Open console event streams allowed per user and per process. */
  streamLimits?: StreamLimits
  /** How often a workflow's event stream reads its runs (ms); default 1000. */
  workflowEventsPollMs?: number
  /** Readiness (/readyz); default: the store answers a trivial query (storeAnswers). */
  ready?: () => Promise<boolean>
  /** This control plane's replica id (GET /api/v1/replicas names it; claims of sign-in codes too). */
  replicaId?: string
  /** The control plane's metrics: every request is counted into it, and GET /metrics exports it. None: no /metrics. */
  metrics?: MetricsRegistry
  /** The dedicated metrics token that opens GET /metrics besides a tenant-admin's key. */
  metricsToken?: string
}

/** How long a readiness probe waits for the store. */
const READY_TIMEOUT_MS = 2_000

/** Whether the store answers a trivial query in time (readiness). */
export async function storeAnswers(store: Store): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS)))
  try {
    return await Promise.race([store.getMeta('readyz').then(() => true, () => false), late])
  } finally {
    clearTimeout(timer)
  }
}

/** How long a readiness answer is reused: probes (and an unauthenticated flood of them) cost one query a second. */
export const READY_CACHE_MS = 1_000

/**
 * `check` asked at most once per `ttlMs`: callers in between share the last answer, and callers while a check is
 * under way share that check (single flight), so /readyz never takes more than one pool connection.
 */
export function cachedReadiness(check: () => Promise<boolean>, ttlMs = READY_CACHE_MS, now: () => number = Date.now): () => Promise<boolean> {
  let last: { at: number; ok: boolean } | undefined
  let pending: Promise<boolean> | undefined
  return () => {
    if (last && now() - last.at < ttlMs) return Promise.resolve(last.ok)
    pending ??= check().catch(() => false).then((ok) => {
      last = { at: now(), ok }
      pending = undefined
      return ok
    })
    return pending
  }
}

// API keys are looked up by hash on every request, so revoking one needs no restart; see auth.ts.
// Every mutating call is audited (audit.ts), including refused and unauthenticated ones.
export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    bodyLimit: deps.bodyLimit ?? DEFAULT_BODY_LIMIT,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors,
    // Credentials never reach the request log, whatever a serializer may add later.
    logger: deps.logFile ? { level: deps.logLevel ?? 'info', file: deps.logFile, redact: LOG_REDACT } : false,
    // close() lets in-flight requests finish and drops idle keep-alive sockets; open log
    // follows are ended through `closing` (preClose) so they do not hold it up.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  })
  installErrorHandling(app)
  const routes = collectRoutes(app)
  const closing = new AbortController()
  app.addHook('preClose', async () => {
    closing.abort()
  })
  const version = packageVersion()
  const { store, engine } = deps
  const sessions = deps.sessionKey ? new SessionSigner(deps.sessionKey) : undefined
  const limiter = newFailureLimiter(store, deps.authLimits)
  const metrics = deps.metrics
  if (metrics) {
    // By route pattern (never the raw URL: ids and names would make a series each), method and status.
    app.addHook('onResponse', async (request, reply) => {
      metrics.httpRequest({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status: reply.statusCode }, reply.elapsedTime / 1000)
    })
    app.register(metricsRoutes, { store, exposition: () => metrics.exposition(), contentType: metrics.contentType, token: deps.metricsToken, limits: deps.authLimits, limiter })
  }

  app.register(healthRoutes, { ready: cachedReadiness(deps.ready ?? (() => storeAnswers(store))) })
  app.register(consoleRoutes, { dir: deps.consoleDir })
  app.register(openapiRoutes, { routes, version })
  app.register(async (api) => {
    await api.register(auditPlugin, { store })
    await api.register(authPlugin, { store, limiter, sessions })
    await api.register(dryRunPlugin)
    await api.register(resourcesRoutes, { store, engine, resources: deps.resources, revealSecrets: deps.revealSecrets })
    await api.register(runsRoutes, { store, engine, closing: closing.signal, pollMs: deps.logPollMs })
    await api.register(streamsRoutes, { store, engine, closing: closing.signal, pollMs: deps.logPollMs, workflowPollMs: deps.workflowEventsPollMs, limits: deps.streamLimits })
    await api.register(approvalRoutes, { store, engine })
    await api.register(logsRoutes, { store, closing: closing.signal, pollMs: deps.logPollMs })
    await api.register(metaRoutes, { store, engine, version, ...(deps.replicaId !== undefined ? { replicaId: deps.replicaId } : {}) })
    await api.register(identityRoutes, { store })
    await api.register(workspacesRoutes, { store, engine })
    await api.register(grantsRoutes, { store })
    await api.register(auditRoutes, { store })
    if (sessions) await api.register(sessionRoutes, { store, sessions, limiter, replicaId: deps.replicaId ?? 'http' })
  })
  // Webhooks authenticate by signature, not API key: their own scope, audited, dry runs refused.
  app.register(async (hooks) => {
    await hooks.register(auditPlugin, { store })
    await hooks.register(dryRunPlugin)
    await hooks.register(hooksRoutes, { store, engine, secrets: deps.secrets, limits: deps.authLimits })
  })
  return app
}
