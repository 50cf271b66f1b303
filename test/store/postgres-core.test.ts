// The PostgreSQL store's core areas (resources, runs, steps, schedules, meta, backfills) against a
// real PostgreSQL: semantics that must match SQLite (one scripted scenario is run on both stores and
// compared), and two store instances on one database racing as two replicas would.
import { afterEach, describe, expect, it } from 'vitest'
import { CtlError } from '../../src/errors.js'
import { openPostgresStore } from '../../src/store/postgres/store.js'
import type { Store } from '../../src/store/types.js'
import { freshDatabase } from '../support/postgres.js'
import { freshStore, workflow } from './helpers.js'

const stores: Store[] = []
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close()
})

async function open(url: string): Promise<Store> {
  const s = await openPostgresStore(url)
  stores.push(s)
  return s
}

async function fresh(): Promise<Store> {
  return open(await freshDatabase())
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    return err instanceof CtlError ? err.code : `not a CtlError: ${String(err)}`
  }
  return 'no error'
}

function apply(store: Store, name: string, manifest: unknown = workflow(name), extra: Record<string, unknown> = {}) {
  return store.applyResource({ workspace: 'public', type: 'workflow', name, version: 'v1', manifest, owner: 'alice', ...extra })
}

describe('PostgreSQL core schema', () => {
  it('migrates a fresh database, and a second opener finds nothing to do', async () => {
    const url = await freshDatabase()
    const [a, b] = await Promise.all([open(url), open(url)])
    await a.setMeta('k', 'v1')
    await b.setMeta('k', 'v2')
    expect(await a.getMeta('k')).toBe('v2')
    expect(await a.getMeta('missing')).toBeUndefined()
  })
})

/** Ids and times vary between runs: replaced by their first-seen order so two stores' answers compare. */
function normalize(value: unknown): unknown {
  const ids = new Map<string, string>()
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      if (/^\d{4}-\d\d-\d\dT/.test(v)) return '<time>'
      const m = /^(res|r|s|bf)-[0-9a-z]{17}$/.exec(v)
      if (m) {
        if (!ids.has(v)) ids.set(v, `${m[1]}#${ids.size}`)
        return ids.get(v)
      }
      return v
    }
    if (Array.isArray(v)) return v.map(walk)
    if (v instanceof Map) return walk(Object.fromEntries(v))
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]))
    return v
  }
  return walk(value)
}

