// The authorization matrix, through the real HTTP API: every role × every verb × own/other
// workspace × own/other's resource, and every grant permission × every verb. The expected
// answers are written once, as tables below; each cell is one real call by a real user with
// a real API key, and every wrong cell is named in the failure. The tenant-level routes (users,
// keys, tags, workspaces, audit) and instance-level resources have tables of their own, and a
// last test reads the OpenAPI document so that no route goes without a cell.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { CtlError } from '../../src/errors.js'
import type { ResourceRef, Role } from '../../src/api/types.js'
import { doc, startTestServer, waitForRunEnd, workflow, type TestServer } from './helpers.js'

const OWN_WS = 'ws-own'
/** Opens GET /metrics besides a tenant-wide tenant-admin's key (--metrics-token-file). */
const METRICS_TOKEN = 'matrix-metrics-token-0123456789'
let metricsDir: string | undefined
const OTHER_WS = 'ws-other'
const VERBS = ['apply', 'get', 'rget', 'log', 'run', 'stop', 'retry', 'delete', 'grant', 'secret', 'use', 'detail', 'grants', 'revoke', 'hold', 'drydel', 'approve', 'rback'] as const
type CellVerb = (typeof VERBS)[number]

// Y allowed, N refused (403), - not a cell. `apply` on an existing resource is an update; the
// `new` scopes create one. Roles are bound in ws-own, except tenant-admin* (tenant-wide).
// The owner of a resource manages it while holding any binding in its workspace.
const ROLE_TABLE = `
role          scope          apply get rget log run stop retry delete grant secret use detail grants revoke hold drydel approve rback
tenant-admin* own-ws:own     Y     Y   Y    Y   Y   Y    Y     Y      Y     Y      Y   Y      Y      Y      Y    Y      Y       Y
tenant-admin* own-ws:other   Y     Y   Y    Y   Y   Y    Y     Y      Y     Y      Y   Y      Y      Y      Y    Y      Y       Y
tenant-admin* other-ws:own   Y     Y   Y    Y   Y   Y    Y     Y      Y     Y      Y   Y      Y      Y      Y    Y      Y       Y
tenant-admin* other-ws:other Y     Y   Y    Y   Y   Y    Y     Y      Y     Y      Y   Y      Y      Y      Y    Y      Y       Y
tenant-admin* own-ws:new     Y     -   -    -   -   -    -     -      -     -      -   -      -      -      -    -      -       -
tenant-admin* other-ws:new   Y     -   -    -   -   -    -     -      -     -      -   -      -      -      -    -      -       -
tenant-admin  own-ws:own     Y     Y   Y    Y   Y   Y    Y     Y      Y     Y      Y   Y      Y      Y      Y    Y      Y       Y
tenant-admin  own-ws:other   Y     Y   Y    Y   Y   Y    Y     Y      Y     Y      Y   Y      Y      Y      Y    Y      Y       Y
tenant-admin  other-ws:own   N     N   N    N   N   N    N     N      N     N      N   N      N      N      N    N      N       N
tenant-admin  other-ws:other N     N   N    N   N   N    N     N      N     N      N   N      N      N      N    N      N       N
tenant-admin  own-ws:new     Y     -   -    -   -   -    -     -      -     -      -   -      -      -      -    -      -       -
tenant-admin  other-ws:new   N     -   -    -   -   -    -     -      -     -      -   -      -      -      -    -      -       -
operator      own-ws:own     Y     Y   Y    Y   Y   Y    Y     Y      Y     Y      Y   Y      Y      Y      Y    Y      Y       Y
operator      own-ws:other   N     Y   Y    Y   Y   Y    Y     N      N     N      N   Y      N      N      Y    N      Y       N
operator      other-ws:own   N     N   N    N   N   N    N     N      N     N      N   N      N      N      N    N      N       N
operator      other-ws:other N     N   N    N   N   N    N     N      N     N      N   N      N      N      N    N      N       N
operator      own-ws:new     N     -   -    -   -   -    -     -      -     -      -   -      -      -      -    -      -       -
operator      other-ws:new   N     -   -    -   -   -    -     -      -     -      -   -      -      -      -    -      -       -
data-dev      own-ws:own     Y     Y   Y    Y   Y   Y    Y     Y      Y     Y      Y   Y      Y      Y      Y    Y      Y       Y
data-dev      own-ws:other   N     Y   Y    Y   N   N    N     N      N     N      N   Y      N      N      N    N      N       N
data-dev      other-ws:own   N     N   N    N   N   N    N     N      N     N      N   N      N      N      N    N      N       N
data-dev      other-ws:other N     N   N    N   N   N    N     N      N     N      N   N      N      N      N    N      N       N
data-dev      own-ws:new     Y     -   -    -   -   -    -     -      -     -      -   -      -      -      -    -      -       -
data-dev      other-ws:new   N     -   -    -   -   -    -     -      -     -      -   -      -      -      -    -      -       -
viewer        own-ws:own     Y     Y   Y    Y   Y   Y    Y     Y      Y     Y      Y   Y      Y      Y      Y    Y      Y       Y
viewer        own-ws:other   N     Y   Y    N   N   N    N     N      N     N      N   Y      N      N      N    N      N       N
viewer        other-ws:own   N     N   N    N   N   N    N     N      N     N      N   N      N      N      N    N      N       N
viewer        other-ws:other N     N   N    N   N   N    N     N      N     N      N   N      N      N      N    N      N       N
viewer        own-ws:new     N     -   -    -   -   -    -     -      -     -      -   -      -      -      -    -      -       -
viewer        other-ws:new   N     -   -    -   -   -    -     -      -     -      -   -      -      -      -    -      -       -
none          own-ws:own     N     N   N    N   N   N    N     N      N     N      N   N      N      N      N    N      N       N
none          own-ws:other   N     N   N    N   N   N    N     N      N     N      N   N      N      N      N    N      N       N
none          other-ws:own   N     N   N    N   N   N    N     N      N     N      N   N      N      N      N    N      N       N
none          other-ws:other N     N   N    N   N   N    N     N      N     N      N   N      N      N      N    N      N       N
none          own-ws:new     N     -   -    -   -   -    -     -      -     -      -   -      -      -      -    -      -       -
none          other-ws:new   N     -   -    -   -   -    -     -      -     -      -   -      -      -      -    -      -       -
`

