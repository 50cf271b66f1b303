// The OpenAPI 3.1 document, generated from the routes as registered (their schemas are
// the ones Fastify validates with), so the document cannot go stale.
import type { FastifyInstance, FastifyPluginAsync, RouteOptions } from 'fastify'
import { healthResponse } from './schemas.js'

// Documentation keys Fastify ignores but the OpenAPI document uses.
declare module 'fastify' {
  interface FastifySchema {
    summary?: string
    description?: string
    tags?: string[]
    /** Content type of a streaming 200 response. */
    produces?: string
  }
}

export interface RouteInfo {
  method: string
  url: string
  schema: Record<string, unknown>
  auth: boolean
}

/** Must be called on the root instance BEFORE route plugins are registered: onRoute only sees later routes. */
export function collectRoutes(app: FastifyInstance): RouteInfo[] {
  const routes: RouteInfo[] = []
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    for (const method of methods) {
      if (method === 'HEAD') continue
      const config = (route.config ?? {}) as { public?: boolean; openapi?: boolean }
      // The console's files are no part of the API.
      if (config.openapi === false) continue
      routes.push({ method, url: route.url, schema: (route.schema ?? {}) as Record<string, unknown>, auth: !config.public })
    }
  })
  return routes
}

type JsonObject = Record<string, unknown>

function parametersOf(schema: JsonObject | undefined, location: 'path' | 'query'): JsonObject[] {
  if (!schema || typeof schema.properties !== 'object' || schema.properties === null) return []
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : [])
  return Object.entries(schema.properties as Record<string, JsonObject>).map(([name, s]) => ({
    name,
    in: location,
    required: location === 'path' || required.has(name),
    schema: s,
    ...(typeof s.description === 'string' ? { description: s.description } : {}),
  }))
}

export function buildOpenApiDocument(routes: RouteInfo[], version: string): JsonObject {
  const paths: Record<string, Record<string, JsonObject>> = {}
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')
    const s = r.schema
    const responses: JsonObject = {}
    const resp = (s.response ?? {}) as Record<string, JsonObject>
    for (const [code, schema] of Object.entries(resp)) {
      const isStream = code === '200' && s.produces === 'application/x-ndjson'
      responses[code] = {
        description: Number(code) < 400 ? 'OK' : 'Error',
        content: { [isStream ? 'application/x-ndjson' : 'application/json']: { schema } },
      }
    }
    if (Object.keys(responses).length === 0) responses['200'] = { description: 'OK' }
    const op: JsonObject = {
      operationId: `${r.method.toLowerCase()}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      summary: s.summary,
      tags: s.tags,
      parameters: [...parametersOf(s.params as JsonObject, 'path'), ...parametersOf(s.querystring as JsonObject, 'query')],
      responses,
    }
    if (s.body) op.requestBody = { required: true, content: { 'application/json': { schema: s.body } } }
    if (r.auth) op.security = [{ bearer: [] }]
    ;(paths[path] ??= {})[r.method.toLowerCase()] = op
  }
  return {
    openapi: '3.1.0',
    info: { title: 'ctl control plane', version },
    servers: [{ url: '/' }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'API key' } } },
    paths,
  }
}

export interface OpenApiOptions {
  routes: RouteInfo[]
  version: string
}

export const openapiRoutes: FastifyPluginAsync<OpenApiOptions> = async (fastify, opts) => {
  let doc: JsonObject | undefined
  fastify.get('/api/v1/openapi.json', {
    config: { public: true },
    schema: { summary: 'This OpenAPI document', tags: ['meta'], response: { 200: { type: 'object', additionalProperties: true } } },
  }, async () => {
    doc ??= buildOpenApiDocument(opts.routes, opts.version)
    return doc
  })
}

export interface HealthOptions {
  /** Readiness: whether the store answers and the engine runs. */
  ready: () => Promise<boolean>
}

export const healthRoutes: FastifyPluginAsync<HealthOptions> = async (fastify, opts) => {
  fastify.get('/healthz', {
    config: { public: true },
    schema: { summary: 'Liveness: answers when the control plane serves requests', tags: ['meta'], response: { 200: healthResponse } },
  }, async () => ({ status: 'ok' as const }))
  // A probe has no key: no authentication, and nothing said beyond ok or not (no store URL, no error text).
  fastify.get('/readyz', {
    config: { public: true },
    schema: { summary: 'Readiness: 200 while the store answers and the engine runs, else 503', tags: ['meta'], response: { 200: healthResponse, 503: healthResponse } },
  }, async (_request, reply) => {
    if (await opts.ready().catch(() => false)) return { status: 'ok' as const }
    return reply.code(503).send({ status: 'not ready' as const })
  })
}