/** One pass over the core areas; every answer is recorded. */
async function scenario(store: Store): Promise<unknown[]> {
  const out: unknown[] = []
  const rec = (v: unknown) => out.push(JSON.parse(JSON.stringify(v instanceof Map ? Object.fromEntries(v) : v ?? null)))
  const wfB = workflow('B', { meta: { labels: { team: 'x' }, tags: ['t1'] } })
  const a = await apply(store, 'a')
  rec(a)
  rec(await apply(store, 'a'))
  rec(await apply(store, 'B', wfB))
  rec(await apply(store, 'a', workflow('a', { description: 'changed' })))
  rec(await codeOf(apply(store, 'a', workflow('a'), { expectedRevision: 1 })))
  rec(await apply(store, 'a', workflow('a'), { expectedRevision: 2, dryRun: true }))
  rec(await store.listRevisions(a.resource.id))
  await store.putSchedule({ resourceId: a.resource.id, revision: 2, nextFireAt: '2030-01-01T00:00:00.000Z' })
  await store.deleteResource(a.resource.id)
  rec(await store.getSchedule(a.resource.id))
  rec(await store.getResource({ workspace: 'public', type: 'workflow', name: 'a' }))
  rec(await store.getResource({ workspace: 'public', type: 'workflow', name: 'a' }, { includeDeleted: true }))
  rec(await apply(store, 'a', workflow('a', { description: 'changed' }), { owner: 'bob' }))
  rec(await apply(store, 'c', workflow('c'), { workspace: null, type: 'stack' }))
  rec(await store.listResources({ allWorkspaces: true }))
  rec(await store.listResourceSummaries({ workspace: 'public', select: (m) => (m.labels?.team ?? '') === 'x' }))
  rec(await store.listResourceSummaries({ workspace: null }))
  rec(await codeOf(store.setResourceStatus('res-nope', 'active')))
  await store.setResourceStatus(a.resource.id, 'error', 'why')
  rec(await store.getResourceById(a.resource.id))

  rec(await codeOf(store.createRun({ resourceId: a.resource.id, revision: 9, trigger: 'apply', steps: ['x'] })))
  rec(await codeOf(store.createRun({ resourceId: a.resource.id, revision: 3, trigger: 'apply', steps: ['x', 'x'] })))
  const r1 = await store.createRun({ resourceId: a.resource.id, revision: 3, trigger: 'apply', steps: ['z', 'b', 'a'], params: { p: 1 } })
  rec(r1)
  const r2 = await store.createRun({ resourceId: a.resource.id, revision: 3, trigger: 'schedule', steps: ['a'], scheduledAt: '2030-01-01T00:00:00.000Z', lateBySeconds: 1.5, retryOf: r1.run.id })
  rec(await store.listRuns({}))
  rec(await store.listRuns({ resourceId: a.resource.id, states: ['pending'], limit: 1 }))
  rec(await store.listRuns({ states: [] }))
  rec(await store.listLatestRuns([a.resource.id, 'res-none']))
  rec(await store.updateRun(r1.run.id, { state: 'running', startedAt: '2030-01-01T00:00:00.000Z' }, ['pending']))
  rec(await store.updateRun(r1.run.id, { state: 'running' }, ['pending']))
  rec(await store.updateRun(r1.run.id, {}, ['running']))
  rec(await store.updateRun(r1.run.id, { state: 'failed' }, []))
  rec(await store.getRun(r1.run.id))
  const [z, b, sa] = [...r1.steps].sort((x, y) => (x.step < y.step ? 1 : -1))
  rec(await store.updateStepRun(sa!.id, { state: 'running', runtimeHandle: { pid: 3, b: [1] }, logOffset: 5_000_000_000 }, ['pending']))
  rec(await store.updateStepRun(sa!.id, { state: 'succeeded', exitCode: 0, outputs: { k: 'v' }, finishedAt: '2030-01-01T00:00:00.000Z' }, ['running']))
  rec(await store.updateStepRun(b!.id, { state: 'failed', approval: { deadline: 'x' } as never }))
  rec(await store.listActiveStepRuns())
  rec(await codeOf(store.createStepAttempt(r1.run.id, 'b', 1)))
  rec(await codeOf(store.createStepAttempt('r-nope', 'b', 2)))
  rec(await store.createStepAttempt(r1.run.id, 'b', 2, '2030-01-01T00:00:00.000Z'))
  rec(await store.createStepInstances(r1.run.id, 'z', [{ step: 'z-1', values: { index: 1, item: 'q' } }, { step: 'z-0', values: { index: 0, item: { n: 1 } } }]))
  rec(await codeOf(store.createStepInstances(r1.run.id, 'z', [{ step: 'z-2', values: { index: 2, item: 1 } }, { step: 'z-0', values: { index: 0, item: 1 } }])))
  rec(await codeOf(store.createStepInstances('r-nope', 'z', [{ step: 'z-9', values: { index: 9, item: 1 } }])))
  rec(await store.createStepAttempt(r1.run.id, 'z-1', 2))
  rec(await store.listStepRuns(r1.run.id))
  rec(await store.getStepRun(z!.id))
  await store.updateStepRun(r2.steps[0]!.id, { state: 'succeeded', keptFrom: r1.run.id })
  rec(await store.stepOutputs(r2.run.id))
  rec(await store.stepOutputs(r1.run.id))

  const c = (await store.getResource({ workspace: null, type: 'stack', name: 'c' }))!
  await store.putSchedule({ resourceId: c.id, revision: 1 })
  await store.putSchedule({ resourceId: a.resource.id, revision: 3, nextFireAt: '2030-01-02T00:00:00.000Z', lastFireAt: '2030-01-01T00:00:00.000Z' })
  rec(await store.listSchedules())
  await store.deleteSchedule(c.id)
  rec(await store.listSchedules())

  const bf = await store.createBackfill({ resourceId: a.resource.id, trigger: 'backfill', parallel: 2, createdBy: 'alice', times: ['2030-01-02T00:00:00Z', '2030-01-01T00:00:00Z', '2030-01-02T00:00:00Z'] })
  rec(bf)
  rec(await codeOf(store.createBackfill({ resourceId: 'res-nope', trigger: 'backfill', parallel: 1, createdBy: 'alice', times: [] })))
  rec(await store.updateBackfillTime(bf.id, '2030-01-01T00:00:00Z', { state: 'starting' }, ['pending']))
  rec(await store.updateBackfillTime(bf.id, '2030-01-01T00:00:00Z', { state: 'starting' }, ['pending']))
  rec(await store.updateBackfillTime(bf.id, '2030-01-01T00:00:00Z', { state: 'started', runId: r1.run.id }, ['starting']))
  rec(await store.updateBackfillTime(bf.id, '2030-01-01T00:00:00Z', { state: 'started' }, ['started']))
  rec(await store.listBackfillTimes(bf.id))
  rec(await store.listBackfills({ resourceId: a.resource.id, states: [] }))
  rec(await store.finishBackfill(bf.id, 'done'))
  rec(await store.finishBackfill(bf.id, 'cancelled'))
  rec(await store.listBackfills({ states: ['running'] }))
  rec(await store.getBackfill(bf.id))
  return out
}