// Users with no binding at all, holding one grant permission on a resource someone else owns
// in ws-own (`granted`), and nothing on another one (`ungranted`).
const GRANT_TABLE = `
permission scope     apply get rget log run stop retry delete grant secret use detail grants revoke hold drydel approve rback
read       granted   N     Y   Y    Y   N   N    N     N      N     N      N   Y      N      N      N    N      N       N
read       ungranted N     N   N    N   N   N    N     N      N     N      N   N      N      N      N    N      N       N
run        granted   N     Y   Y    Y   Y   Y    Y     N      N     N      N   Y      N      N      Y    N      Y       N
run        ungranted N     N   N    N   N   N    N     N      N     N      N   N      N      N      N    N      N       N
use        granted   N     Y   Y    N   N   N    N     N      N     N      Y   Y      N      N      N    N      N       N
use        ungranted N     N   N    N   N   N    N     N      N     N      N   N      N      N      N    N      N       N
manage     granted   Y     Y   Y    Y   Y   Y    Y     Y      Y     Y      Y   Y      Y      Y      Y    Y      Y       Y
manage     ungranted N     N   N    N   N   N    N     N      N     N      N   N      N      N      N    N      N       N
approve    granted   N     Y   Y    Y   N   N    N     N      N     N      N   Y      N      N      N    N      Y       N
approve    ungranted N     N   N    N   N   N    N     N      N     N      N   N      N      N      N    N      N       N
`

interface Row {
  who: string
  scope: string
  cells: Map<CellVerb, boolean>
}

function parseTable(text: string): Row[] {
  const lines = text.trim().split('\n').map((l) => l.trim().split(/\s+/))
  const header = lines[0]!.slice(2)
  expect(header).toEqual([...VERBS])
  return lines.slice(1).map((cols) => {
    const cells = new Map<CellVerb, boolean>()
    header.forEach((verb, i) => {
      const v = cols[i + 2]
      if (v === 'Y' || v === 'N') cells.set(verb as CellVerb, v === 'Y')
      else expect(v, `${cols[0]} ${cols[1]} ${verb}`).toBe('-')
    })
    return { who: cols[0]!, scope: cols[1]!, cells }
  })
}

let t: TestServer
const clients = new Map<string, CtlClient>()
let seq = 0
const slug = (s: string): string => s.replace(/\*/g, '-tw').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')
const userIdOf = (who: string): string => `u-${slug(who)}`

const secretManifest = (name: string, value: string, owner?: string) => ({
  name, version: 'v1', type: 'secret', ...(owner ? { owner } : {}), secret: { type: 'key-value', acl: 'r', data: { k: value } },
})
const workflowManifest = (name: string, owner?: string) => ({ ...workflow(name, { main: 'echo hello; exit 1' }), ...(owner ? { owner } : {}) })

interface Fixture {
  wf: ResourceRef
  secret: ResourceRef
  runId: string
}

