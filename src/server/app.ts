// The HTTP app. Each route group is an encapsulated plugin given exactly what it needs;
// authentication wraps the /api/v1 groups except health and the OpenAPI document.
import Fastify, { type FastifyInstance } from 'fastify'
import type { EngineApi } from '../engine/api.js'
import type { Store } from '../store/types.js'
import { authPlugin } from './auth.js'
import { installErrorHandling } from './errors.js'
import { collectRoutes, healthRoutes, openapiRoutes } from './openapi.js'
import { logsRoutes } from './routes/logs.js'
import { metaRoutes } from './routes/meta.js'
import { resourcesRoutes } from './routes/resources.js'
import { runsRoutes } from './routes/runs.js'
import { packageVersion } from './version.js'

export const DEFAULT_BODY_LIMIT = 8 * 1024 * 1024

export interface AppDeps {
  store: Store
  engine: EngineApi
  /** Largest request body in bytes (413 beyond); default 8 MiB. */
  bodyLimit?: number
  /** Structured request logs (pino, JSON lines) go to this file; none when absent. */
  logFile?: string
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'
  /** How often a log follow polls the store when idle (ms). */
  logPollMs?: number
}

// The admin key is checked against store meta `admin_key_sha256` on every request, so
// rotating it needs no restart; see auth.ts.
export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    bodyLimit: deps.bodyLimit ?? DEFAULT_BODY_LIMIT,
    logger: deps.logFile ? { level: deps.logLevel ?? 'info', file: deps.logFile } : false,
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

  app.register(healthRoutes)
  app.register(openapiRoutes, { routes, version })
  app.register(async (api) => {
    await api.register(authPlugin, { store })
    await api.register(resourcesRoutes, { store, engine })
    await api.register(runsRoutes, { store, engine })
    await api.register(logsRoutes, { store, closing: closing.signal, pollMs: deps.logPollMs })
    await api.register(metaRoutes, { store, engine, version })
  })
  return app
}
