// The logs route sends stored chunks as they are. A control plane over a store seeded
// through the Store API (several attempts, chunk edges, tricky text) must give the client
// exactly what the store holds, for every query shape, and the same bytes the line encoder
// (the path for stores without chunks) would produce.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { LogEncoder } from '../../src/api/log-codec.js'
import { startControlPlane, type ControlPlane } from '../../src/controlplane/control-plane.js'
import { openTestStore, testStoreUrl } from '../support/store.js'
import type { LogLineInput, LogQuery, Store } from '../../src/store/types.js'

const TEXTS = ['plain', 'quote " backslash \\', 'ünïcödé ✓ 🚀', 'ctrl \u0001', '']

function lines(from: number, to: number, width: number): LogLineInput[] {
  const out: LogLineInput[] = []
  for (let i = from; i <= to; i++) {
    out.push({ time: new Date(Date.UTC(2024, 0, 1, 0, 0, 0, i)).toISOString(), stream: i % 11 === 0 ? 'stderr' : 'stdout', text: `${i} ${TEXTS[i % TEXTS.length]}`.padEnd(width, '-') })
  }
  return out
}

let dataDir: string
let plane: ControlPlane
let client: CtlClient
let store: Store
let runId: string

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'ctl-logs-wire-'))
  const seed = await openTestStore(dataDir)
  const { resource } = await seed.applyResource({
    workspace: 'public', type: 'workflow', name: 'seeded', version: 'v1', owner: 'alice',
    manifest: { name: 'seeded', version: 'v1', type: 'workflow', workflow: { dag: [{ name: 'big', spec: { stack: 'alpha' } }] } },
  })
  await seed.setResourceStatus(resource.id, 'active')
  const created = await seed.createRun({ resourceId: resource.id, revision: 1, trigger: 'apply', steps: ['big', 'small'] })
  runId = created.run.id
  const big = created.steps.find((s) => s.step === 'big')!
  const small = created.steps.find((s) => s.step === 'small')!
  for (const [from, to] of [[1, 3], [4, 2500], [2501, 2502], [2503, 6000]] as const) await seed.appendLogs(big.id, lines(from, to, 150), to)
  await seed.updateStepRun(big.id, { state: 'failed', finishedAt: new Date().toISOString() })
  const retry = await seed.createStepAttempt(runId, 'big', 2)
  await seed.appendLogs(retry.id, lines(1, 40, 20), 40)
  await seed.appendLogs(small.id, lines(1, 5, 10), 5)
  for (const s of [retry, small]) await seed.updateStepRun(s.id, { state: 'succeeded', finishedAt: new Date().toISOString() })
  await seed.updateRun(runId, { state: 'succeeded', finishedAt: new Date().toISOString() })
  await seed.close()
  plane = await startControlPlane({ dataDir, port: 0, storeUrl: await testStoreUrl(dataDir) })
  client = new CtlClient({ baseUrl: plane.url, apiKey: plane.adminToken })
  // A second connection to the same file, as a CLI tool would have (WAL).
  store = await openTestStore(dataDir)
})

afterAll(async () => {
  await store?.close()
  await plane?.close()
  rmSync(dataDir, { recursive: true, force: true })
})

describe('logs over HTTP from chunked storage', () => {
  it('gives the client exactly the stored lines for every query shape', async () => {
    const queries: Omit<LogQuery, 'runId' | 'limit'>[] = [
      {}, { step: 'big' }, { step: 'big', attempt: 1 }, { step: 'big', attempt: 2 }, { afterSeq: 2500 }, { afterSeq: 2501 },
      { tail: 1 }, { step: 'big', attempt: 1, tail: 3500 }, { step: 'big', attempt: 1, afterSeq: 2, tail: 10 }, { tail: 0 },
    ]
    for (const q of queries) {
      const want = await store.readLogs({ runId, ...q })
      const got = await client.logPage(runId, q)
      expect(got.length, JSON.stringify(q)).toBe(want.length)
      expect(got, JSON.stringify(q)).toEqual(want)
    }
  })

  it('sends a context object per step attempt, then one [seq, time, stream, text] array per line', async () => {
    const res = await fetch(`${plane.url}/api/v1/runs/${runId}/logs?tail=2`, { headers: { authorization: `Bearer ${plane.adminToken}` } })
    expect(res.headers.get('content-type')).toContain('application/x-ndjson')
    const items = (await res.text()).trimEnd().split('\n').map((l) => JSON.parse(l) as unknown)
    expect(items).toEqual([
      { runId, step: 'big', attempt: 1 }, [5999, expect.any(String), 'stdout', expect.stringMatching(/^5999 /)], [6000, expect.any(String), 'stdout', expect.stringMatching(/^6000 /)],
      { runId, step: 'big', attempt: 2 }, [39, expect.any(String), 'stdout', expect.any(String)], [40, expect.any(String), 'stdout', expect.any(String)],
      { runId, step: 'small', attempt: 1 }, [4, expect.any(String), 'stdout', expect.any(String)], [5, expect.any(String), 'stdout', expect.any(String)],
    ])
  })

  it('the line encoder (stores without chunks) produces the same bytes as the stored chunks', async () => {
    const q: LogQuery = { runId, afterSeq: 1000 }
    let passthrough = ''
    const contexts = new LogEncoder()
    for await (const c of store.iterateLogChunks!(q)) passthrough += contexts.contextLine(c.runId, c.step, c.attempt) + Buffer.from(c.data).toString('utf8')
    const encoder = new LogEncoder()
    let encoded = ''
    for await (const page of store.iterateLogs(q, 777)) encoded += encoder.encode(page)
    expect(encoded.length).toBeGreaterThan(100_000)
    expect(encoded).toBe(passthrough)
  })
})