/** A failing workflow (so retry has work) with one finished run, and a secret, applied by the admin for `owner`. */
async function fixture(ws: string, base: string, owner: string): Promise<Fixture> {
  await t.client.apply(ws, [doc(workflowManifest(`wf-${base}`, owner)), doc(secretManifest(`sec-${base}`, 'v0', owner))])
  const wf = { workspace: ws, type: 'workflow', name: `wf-${base}` }
  const runs = await t.client.runs(wf)
  expect(runs.length).toBeGreaterThan(0)
  return { wf, secret: { workspace: ws, type: 'secret', name: `sec-${base}` }, runId: runs[0]!.id }
}

async function addUser(id: string, bindings: { role: Role; workspace?: string }[]): Promise<CtlClient> {
  await t.client.createUser({ id, name: `Test ${id}`, type: 'person' })
  for (const b of bindings) await t.client.addTag(id, { tag: `roles:id:${b.role}`, ...(b.workspace ? { workspace: b.workspace } : {}) })
  const key = await t.client.createApiKey(id, { name: 'matrix' })
  const client = new CtlClient({ baseUrl: t.plane.url, apiKey: key.token })
  tokens.set(client, key.token)
  return client
}

/** Each matrix user's API key, for the routes the client has no call for (GET /metrics). */
const tokens = new WeakMap<CtlClient, string>()

/** GET /metrics with the client's key: 403 becomes E_FORBIDDEN like the client's refusals. */
async function scrapeMetrics(c: CtlClient): Promise<string> {
  const res = await fetch(`${t.plane.url}/metrics`, { headers: { authorization: `Bearer ${tokens.get(c)}` } })
  if (res.status === 403) throw new CtlError('E_FORBIDDEN', `GET /metrics: ${res.status}`)
  if (res.status !== 200) throw new Error(`GET /metrics: unexpected ${res.status}`)
  return res.text()
}

/** Reads a stream to its end (a watch of an ended run is one line). */
async function drain<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of items) out.push(item)
  return out
}

/** The first event of a stream that stays open (a workflow's runs), then closes it. */
async function firstEvent(c: CtlClient, path: string): Promise<unknown> {
  const stop = new AbortController()
  const it = c.events(path, stop.signal)[Symbol.asyncIterator]()
  try {
    return (await it.next()).value
  } finally {
    stop.abort()
    await it.return?.(undefined)
  }
}

type Outcome = { allowed: true; note: string } | { allowed: false; note: string }

/** One cell: the call, and whether authorization let it through (403 = refused; anything else got past it). */
async function attempt(verb: CellVerb, c: CtlClient, f: Fixture, ws: string, newName: string): Promise<Outcome> {
  const call = async (): Promise<unknown> => {
    switch (verb) {
      case 'apply': return c.apply(ws, [doc(newName ? secretManifest(newName, 'v') : secretManifest(f.secret.name, `v${++seq}`))])
      case 'get': return c.get(f.wf)
      case 'rget': return Promise.all([c.runs(f.wf), firstEvent(c, `/api/v1/workspaces/${f.wf.workspace}/resources/workflow/${f.wf.name}/events`)])
      case 'log': return c.logPage(f.runId)
      case 'run': {
        // A backfill is authorized as `run`; the fixture has no schedule, which is said only after authorization.
        await c.backfill(f.wf, { from: '2030-01-01', to: '2030-01-02', dryRun: true }).catch((e: unknown) => {
          if (!(e instanceof CtlError && e.code === 'E_USAGE' && e.message.includes('has no schedule'))) throw e
        })
        return c.runNow(f.wf)
      }
      case 'stop': return c.stop(f.wf)
      case 'retry': return c.retry(f.wf)
      case 'delete': return c.delete(f.wf)
      case 'drydel': return c.delete(f.wf, { dryRun: true })
      // Rollback is an update of the workflow (revision 1 again: unchanged, but authorized first).
      case 'rback': return c.rollback(f.wf, 1)
      case 'detail': return Promise.all([c.run(f.runId), c.node(f.runId, 'main'), drain(c.watchRun(f.runId)), drain(c.events(`/api/v1/runs/${f.runId}/events`))])
      case 'grants': return c.grants(f.wf)
      case 'revoke': return c.revoke(f.wf, { to: 'user:grantee', permission: 'read' })
      case 'hold': {
        await c.suspend(f.wf)
        return c.resume(f.wf)
      }
      // No step of the fixture waits: past authorization, the answer is 404 (counted as allowed below).
      case 'approve': return Promise.allSettled([c.decide(f.wf, 'approve', { step: 'main' }), c.decide(f.wf, 'reject', { step: 'main', comment: 'no' })]).then(sameVerdict)
      case 'grant': return c.grant(f.wf, { to: 'user:grantee', permission: 'read' })
      case 'secret': return c.get(f.secret, { unsanitized: true })
      case 'use': {
        const answer = await c.canI({ verb: 'use', type: 'secret', name: f.secret.name, workspace: ws })
        // can-i answers rather than refuses: its reason stands in for the 403 message.
        if (!answer.allowed) throw new CtlError('E_FORBIDDEN', answer.reason)
        return answer
      }
    }
  }
  try {
    await call()
    return { allowed: true, note: 'ok' }
  } catch (err) {
    if (!(err instanceof CtlError)) throw err
    if (err.code === 'E_FORBIDDEN') return { allowed: false, note: err.message }
    // Authorization comes first in every route: a later refusal (retry while a run is active) means it passed.
    if (verb === 'retry' && err.code === 'E_CONFLICT') return { allowed: true, note: err.message }
    if (verb === 'approve' && err.code === 'E_NOT_FOUND' && /waits for approval/.test(err.message)) return { allowed: true, note: err.message }
    throw new Error(`${verb}: unexpected ${err.code}: ${err.message}`)
  }
}

