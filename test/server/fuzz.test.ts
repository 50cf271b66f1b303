// Property: every route of a real control plane, fed generated path parameters, query strings and bodies
// (mutated manifests among them), answers below 500, in our error shape, without a stack trace.
// The routes come from the server's own OpenAPI document, so a new route is fuzzed without a change here.
// Applies are dry runs: a generated workflow must not start steps (no process is left behind).
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exampleManifests, fuzzSettings, hostileValue, mutatedManifest } from '../support/fuzz.js'
import { doc, startTestServer, type TestServer } from './helpers.js'

interface Route {
  method: string
  /** OpenAPI template: /api/v1/users/{id} */
  path: string
  params: string[]
  query: string[]
  body: string[] | undefined
}

let t: TestServer
let routes: Route[] = []
const examples = exampleManifests()
const seen = { requests: 0, byStatus: new Map<number, number>() }

beforeAll(async () => {
  // Wrong keys are part of the input; the per-address lockout must not turn the rest into 429s.
  t = await startTestServer({ authLimits: { maxFailures: 1_000_000 } })
  const spec = (await (await fetch(`${t.plane.url}/api/v1/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: { content: { 'application/json': { schema: { properties?: Record<string, unknown> } } } } }>>
  }
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const parameters = op.parameters ?? []
      const body = op.requestBody?.content['application/json'].schema
      routes.push({
        method: method.toUpperCase(),
        path,
        params: parameters.filter((p) => p.in === 'path').map((p) => p.name),
        query: parameters.filter((p) => p.in === 'query').map((p) => p.name),
        body: body ? Object.keys(body.properties ?? {}) : undefined,
      })
    }
  }
  // Something real to find, read and delete.
  await t.client.createUser({ id: 'fuzz-user', name: 'Fuzz', type: 'person' })
  const fixtures = examples.filter((e) => ['volume', 'compute', 'secret'].includes((e as { type?: string }).type ?? ''))
  await t.client.apply('public', fixtures.map((m) => doc(m)))
})

afterAll(async () => {
  console.log(`api fuzz: ${seen.requests} requests over ${routes.length} routes; statuses ${JSON.stringify(Object.fromEntries([...seen.byStatus].sort()))}`)
  await t?.stop()
})

const KNOWN: Record<string, string[]> = {
  ws: ['public', 'no-such-ws'],
  type: ['workflow', 'secret', 'volume', 'compute', 'stack', 'instance-secret', 'nope'],
  name: ['customer-data', 'batch-large', 'registry-credentials', 'nope'],
  id: ['admin', 'fuzz-user', 'nobody'],
  workflow: ['nope'],
  trigger: ['nope', 'on-release'],
}

const text = fc.oneof(
  fc.constantFrom('', '0', '-1', '1e400', '99999999999999d', '999999h', 'true', 'null', '[]', '{}', '..', '%00', 'a'.repeat(5000), '2024-05-01T00:00:00Z', '+275760-09-13T00:00:00.001Z'),
  fc.string({ maxLength: 30 }),
  fc.string({ maxLength: 10, unit: 'binary' }),
  fc.integer().map(String),
  fc.double().map(String),
)

interface Request {
  route: Route
  params: Record<string, string>
  query: [string, string][]
  body: { kind: 'json'; value: unknown } | { kind: 'raw'; text: string; type: string } | { kind: 'none' }
  auth: 'admin' | 'none' | 'garbage'
}

const isApply = (r: Route): boolean => r.method === 'POST' && r.path.endsWith('/resources')

// Apply runs the whole manifest core on the body: a third of the requests go there.
const request: fc.Arbitrary<Request> = fc.tuple(fc.integer({ min: 0, max: 1_000_000 }), fc.boolean(), fc.boolean()).chain(([i, a, b]) => {
  const applies = routes.filter(isApply)
  const route = a && b && applies.length > 0 ? applies[i % applies.length]! : routes[i % routes.length]!
  const params = fc.record(Object.fromEntries(route.params.map((p) => [p, fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...(KNOWN[p] ?? ['x'])) }, { weight: 1, arbitrary: text })])))
  const value = fc.oneof({ weight: 2, arbitrary: fc.constantFrom('true', 'false', '1', '10', 'public', '1h') }, { weight: 1, arbitrary: text })
  const query = fc.array(fc.tuple(fc.oneof(fc.constantFrom(...route.query, 'dryRun', 'x'), fc.string({ maxLength: 8 })), value), { maxLength: 4 })
  const json = isApply(route)
    ? fc.oneof(
        fc.array(mutatedManifest(examples), { minLength: 1, maxLength: 3 }).map((documents) => ({ documents })),
      fc.constant({ documents: examples }),
        fc.array(mutatedManifest(examples).map((m) => doc(m)), { minLength: 1, maxLength: 2 }).map((documents) => ({ documents })),
        hostileValue().map((documents) => ({ documents })),
      )
    : fc.oneof(fc.dictionary(fc.constantFrom(...(route.body ?? []), 'x'), hostileValue(), { maxKeys: 4 }), hostileValue())
  const body = fc.oneof(
    { weight: 6, arbitrary: json.map((value) => ({ kind: 'json' as const, value })) },
    { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 40 }), fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16')).map(([text, type]) => ({ kind: 'raw' as const, text, type })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
  )
  const auth = fc.oneof({ weight: 8, arbitrary: fc.constant('admin' as const) }, { weight: 1, arbitrary: fc.constantFrom('none' as const, 'garbage' as const) })
  return fc.record({ route: fc.constant(route), params, query, body, auth })
})

function urlOf(r: Request): string {
  const path = r.route.path.replace(/\{([^}]+)\}/g, (_m, name: string) => encodeURIComponent(r.params[name] ?? 'x'))
  const q = new URLSearchParams(r.query)
  // A generated workflow must not start steps: every apply is a dry run.
  if (isApply(r.route)) {
    q.delete('dryRun')
    q.set('dryRun', 'true')
  }
  const qs = q.toString()
  return `${t.plane.url}${path}${qs ? `?${qs}` : ''}`
}

const STACK_TRACE = /\n\s+at |node:internal|\.[cm]?[jt]s:\d+:\d+|\bat [A-Za-z.<>]+ \(/

async function send(r: Request): Promise<{ status: number; type: string; text: string }> {
  const headers: Record<string, string> = {}
  if (r.auth === 'admin') headers['authorization'] = `Bearer ${t.token}`
  if (r.auth === 'garbage') headers['authorization'] = 'Bearer ctl_garbage'
  let body: string | undefined
  if (r.body.kind === 'json' && r.route.method !== 'GET') {
    body = JSON.stringify(r.body.value) ?? 'null'
    headers['content-type'] = 'application/json'
  } else if (r.body.kind === 'raw' && r.route.method !== 'GET') {
    body = r.body.text
    headers['content-type'] = r.body.type
  }
  // A guard against a hang (a hang is a failure too), not a timing assertion.
  const res = await fetch(urlOf(r), { method: r.route.method, headers, body, signal: AbortSignal.timeout(20_000) })
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() }
}

describe('every route on generated input', () => {
  it('the route list comes from the server', () => {
    expect(routes.length).toBeGreaterThan(20)
    expect(routes.map((r) => `${r.method} ${r.path}`)).toContain('POST /api/v1/workspaces/{ws}/resources')
  })

  it('never answers 5xx, never leaks a stack trace, always in the error shape', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const res = await send(r)
        seen.requests++
        seen.byStatus.set(res.status, (seen.byStatus.get(res.status) ?? 0) + 1)
        const what = `${r.route.method} ${urlOf(r).slice(0, 300)} → ${res.status} ${res.text.slice(0, 300)}`
        expect(res.status, what).toBeLessThan(500)
        expect(res.text, what).not.toMatch(STACK_TRACE)
        if (res.status >= 400) {
          const body = JSON.parse(res.text) as { error?: { code?: unknown; message?: unknown } }
          expect(typeof body.error?.code, what).toBe('string')
          expect(typeof body.error?.message, what).toBe('string')
        }
      }),
      fuzzSettings('api: every route', 400),
    )
    // Still up and serving the admin afterwards.
    expect((await t.client.whoami()).id).toBe('admin')
  })
})
