// GET /metrics through a real control plane: the exposition parsed strictly (test/support/prom-text.ts),
// counters moving as runs end, no param or secret value anywhere in it, and who may read it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { doc, startTestServer, waitForRunEnd, workflow, type TestServer } from './helpers.js'
import { parsePrometheusText, total, type Family } from '../support/prom-text.js'
import { createMetrics, OTHER_LABEL, timedCalls } from '../../src/metrics/metrics.js'
import { CtlClient } from '../../src/client/client.js'
import { freshDatabase } from '../support/postgres.js'

const METRICS_TOKEN = 'metrics-token-0123456789abcdef'
const SECRET_VALUE = 'mtr-s3cr3t-v4lue-991'
const PARAM_VALUE = 'mtr-p4ram-v4lue-774'

let t: TestServer
let dir: string
let pgUrl: string
beforeAll(async () => {
  // Before any control plane starts: one sets this process's umask to 077, and PostgreSQL's folders made after it
  // would be closed to the server's own user.
  pgUrl = await freshDatabase()
  dir = mkdtempSync(join(tmpdir(), 'ctl-metrics-'))
  writeFileSync(join(dir, 'token'), `${METRICS_TOKEN}\n`, { mode: 0o600 })
  t = await startTestServer({ metricsTokenFile: join(dir, 'token') })
}, 60_000)
afterAll(async () => {
  await t?.stop()
  rmSync(dir, { recursive: true, force: true })
})