/** approve and reject are one column: both must answer alike; the first refusal (or error) stands for both. */
function sameVerdict(results: PromiseSettledResult<unknown>[]): unknown {
  const codes = results.map((r) => (r.status === 'rejected' ? (r.reason as { code?: string }).code : 'ok'))
  if (codes[0] !== codes[1]) throw new Error(`approve and reject disagree: ${codes.join(' vs ')}`)
  const failed = results.find((r) => r.status === 'rejected')
  if (failed) throw (failed as PromiseRejectedResult).reason
  return undefined
}

/** Verbs in an order where each leaves the resource usable for the next; delete last. */
const ORDER: readonly CellVerb[] = [
  'get', 'rget', 'detail', 'log', 'grants', 'grant', 'revoke', 'secret', 'use', 'run', 'hold', 'stop', 'retry', 'approve', 'apply', 'rback', 'drydel', 'delete',
]

async function drive(rows: Row[], setup: (row: Row) => Promise<{ client: CtlClient; fixture?: Fixture; ws: string }>): Promise<string[]> {
  const failures: string[] = []
  const prepared = await Promise.all(rows.map(async (row) => ({ row, ...(await setup(row)) })))
  // Every fixture's first run has ended, so logs and retries see a finished run.
  await Promise.all(prepared.map((p) => (p.fixture ? waitForRunEnd(t.client, p.fixture.runId) : undefined)))
  for (const { row, client, fixture, ws } of prepared) {
    for (const verb of ORDER) {
      const expected = row.cells.get(verb)
      if (expected === undefined) continue
      const isNew = row.scope.endsWith(':new')
      const f = fixture ?? { wf: { workspace: ws, type: 'workflow', name: 'none' }, secret: { workspace: ws, type: 'secret', name: 'none' }, runId: '' }
      const got = await attempt(verb, client, f, ws, isNew ? `new-${slug(row.who)}-${++seq}` : '')
      if (got.allowed !== expected) {
        failures.push(`${row.who} × ${row.scope} × ${verb}: expected ${expected ? 'ALLOW' : 'DENY'}, got ${got.allowed ? 'ALLOW' : 'DENY'} (${got.note})`)
      } else if (!got.allowed && !(verb === 'use' ? got.note.startsWith('no binding or grant allows use') : got.note.startsWith('forbidden: '))) {
        failures.push(`${row.who} × ${row.scope} × ${verb}: 403 message does not say what is missing: ${got.note}`)
      }
    }
  }
  return failures
}

beforeAll(async () => {
  metricsDir = mkdtempSync(join(tmpdir(), 'ctl-matrix-metrics-'))
  writeFileSync(join(metricsDir, 'token'), `${METRICS_TOKEN}\n`, { mode: 0o600 })
  t = await startTestServer({ maxParallelSteps: 8, metricsTokenFile: join(metricsDir, 'token') })
  await t.client.createWorkspace({ name: OWN_WS })
  await t.client.createWorkspace({ name: OTHER_WS })
  await t.client.createUser({ id: 'someone', name: 'Owner of the other resources', type: 'person' })
  await t.client.createUser({ id: 'grantee', name: 'Receives grants', type: 'application' })
}, 60_000)
afterAll(async () => {
  await t?.stop()
  if (metricsDir) rmSync(metricsDir, { recursive: true, force: true })
})