describe('PostgreSQL core areas answer as SQLite does', () => {
  it('one scenario over resources, runs, steps, schedules and backfills gives the same answers on both stores', async () => {
    const pgAnswers = normalize(await scenario(await fresh()))
    const sqliteAnswers = normalize(await scenario(freshStore().store))
    expect(pgAnswers).toEqual(sqliteAnswers)
    // The scenario did reach its errors and its CAS losses (not an early failure on both sides).
    const flat = JSON.stringify(pgAnswers)
    for (const code of ['E_CONFLICT', 'E_NOT_FOUND', 'E_DUPLICATE_STEP']) expect(flat).toContain(`"${code}"`)
    expect((pgAnswers as unknown[]).length).toBe(58)
  })

  it('records are plain: manifests read after the store is closed, and a log offset past 2^32 is a number', async () => {
    const url = await freshDatabase()
    const store = await openPostgresStore(url)
    const { resource } = await apply(store, 'w')
    const listed = await store.listResources({ workspace: 'public' })
    const { steps } = await store.createRun({ resourceId: resource.id, revision: 1, trigger: 'apply', steps: ['a'] })
    await store.updateStepRun(steps[0]!.id, { logOffset: 2 ** 33 })
    const step = await store.getStepRun(steps[0]!.id)
    await store.close()
    expect(listed[0]!.manifest).toEqual(workflow('w'))
    expect(Object.getOwnPropertyDescriptor(listed[0], 'manifest')?.value).toEqual(workflow('w'))
    expect(step!.logOffset).toBe(2 ** 33)
  })

  it('free text with a NUL character (refused by PostgreSQL) is kept with U+FFFD in its place', async () => {
    const store = await fresh()
    const { resource } = await apply(store, 'w')
    const { run, steps } = await store.createRun({ resourceId: resource.id, revision: 1, trigger: 'apply', steps: ['a'] })
    expect(await store.updateStepRun(steps[0]!.id, { state: 'failed', message: 'bad\0byte', outputs: { k: 'a\0b' } }, ['pending'])).toBe(true)
    expect(await store.updateRun(run.id, { state: 'failed', reason: 'r\0' })).toBe(true)
    await store.setResourceStatus(resource.id, 'error', 'x\0y')
    expect(await store.getStepRun(steps[0]!.id)).toMatchObject({ message: 'bad\uFFFDbyte', outputs: { k: 'a\0b' } })
    expect((await store.getRun(run.id))!.reason).toBe('r\uFFFD')
    expect((await store.getResourceById(resource.id))!.statusReason).toBe('x\uFFFDy')
  })

  it('the newest run of each resource, for a few resources and for a whole listing (over 200)', async () => {
    const store = await fresh()
    const resources = []
    for (let i = 0; i < 210; i++) resources.push((await apply(store, `w${i}`)).resource)
    const newest = new Map<string, string>()
    for (const r of resources.slice(0, 30)) {
      for (let k = 0; k < 2; k++) newest.set(r.id, (await store.createRun({ resourceId: r.id, revision: 1, trigger: 'apply', steps: [] })).run.id)
    }
    const ids = resources.map((r) => r.id)
    const whole = await store.listLatestRuns([...ids, 'res-none'])
    expect(new Map(whole.map((run) => [run.resourceId, run.id]))).toEqual(newest)
    const few = await store.listLatestRuns(ids.slice(0, 5))
    expect(few.map((run) => run.id).sort()).toEqual(ids.slice(0, 5).map((id) => newest.get(id)).sort())
    expect(few[0]).toMatchObject({ workspace: 'public', trigger: 'apply', state: 'pending' })
    expect(await store.listLatestRuns(ids.slice(100, 110))).toEqual([])
  })

  it('orders names byte-wise (columns are COLLATE "C"), as SQLite does', async () => {
    const store = await fresh()
    for (const n of ['b', 'B', 'a', 'A-1', 'a_1']) await apply(store, n)
    expect((await store.listResourceSummaries({ workspace: 'public' })).map((r) => r.name)).toEqual(['A-1', 'B', 'a', 'a_1', 'b'])
  })
})

