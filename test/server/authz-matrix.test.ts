// The authorization matrix, through the real HTTP API: every role × every verb × own/other
// workspace × own/other's resource, and every grant permission × every verb. The expected
// answers are written once, as tables below; each cell is one real call by a real user with
// a real API key, and every wrong cell is named in the failure.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { CtlError } from '../../src/errors.js'
import type { ResourceRef, Role } from '../../src/client/types.js'
import { doc, startTestServer, waitForRunEnd, workflow, type TestServer } from './helpers.js'

const OWN_WS = 'ws-own'
const OTHER_WS = 'ws-other'
const VERBS = ['apply', 'get', 'rget', 'log', 'run', 'stop', 'retry', 'delete', 'grant', 'secret', 'use'] as const
type CellVerb = (typeof VERBS)[number]

// Y allowed, N refused (403), - not a cell. `apply` on an existing resource is an update; the
// `new` scopes create one. Roles are bound in ws-own, except tenant-admin* (tenant-wide).
// The owner of a resource manages it while holding any binding in its workspace.
const ROLE_TABLE = `
role           scope          apply get rget log run stop retry delete grant secret use
tenant-admin*  own-ws:own     Y     Y   Y    Y   Y   Y    Y     Y      Y     Y      Y
tenant-admin*  own-ws:other   Y     Y   Y    Y   Y   Y    Y     Y      Y     Y      Y
tenant-admin*  other-ws:own   Y     Y   Y    Y   Y   Y    Y     Y      Y     Y      Y
tenant-admin*  other-ws:other Y     Y   Y    Y   Y   Y    Y     Y      Y     Y      Y
tenant-admin*  own-ws:new     Y     -   -    -   -   -    -     -      -     -      -
tenant-admin*  other-ws:new   Y     -   -    -   -   -    -     -      -     -      -
tenant-admin   own-ws:own     Y     Y   Y    Y   Y   Y    Y     Y      Y     Y      Y
tenant-admin   own-ws:other   Y     Y   Y    Y   Y   Y    Y     Y      Y     Y      Y
tenant-admin   other-ws:own   N     N   N    N   N   N    N     N      N     N      N
tenant-admin   other-ws:other N     N   N    N   N   N    N     N      N     N      N
tenant-admin   own-ws:new     Y     -   -    -   -   -    -     -      -     -      -
tenant-admin   other-ws:new   N     -   -    -   -   -    -     -      -     -      -
operator       own-ws:own     Y     Y   Y    Y   Y   Y    Y     Y      Y     Y      Y
operator       own-ws:other   N     Y   Y    Y   Y   Y    Y     N      N     N      N
operator       other-ws:own   N     N   N    N   N   N    N     N      N     N      N
operator       other-ws:other N     N   N    N   N   N    N     N      N     N      N
operator       own-ws:new     N     -   -    -   -   -    -     -      -     -      -
operator       other-ws:new   N     -   -    -   -   -    -     -      -     -      -
data-dev       own-ws:own     Y     Y   Y    Y   Y   Y    Y     Y      Y     Y      Y
data-dev       own-ws:other   N     Y   Y    Y   N   N    N     N      N     N      N
data-dev       other-ws:own   N     N   N    N   N   N    N     N      N     N      N
data-dev       other-ws:other N     N   N    N   N   N    N     N      N     N      N
data-dev       own-ws:new     Y     -   -    -   -   -    -     -      -     -      -
data-dev       other-ws:new   N     -   -    -   -   -    -     -      -     -      -
viewer         own-ws:own     Y     Y   Y    Y   Y   Y    Y     Y      Y     Y      Y
viewer         own-ws:other   N     Y   Y    N   N   N    N     N      N     N      N
viewer         other-ws:own   N     N   N    N   N   N    N     N      N     N      N
viewer         other-ws:other N     N   N    N   N   N    N     N      N     N      N
viewer         own-ws:new     N     -   -    -   -   -    -     -      -     -      -
viewer         other-ws:new   N     -   -    -   -   -    -     -      -     -      -
none           own-ws:own     N     N   N    N   N   N    N     N      N     N      N
none           own-ws:other   N     N   N    N   N   N    N     N      N     N      N
none           other-ws:own   N     N   N    N   N   N    N     N      N     N      N
none           other-ws:other N     N   N    N   N   N    N     N      N     N      N
none           own-ws:new     N     -   -    -   -   -    -     -      -     -      -
none           other-ws:new   N     -   -    -   -   -    -     -      -     -      -
`

// Users with no binding at all, holding one grant permission on a resource someone else owns
// in ws-own (`granted`), and nothing on another one (`ungranted`).
const GRANT_TABLE = `
permission  scope      apply get rget log run stop retry delete grant secret use
read        granted    N     Y   Y    Y   N   N    N     N      N     N      N
read        ungranted  N     N   N    N   N   N    N     N      N     N      N
run         granted    N     Y   Y    Y   Y   Y    Y     N      N     N      N
run         ungranted  N     N   N    N   N   N    N     N      N     N      N
use         granted    N     Y   Y    N   N   N    N     N      N     N      Y
use         ungranted  N     N   N    N   N   N    N     N      N     N      N
manage      granted    Y     Y   Y    Y   Y   Y    Y     Y      Y     Y      Y
manage      ungranted  N     N   N    N   N   N    N     N      N     N      N
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
  return new CtlClient({ baseUrl: t.plane.url, apiKey: key.token })
}

type Outcome = { allowed: true; note: string } | { allowed: false; note: string }

/** One cell: the call, and whether authorization let it through (403 = refused; anything else got past it). */
async function attempt(verb: CellVerb, c: CtlClient, f: Fixture, ws: string, newName: string): Promise<Outcome> {
  const call = async (): Promise<unknown> => {
    switch (verb) {
      case 'apply': return c.apply(ws, [doc(newName ? secretManifest(newName, 'v') : secretManifest(f.secret.name, `v${++seq}`))])
      case 'get': return c.get(f.wf)
      case 'rget': return c.runs(f.wf)
      case 'log': return c.logPage(f.runId)
      case 'run': return c.runNow(f.wf)
      case 'stop': return c.stop(f.wf)
      case 'retry': return c.retry(f.wf)
      case 'delete': return c.delete(f.wf)
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
    throw new Error(`${verb}: unexpected ${err.code}: ${err.message}`)
  }
}

/** Verbs in an order where each leaves the resource usable for the next; delete last. */
const ORDER: readonly CellVerb[] = ['get', 'rget', 'log', 'grant', 'secret', 'use', 'run', 'stop', 'retry', 'apply', 'delete']

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
  t = await startTestServer({ maxParallelSteps: 8 })
  await t.client.createWorkspace({ name: OWN_WS })
  await t.client.createWorkspace({ name: OTHER_WS })
  await t.client.createUser({ id: 'someone', name: 'Owner of the other resources', type: 'person' })
  await t.client.createUser({ id: 'grantee', name: 'Receives grants', type: 'application' })
}, 60_000)
afterAll(async () => {
  await t?.stop()
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