describe('authorization matrix through the HTTP API', () => {
  it('role × verb × workspace × ownership', async () => {
    const rows = parseTable(ROLE_TABLE)
    expect(rows).toHaveLength(36)
    for (const who of new Set(rows.map((r) => r.who))) {
      const role = who.replace('*', '') as Role | 'none'
      const bindings = role === 'none' ? [] : [{ role, ...(who.endsWith('*') ? {} : { workspace: OWN_WS }) }]
      clients.set(who, await addUser(userIdOf(who), bindings))
    }
    const failures = await drive(rows, async (row) => {
      const [wsPart, ownerPart] = row.scope.split(':') as [string, string]
      const ws = wsPart === 'own-ws' ? OWN_WS : OTHER_WS
      const client = clients.get(row.who)!
      if (ownerPart === 'new') return { client, ws }
      const owner = ownerPart === 'own' ? userIdOf(row.who) : 'someone'
      return { client, ws, fixture: await fixture(ws, `${slug(row.who)}-${slug(row.scope)}`, owner) }
    })
    expect(failures, `\n${failures.join('\n')}\n`).toEqual([])
  }, 120_000)

  it('grant permission × verb, without any binding', async () => {
    const rows = parseTable(GRANT_TABLE)
    for (const permission of new Set(rows.map((r) => r.who))) clients.set(`g-${permission}`, await addUser(`g-${permission}`, []))
    const failures = await drive(rows, async (row) => {
      const id = `g-${row.who}`
      const f = await fixture(OWN_WS, `${row.who}-${row.scope}`, 'someone')
      if (row.scope === 'granted') {
        await t.client.grant(f.wf, { to: `user:${id}`, permission: row.who as 'read' })
        await t.client.grant(f.secret, { to: `user:${id}`, permission: row.who as 'read' })
      }
      return { client: clients.get(id)!, ws: OWN_WS, fixture: f }
    })
    expect(failures, `\n${failures.join('\n')}\n`).toEqual([])
  }, 120_000)
})

// ---- tenant-level routes (users, keys, tags, workspaces, audit) and instance-level resources

// Users, their keys and tags, workspaces and the audit log are `admin`: a tenant-wide
// tenant-admin for tenant-level targets; a tenant-admin of ws-own binds roles there only.
// Every target is someone else (or a workspace): what one may do to oneself is SELF below. The replicas
// sharing the store name hosts: tenant-wide tenant-admins only.
const ADMIN_TABLE = `
role          ucreate ulist uget udelete kcreate klist kdelete tget tadd tdel wcreate wget wdelete audit replicas metrics
tenant-admin* Y       Y     Y    Y       Y       Y     Y       Y    Y    Y    Y       Y    Y       Y     Y        Y
tenant-admin  N       N     N    N       N       N     N       N    Y    Y    N       Y    N       N     N        N
operator      N       N     N    N       N       N     N       N    N    N    N       Y    N       N     N        N
data-dev      N       N     N    N       N       N     N       N    N    N    N       Y    N       N     N        N
viewer        N       N     N    N       N       N     N       N    N    N    N       Y    N       N     N        N
none          N       N     N    N       N       N     N       N    N    N    N       N    N       N     N        N
`

// Instance-level resources (a compute here): reading is open to any binding; the rest is a
// tenant-wide tenant-admin's. Run routes pass authorization, then say only workflows run.
const INSTANCE_TABLE = `
role          get rget run stop hold retry approve grants grant revoke rback drydel delete
tenant-admin* Y   Y    Y   Y    Y    Y     Y       Y      Y     Y      Y     Y      Y
tenant-admin  Y   Y    N   N    N    N     N       N      N     N      N     N      N
operator      Y   Y    N   N    N    N     N       N      N     N      N     N      N
data-dev      Y   Y    N   N    N    N     N       N      N     N      N     N      N
viewer        Y   Y    N   N    N    N     N       N      N     N      N     N      N
none          N   N    N   N    N    N     N       N      N     N      N     N      N
`

// Open to every authenticated caller, a role or not: about oneself, or answers filtered to what one may see.
const SELF = ['whoami', 'info', 'self', 'selfkeys', 'selftags', 'list', 'workspaces', 'can-i', 'session'] as const

function parseSimple(text: string): { who: string; cells: Map<string, boolean> }[] {
  const lines = text.trim().split('\n').map((l) => l.trim().split(/\s+/))
  const header = lines[0]!.slice(1)
  return lines.slice(1).map((cols) => ({ who: cols[0]!, cells: new Map(header.map((h, i) => [h, cols[i + 1] === 'Y'])) }))
}

/** Whether a call got past authorization: 403 is a refusal; usage errors after it (only workflows run) are not. */
async function passed(call: () => Promise<unknown>): Promise<Outcome> {
  try {
    await call()
    return { allowed: true, note: 'ok' }
  } catch (err) {
    if (!(err instanceof CtlError)) throw err
    if (err.code === 'E_FORBIDDEN') return { allowed: false, note: err.message }
    if (err.code === 'E_USAGE' && /only workflows run/.test(err.message)) return { allowed: true, note: err.message }
    throw new Error(`unexpected ${err.code}: ${err.message}`)
  }
}