describe('two replicas on one database', () => {
  it('applying one new key at once: one creates it, the others find it unchanged', async () => {
    const url = await freshDatabase()
    const [a, b] = await Promise.all([open(url), open(url)])
    const results = await Promise.all([...Array(8)].map((_, i) => apply(i % 2 ? a : b, 'same')))
    expect(results.map((r) => r.outcome).sort()).toEqual(['created', ...Array(7).fill('unchanged')])
    expect(new Set(results.map((r) => r.resource.id)).size).toBe(1)
    expect((await a.listRevisions(results[0]!.resource.id)).length).toBe(1)
  })

  it('applying different contents at once: one create, the rest updates, revisions 1..N without a gap', async () => {
    const url = await freshDatabase()
    const [a, b] = await Promise.all([open(url), open(url)])
    const results = await Promise.all([...Array(6)].map((_, i) => apply(i % 2 ? a : b, 'k', workflow('k', { description: `d${i}` }))))
    expect(results.map((r) => r.outcome).sort()).toEqual(['created', ...Array(5).fill('updated')])
    expect(results.map((r) => r.resource.revision).sort()).toEqual([1, 2, 3, 4, 5, 6])
    const current = await a.getResource({ workspace: 'public', type: 'workflow', name: 'k' })
    expect(current!.revision).toBe(6)
    expect((await b.listRevisions(current!.id)).map((r) => r.revision)).toEqual([1, 2, 3, 4, 5, 6])
  })

  it('creating with expectedRevision 0 at once: one created, the other E_CONFLICT', async () => {
    const url = await freshDatabase()
    const [a, b] = await Promise.all([open(url), open(url)])
    const outcomes = await Promise.allSettled([
      apply(a, 'x', workflow('x', { description: 'a' }), { expectedRevision: 0 }),
      apply(b, 'x', workflow('x', { description: 'b' }), { expectedRevision: 0 }),
    ])
    expect(outcomes.filter((o) => o.status === 'fulfilled').length).toBe(1)
    const rejected = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult
    expect((rejected.reason as CtlError).code).toBe('E_CONFLICT')
  })

  it('a delete racing an apply: the apply either revives the resource or updates it before the delete, never half of each', async () => {
    const url = await freshDatabase()
    const [a, b] = await Promise.all([open(url), open(url)])
    for (let i = 0; i < 5; i++) {
      const { resource } = await apply(a, `d${i}`)
      const [, applied] = await Promise.all([b.deleteResource(resource.id), apply(a, `d${i}`, workflow(`d${i}`, { description: 'new' }))])
      const now = (await a.getResource({ workspace: 'public', type: 'workflow', name: `d${i}` }, { includeDeleted: true }))!
      if (applied.outcome === 'created') expect(now.status).toBe('creating')
      else expect([applied.outcome, now.status]).toEqual(['updated', 'deleted'])
      expect(now.revision).toBe(2)
    }
  })

  it('runs created at once on both, racing applies of their workflow: all made, the newest is the greatest id', async () => {
    const url = await freshDatabase()
    const [a, b] = await Promise.all([open(url), open(url)])
    const { resource } = await apply(a, 'w')
    const work: Promise<unknown>[] = []
    for (let i = 0; i < 12; i++) {
      work.push((i % 2 ? a : b).createRun({ resourceId: resource.id, revision: 1, trigger: 'apply', steps: ['s'] }))
      if (i % 4 === 0) work.push(apply(i % 8 ? a : b, 'w', workflow('w', { description: `d${i}` })))
    }
    await Promise.all(work)
    const runs = await a.listRuns({ resourceId: resource.id })
    expect(runs.length).toBe(12)
    const greatest = runs.map((r) => r.id).sort().at(-1)
    expect((await b.listLatestRuns([resource.id])).map((r) => r.id)).toEqual([greatest])
  })

  it('compare-and-set on runs, steps and backfill times: exactly one of the racers wins', async () => {
    const url = await freshDatabase()
    const [a, b] = await Promise.all([open(url), open(url)])
    const { resource } = await apply(a, 'w')
    const { run, steps } = await a.createRun({ resourceId: resource.id, revision: 1, trigger: 'apply', steps: ['s'] })
    const runWins = await Promise.all([...Array(10)].map((_, i) => (i % 2 ? a : b).updateRun(run.id, { state: 'running', reason: `r${i}` }, ['pending'])))
    expect(runWins.filter(Boolean).length).toBe(1)
    const stepWins = await Promise.all([...Array(10)].map((_, i) => (i % 2 ? a : b).updateStepRun(steps[0]!.id, { state: 'running' }, ['pending'])))
    expect(stepWins.filter(Boolean).length).toBe(1)
    const attempts = await Promise.allSettled([a.createStepAttempt(run.id, 's', 2), b.createStepAttempt(run.id, 's', 2)])
    expect(attempts.filter((o) => o.status === 'fulfilled').length).toBe(1)
    expect(((attempts.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason as CtlError).code).toBe('E_CONFLICT')
    const bf = await a.createBackfill({ resourceId: resource.id, trigger: 'backfill', parallel: 1, createdBy: 'alice', times: ['2030-01-01T00:00:00Z'] })
    const claims = await Promise.all([...Array(10)].map((_, i) => (i % 2 ? a : b).updateBackfillTime(bf.id, '2030-01-01T00:00:00Z', { state: 'starting' }, ['pending'])))
    expect(claims.filter(Boolean).length).toBe(1)
    const finishes = await Promise.all([a.finishBackfill(bf.id, 'done'), b.finishBackfill(bf.id, 'cancelled')])
    expect(finishes.filter(Boolean).length).toBe(1)
  })
})