async function scrape(token = t.token): Promise<{ text: string; families: Map<string, Family> }> {
  const res = await fetch(`${t.plane.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  const text = await res.text()
  return { text, families: parsePrometheusText(text) }
}

const ref = (name: string) => ({ workspace: 'public', type: 'workflow', name })

describe('GET /metrics', () => {
  it('is a valid exposition with every ctl metric and the process metrics', async () => {
    const { families } = await scrape()
    for (const name of [
      'ctl_runs_started_total', 'ctl_runs_finished_total', 'ctl_step_attempt_duration_seconds', 'ctl_step_queue_delay_seconds',
      'ctl_schedule_lag_seconds', 'ctl_http_request_duration_seconds', 'ctl_store_query_duration_seconds', 'ctl_log_bytes_ingested_total',
      'ctl_kubernetes_requests_total', 'ctl_runs_waiting', 'ctl_runs_running', 'process_cpu_user_seconds_total', 'nodejs_heap_size_used_bytes',
    ]) {
      expect(families.has(name), name).toBe(true)
      expect(families.get(name)!.help, name).toBeTruthy()
    }
    expect(families.get('ctl_step_attempt_duration_seconds')!.type).toBe('histogram')
    expect(families.get('ctl_runs_started_total')!.type).toBe('counter')
    expect(families.get('ctl_runs_running')!.type).toBe('gauge')
    expect(total(families, 'ctl_store_query_duration_seconds_count')).toBeGreaterThan(0)
  })

  it('counters move as a run ends; no param or secret value appears anywhere', async () => {
    const before = (await scrape()).families
    const secret = { name: 'mtr-secret', version: 'v1', type: 'secret', secret: { type: 'key-value', acl: 'r', data: { TOKEN: SECRET_VALUE } } }
    const wf = workflow('mtr-flow', {
      first: 'echo "hello $TOKEN {{.params.token}} {{.params.plain}}"; head -c 3000 /dev/zero | tr "\\0" x; echo',
      second: 'echo second',
    }, {
      params: [{ name: 'token', type: 'string', required: true, secret: true }, { name: 'plain', type: 'string', default: 'x' }],
      use: { projection: { secrets: [{ id: 'mtr-secret', contextAlias: 's' }], projections: { envVars: [{ key: 'TOKEN', value: '{{.secrets.s.TOKEN}}' }] } } },
    })
    await t.client.apply('public', [doc(secret), doc(wf, 'wf.yaml', 1)])
    const run = await t.client.runNow(ref('mtr-flow'), { token: SECRET_VALUE, plain: PARAM_VALUE })
    expect((await waitForRunEnd(t.client, run.id)).run.state).toBe('succeeded')
    // A failing run too: finished counted by state.
    await t.client.apply('public', [doc(workflow('mtr-fails', { only: 'exit 4' }), 'f.yaml')])
    const [failing] = await t.client.runs(ref('mtr-fails'))
    expect((await waitForRunEnd(t.client, failing!.id)).run.state).toBe('failed')

    // An unknown path is no route: counted as `unmatched`, its text nowhere.
    expect((await fetch(`${t.plane.url}/api/v1/no-such-${PARAM_VALUE}`, { headers: { authorization: `Bearer ${t.token}` } })).status).toBe(404)
    const { text, families: after } = await scrape()
    expect(total(after, 'ctl_http_request_duration_seconds_count', { route: 'unmatched', status_code: '404' })).toBeGreaterThan(0)
    const delta = (name: string, match: Record<string, string> = {}) => total(after, name, match) - total(before, name, match)
    expect(delta('ctl_runs_started_total', { workspace: 'public', workflow: 'mtr-flow', trigger: 'manual' })).toBe(1)
    expect(delta('ctl_runs_started_total', { workspace: 'public', workflow: 'mtr-fails', trigger: 'apply' })).toBe(1)
    expect(delta('ctl_runs_finished_total', { workspace: 'public', workflow: 'mtr-flow', state: 'succeeded' })).toBe(1)
    expect(delta('ctl_runs_finished_total', { workspace: 'public', workflow: 'mtr-fails', state: 'failed' })).toBe(1)
    expect(delta('ctl_step_attempt_duration_seconds_count', { workspace: 'public', state: 'succeeded' })).toBe(2)
    expect(delta('ctl_step_attempt_duration_seconds_count', { workspace: 'public', state: 'failed' })).toBe(1)
    expect(delta('ctl_step_queue_delay_seconds_count', { workspace: 'public' })).toBe(3)
    expect(delta('ctl_log_bytes_ingested_total', { workspace: 'public' })).toBeGreaterThanOrEqual(3000)
    // By route pattern, never the raw URL (no run id), with the status code.
    expect(total(after, 'ctl_http_request_duration_seconds_count', { route: '/api/v1/runs/:id', method: 'GET', status_code: '200' })).toBeGreaterThan(0)
    expect(total(after, 'ctl_http_request_duration_seconds_count', { route: '/metrics', status_code: '200' })).toBeGreaterThan(0)
    expect(total(after, 'ctl_store_query_duration_seconds_count', { operation: 'createRun' })).toBeGreaterThan(0)
    // The gauges of runs this replica drives: none is left.
    expect(total(after, 'ctl_runs_running')).toBe(0)
    expect(total(after, 'ctl_runs_waiting')).toBe(0)
    for (const value of [SECRET_VALUE, PARAM_VALUE, run.id, failing!.id]) expect(text.includes(value), value).toBe(false)
  }, 60_000)

  it('who may read it: a tenant-admin or the metrics token; 401 without a key or with a wrong one; 403 for a viewer', async () => {
    await t.client.createUser({ id: 'mtr-viewer', name: 'Viewer', type: 'person' })
    await t.client.addTag('mtr-viewer', { tag: 'roles:id:viewer', workspace: 'public' })
    const viewer = (await t.client.createApiKey('mtr-viewer', { name: 'v' })).token
    const status = async (headers: Record<string, string>) => (await fetch(`${t.plane.url}/metrics`, { headers })).status
    expect(await status({})).toBe(401)
    expect(await status({ authorization: 'Bearer not-the-token-at-all' })).toBe(401)
    expect(await status({ authorization: `Bearer ${viewer}` })).toBe(403)
    expect(await status({ authorization: `Bearer ${t.token}` })).toBe(200)
    expect(await status({ authorization: `Bearer ${METRICS_TOKEN}` })).toBe(200)
    // The token opens /metrics only, not the API.
    await expect(new CtlClient({ baseUrl: t.plane.url, apiKey: METRICS_TOKEN }).whoami()).rejects.toMatchObject({ code: 'E_UNAUTHENTICATED' })
  })
})

describe('GET /metrics and the failure limit', () => {
  it('wrong keys sent to /metrics count with the API\'s: past the limit the API answers 429 too', async () => {
    const limited = await startTestServer({ authLimits: { maxFailures: 2, windowMs: 60_000 } })
    try {
      const call = async (path: string, key: string) => (await fetch(`${limited.plane.url}${path}`, { headers: { authorization: `Bearer ${key}` } })).status
      expect(await call('/metrics', 'ctl_guessguessguess-1')).toBe(401)
      expect(await call('/metrics', 'ctl_guessguessguess-2')).toBe(401)
      expect(await call('/api/v1/whoami', 'ctl_guessguessguess-3')).toBe(429)
      expect(await call('/metrics', 'ctl_guessguessguess-4')).toBe(429)
    } finally {
      await limited.stop()
    }
  })
})

describe('GET /metrics on PostgreSQL', () => {
  it('times the same store operations and counts the run', async () => {
    const pgServer = await startTestServer({ storeUrl: pgUrl })
    try {
      await pgServer.client.apply('public', [doc(workflow('mtr-pg', { only: 'echo pg' }))])
      const [run] = await pgServer.client.runs(ref('mtr-pg'))
      expect((await waitForRunEnd(pgServer.client, run!.id)).run.state).toBe('succeeded')
      const res = await fetch(`${pgServer.plane.url}/metrics`, { headers: { authorization: `Bearer ${pgServer.token}` } })
      const f = parsePrometheusText(await res.text())
      expect(total(f, 'ctl_runs_finished_total', { workflow: 'mtr-pg', state: 'succeeded' })).toBe(1)
      expect(total(f, 'ctl_store_query_duration_seconds_count', { operation: 'createRun' })).toBeGreaterThan(0)
      expect(total(f, 'ctl_store_query_duration_seconds_count', { operation: 'appendLogs' })).toBeGreaterThan(0)
    } finally {
      await pgServer.stop()
    }
  }, 120_000)
})

describe('metrics registry', () => {
  it('caps the workflows of a label: past the cap, new ones count under _other', async () => {
    const m = createMetrics({ maxLabelValues: 3, processMetrics: false })
    for (let i = 0; i < 10; i++) m.runStarted({ workspace: 'w', workflow: `wf-${i}`, trigger: 'webhook:secret-name' })
    const families = parsePrometheusText(await m.exposition())
    const series = families.get('ctl_runs_started_total')!.samples
    expect(series.map((s) => s.labels.workflow).sort()).toEqual([OTHER_LABEL, 'wf-0', 'wf-1', 'wf-2'])
    expect(total(families, 'ctl_runs_started_total', { workflow: OTHER_LABEL })).toBe(7)
    // A webhook trigger's name is not a label value.
    expect(series.every((s) => s.labels.trigger === 'webhook')).toBe(true)
  })

  it('two registries in one process do not share figures, and labels are escaped', async () => {
    const a = createMetrics({ processMetrics: false })
    const b = createMetrics({ processMetrics: false })
    a.runFinished({ workspace: null, workflow: 'odd "name"\\x', state: 'succeeded' })
    const fa = parsePrometheusText(await a.exposition())
    expect(total(fa, 'ctl_runs_finished_total', { workspace: '_instance', workflow: 'odd "name"\\x' })).toBe(1)
    expect(total(parsePrometheusText(await b.exposition()), 'ctl_runs_finished_total')).toBe(0)
  })

  it('times calls answering a promise by method name, on the target itself', async () => {
    const m = createMetrics({ processMetrics: false })
    const target = {
      n: 0,
      async get() { return this.n },
      async twice() { return (await this.get()) * 2 },
      sync() { return 1 },
    }
    const timed = timedCalls(target, m)
    expect(await timed.twice()).toBe(0)
    expect(timed.sync()).toBe(1)
    const f = parsePrometheusText(await m.exposition())
    expect(total(f, 'ctl_store_query_duration_seconds_count', { operation: 'twice' })).toBe(1)
    expect(total(f, 'ctl_store_query_duration_seconds_count', { operation: 'get' })).toBe(0)
    expect(total(f, 'ctl_store_query_duration_seconds_count', { operation: 'sync' })).toBe(0)
  })
})

describe('the strict parser refuses', () => {
  it.each([
    ['a sample before its TYPE', 'x 1\n'],
    ['a bad escape', '# TYPE x counter\nx{a="\\q"} 1\n'],
    ['a duplicate series', '# TYPE x counter\nx{a="1"} 1\nx{a="1"} 2\n'],
    ['buckets that decrease', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'],
    ['+Inf not equal to count', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n'],
    ['no final newline', '# TYPE x counter\nx 1'],
  ])('%s', (_what, text) => {
    expect(() => parsePrometheusText(text)).toThrow()
  })
})