async function adminCall(col: string, c: CtlClient, n: string): Promise<unknown> {
  // Fresh targets, made by the admin, so each cell stands alone.
  const target = `tgt-${n}`
  const needsUser = ['uget', 'udelete', 'kcreate', 'klist', 'kdelete', 'tget', 'tadd', 'tdel'].includes(col)
  if (needsUser) await t.client.createUser({ id: target, name: target, type: 'application' })
  switch (col) {
    case 'ucreate': return c.createUser({ id: target, name: target, type: 'application' })
    case 'ulist': return c.users()
    case 'uget': return c.user(target)
    case 'udelete': return c.deleteUser(target)
    case 'kcreate': return c.createApiKey(target)
    case 'klist': return c.apiKeys(target)
    case 'kdelete': return c.deleteApiKey(target, (await t.client.createApiKey(target)).id)
    case 'tget': return c.tags(target)
    case 'tadd': return c.addTag(target, { tag: 'roles:id:viewer', workspace: OWN_WS })
    case 'tdel': {
      await t.client.addTag(target, { tag: 'roles:id:viewer', workspace: OWN_WS })
      return c.deleteTag(target, { tag: 'roles:id:viewer', workspace: OWN_WS })
    }
    case 'wcreate': return c.createWorkspace({ name: target })
    case 'wget': return c.workspace(OWN_WS)
    case 'wdelete': {
      await t.client.createWorkspace({ name: target })
      return c.deleteWorkspace(target)
    }
    case 'audit': return c.audit({ limit: 1 })
    case 'replicas': return c.replicas()
    case 'metrics': return scrapeMetrics(c)
  }
  throw new Error(`no call for ${col}`)
}

async function instanceCall(col: string, c: CtlClient, ref: ResourceRef): Promise<unknown> {
  switch (col) {
    case 'get': return c.get(ref)
    case 'rget': return c.runs(ref)
    case 'run': return c.runNow(ref)
    case 'stop': return c.stop(ref)
    case 'hold': return c.suspend(ref).then(() => c.resume(ref))
    case 'retry': return c.retry(ref)
    case 'approve': return c.decide(ref, 'approve', { step: 'main' }).then(() => c.decide(ref, 'reject', { step: 'main' }))
    case 'grants': return c.grants(ref)
    case 'grant': return c.grant(ref, { to: 'user:grantee', permission: 'read' })
    case 'revoke': return c.revoke(ref, { to: 'user:grantee', permission: 'read' })
    case 'drydel': return c.delete(ref, { dryRun: true })
    case 'rback': return c.rollback(ref, 1)
    case 'delete': return c.delete(ref)
  }
  throw new Error(`no call for ${col}`)
}

async function selfCall(col: (typeof SELF)[number], c: CtlClient, id: string): Promise<unknown> {
  switch (col) {
    case 'whoami': return c.whoami()
    case 'info': return c.info()
    case 'self': return c.user(id)
    case 'selfkeys': {
      const key = await c.createApiKey(id, { name: 'own' })
      await c.apiKeys(id)
      return c.deleteApiKey(id, key.id)
    }
    case 'selftags': return c.tags(id)
    // Across workspaces: filtered to what one may see (one workspace without a binding there is refused).
    case 'list': return c.list({ all: true })
    case 'workspaces': return c.workspaces()
    case 'can-i': return c.canI({ verb: 'get', type: 'workflow', workspace: OWN_WS })
    // Console sessions (test/server/session.test.ts covers the cookie): anyone signs in with their own key.
    case 'session': return Promise.all([c.session(), c.signInLink(), c.signOut()])
  }
}

/** Each route of the API, as `METHOD path`, and the table columns whose cells call it. */
const ROUTE_CELLS: Record<string, string[]> = {
  'POST /api/v1/workspaces/:ws/resources': ['role:apply'],
  'GET /api/v1/resources': ['self:list'],
  'GET /api/v1/workspaces/:ws/resources/:type/:name': ['role:get', 'role:secret'],
  'DELETE /api/v1/workspaces/:ws/resources/:type/:name': ['role:delete', 'role:drydel'],
  'GET /api/v1/instance/resources/:type/:name': ['instance:get'],
  'DELETE /api/v1/instance/resources/:type/:name': ['instance:delete', 'instance:drydel'],
  'POST /api/v1/workspaces/:ws/resources/:type/:name/rollback': ['role:rback'],
  'POST /api/v1/instance/resources/:type/:name/rollback': ['instance:rback'],
  'POST /api/v1/workspaces/:ws/resources/:type/:name/runs': ['role:run'],
  'GET /api/v1/workspaces/:ws/resources/:type/:name/runs': ['role:rget'],
  'POST /api/v1/workspaces/:ws/resources/:type/:name/runs/stop': ['role:stop'],
  'POST /api/v1/workspaces/:ws/resources/:type/:name/runs/suspend': ['role:hold'],
  'POST /api/v1/workspaces/:ws/resources/:type/:name/runs/resume': ['role:hold'],
  'POST /api/v1/workspaces/:ws/resources/:type/:name/runs/retry': ['role:retry'],
  'POST /api/v1/workspaces/:ws/resources/:type/:name/runs/approve': ['role:approve'],
  'POST /api/v1/workspaces/:ws/resources/:type/:name/runs/reject': ['role:approve'],
  'POST /api/v1/instance/resources/:type/:name/runs/approve': ['instance:approve'],
  'POST /api/v1/instance/resources/:type/:name/runs/reject': ['instance:approve'],
  'POST /api/v1/workspaces/:ws/resources/:type/:name/runs/backfill': ['role:run'],
  'POST /api/v1/instance/resources/:type/:name/runs': ['instance:run'],
  'GET /api/v1/instance/resources/:type/:name/runs': ['instance:rget'],
  'POST /api/v1/instance/resources/:type/:name/runs/stop': ['instance:stop'],
  'POST /api/v1/instance/resources/:type/:name/runs/suspend': ['instance:hold'],
  'POST /api/v1/instance/resources/:type/:name/runs/resume': ['instance:hold'],
  'POST /api/v1/instance/resources/:type/:name/runs/retry': ['instance:retry'],
  'GET /api/v1/runs/:id': ['role:detail'],
  'GET /api/v1/runs/:id/nodes/:node': ['role:detail'],
  'GET /api/v1/runs/:id/watch': ['role:detail'],
  'GET /api/v1/runs/:id/events': ['role:detail'],
  'GET /api/v1/workspaces/:ws/resources/:type/:name/events': ['role:rget'],
  'GET /api/v1/runs/:id/logs': ['role:log'],
  'GET /api/v1/whoami': ['self:whoami'],
  'GET /api/v1/info': ['self:info'],
  'POST /api/v1/users': ['admin:ucreate'],
  'GET /api/v1/users': ['admin:ulist'],
  'GET /api/v1/users/:id': ['admin:uget', 'self:self'],
  'DELETE /api/v1/users/:id': ['admin:udelete'],
  'POST /api/v1/users/:id/apikeys': ['admin:kcreate', 'self:selfkeys'],
  'GET /api/v1/users/:id/apikeys': ['admin:klist', 'self:selfkeys'],
  'DELETE /api/v1/users/:id/apikeys/:keyId': ['admin:kdelete', 'self:selfkeys'],
  'GET /api/v1/users/:id/tags': ['admin:tget', 'self:selftags'],
  'POST /api/v1/users/:id/tags': ['admin:tadd'],
  'DELETE /api/v1/users/:id/tags': ['admin:tdel'],
  'POST /api/v1/workspaces': ['admin:wcreate'],
  'GET /api/v1/workspaces': ['self:workspaces'],
  'GET /api/v1/workspaces/:ws': ['admin:wget'],
  'DELETE /api/v1/workspaces/:ws': ['admin:wdelete'],
  'GET /api/v1/workspaces/:ws/resources/:type/:name/grants': ['role:grants'],
  'POST /api/v1/workspaces/:ws/resources/:type/:name/grants': ['role:grant'],
  'DELETE /api/v1/workspaces/:ws/resources/:type/:name/grants': ['role:revoke'],
  'GET /api/v1/instance/resources/:type/:name/grants': ['instance:grants'],
  'POST /api/v1/instance/resources/:type/:name/grants': ['instance:grant'],
  'DELETE /api/v1/instance/resources/:type/:name/grants': ['instance:revoke'],
  'POST /api/v1/auth/can-i': ['self:can-i', 'role:use'],
  'GET /api/v1/audit': ['admin:audit'],
  'GET /api/v1/replicas': ['admin:replicas'],
  'GET /api/v1/session': ['self:session'],
  'DELETE /api/v1/session': ['self:session'],
  'POST /api/v1/session/links': ['self:session'],
  'GET /metrics': ['admin:metrics'],
}
/** Unauthenticated by design. */
const PUBLIC_ROUTES = ['GET /healthz', 'GET /readyz', 'GET /api/v1/openapi.json', 'POST /api/v1/session']
/**
 * Authenticated by a signature instead of an API key (webhook triggers, test/server/hooks.test.ts): a cell
 * here checks that no API key, not even the admin's, opens them without the signature.
 */
const SIGNED_ROUTES = ['POST /api/v1/hooks/:ws/:workflow/:trigger']

describe('authorization matrix: tenant-level and instance-level routes', () => {
  const roleOf = (who: string) => who.replace('*', '') as Role | 'none'
  const bindingsOf = (who: string) => roleOf(who) === 'none' ? [] : [{ role: roleOf(who) as Role, ...(who.endsWith('*') ? {} : { workspace: OWN_WS }) }]

  it('users, keys, tags, workspaces and the audit log', async () => {
    const failures: string[] = []
    let n = 0
    for (const row of parseSimple(ADMIN_TABLE)) {
      const c = await addUser(`adm-${slug(row.who)}`, bindingsOf(row.who))
      for (const [col, expected] of row.cells) {
        const got = await passed(() => adminCall(col, c, `${slug(row.who)}-${++n}`))
        if (got.allowed !== expected) failures.push(`${row.who} × ${col}: expected ${expected ? 'ALLOW' : 'DENY'}, got ${got.allowed ? 'ALLOW' : 'DENY'} (${got.note})`)
      }
      for (const col of SELF) {
        const got = await passed(() => selfCall(col, c, `adm-${slug(row.who)}`))
        if (!got.allowed) failures.push(`${row.who} × ${col}: refused what anyone may do (${got.note})`)
      }
    }
    expect(failures, `\n${failures.join('\n')}\n`).toEqual([])
  }, 60_000)

  it('instance-level resources', async () => {
    const failures: string[] = []
    for (const row of parseSimple(INSTANCE_TABLE)) {
      const c = await addUser(`inst-${slug(row.who)}`, bindingsOf(row.who))
      const name = `nodes-${slug(row.who)}`
      await t.client.apply('public', [doc({ name, version: 'v1', type: 'compute', compute: { purpose: 'runnable', nodePool: { nodeSelector: { size: 'big' } } } })])
      const ref: ResourceRef = { workspace: null, type: 'compute', name }
      for (const [col, expected] of row.cells) {
        const got = await passed(() => instanceCall(col, c, ref))
        if (got.allowed !== expected) failures.push(`${row.who} × ${col}: expected ${expected ? 'ALLOW' : 'DENY'}, got ${got.allowed ? 'ALLOW' : 'DENY'} (${got.note})`)
      }
    }
    expect(failures, `\n${failures.join('\n')}\n`).toEqual([])
  }, 60_000)

  it('every route of the API is called by a cell of these tables', async () => {
    const openapi = (await (await fetch(`${t.plane.url}/api/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> }
    const routes = Object.entries(openapi.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`))
    const columns = new Set([
      ...VERBS.map((v) => `role:${v}`),
      ...[...parseSimple(ADMIN_TABLE)[0]!.cells.keys()].map((c) => `admin:${c}`),
      ...[...parseSimple(INSTANCE_TABLE)[0]!.cells.keys()].map((c) => `instance:${c}`),
      ...SELF.map((c) => `self:${c}`),
    ])
    expect(routes.filter((r) => !PUBLIC_ROUTES.includes(r) && !SIGNED_ROUTES.includes(r) && !(ROUTE_CELLS[r] ?? []).some((c) => columns.has(c))), 'routes no cell calls').toEqual([])
    expect(SIGNED_ROUTES.filter((r) => !routes.includes(r)), 'signed routes that do not exist').toEqual([])
    expect(Object.keys(ROUTE_CELLS).filter((r) => !routes.includes(r)), 'cells for routes that do not exist').toEqual([])
  })

  it('GET /metrics: the metrics token opens it, no key or a wrong one is 401, and the token opens nothing else', async () => {
    const status = async (path: string, token?: string) =>
      (await fetch(`${t.plane.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} })).status
    expect(await status('/metrics', METRICS_TOKEN)).toBe(200)
    expect(await status('/metrics')).toBe(401)
    expect(await status('/metrics', `${METRICS_TOKEN}x`)).toBe(401)
    expect(await status('/api/v1/whoami', METRICS_TOKEN)).toBe(401)
  })

  it('signed routes: an API key is no signature (401 for the admin, 401 without one)', async () => {
    await t.client.apply(OWN_WS, [
      doc({ name: 'matrix-hook', version: 'v1', type: 'secret', secret: { type: 'key-value', acl: 'r', data: { HMAC_KEY: 'k' } } }),
      doc(workflow('matrix-hooked', { main: 'true' }, { triggers: [{ name: 'go', webhook: { secret: 'matrix-hook' } }] }), 'h.yaml', 1),
    ])
    for (const auth of [{ authorization: `Bearer ${t.token}` }, {}] as Record<string, string>[]) {
      const res = await fetch(`${t.plane.url}/api/v1/hooks/${OWN_WS}/matrix-hooked/go`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: '{}' })
      expect(res.status).toBe(401)
    }
  })
})
