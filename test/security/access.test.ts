// Access, tried as a hostile member of a workspace would, through a real control plane on
// loopback with real users and keys: volumes need `use` like secrets (at apply and as a run
// starts); a `manage` grantee cannot borrow the owner's right to a secret; `dryRun` on every
// mutating route (read from the OpenAPI document, so a new route cannot be forgotten) changes
// nothing or is refused, and is audited; wrong keys from loopback do not lock out valid ones;
// a key cannot outlive the key that made it; viewers do not see host paths or process ids.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { ManifestError } from '../../src/errors.js'
import type { AuditEntry, ResourceRef, Role } from '../../src/api/types.js'
import type { StepRunRecord } from '../../src/store/types.js'
import { runCli } from '../cli/helpers.js'
import { runAudit } from '../../src/cli/verbs/audit.js'
import { doc, rejection, startTestServer, waitFor, waitForRunEnd, workflow, type TestServer } from '../server/helpers.js'

let t: TestServer
/** The token of the user userWith() made last (for the CLI). */
let lastToken = ''

beforeAll(async () => {
  t = await startTestServer()
  for (const name of ['ws-a', 'ws-b']) await t.client.createWorkspace({ name })
}, 60_000)
afterAll(async () => {
  await t?.stop()
})

async function userWith(id: string, bindings: { role: Role; workspace?: string }[], expiresIn?: string): Promise<CtlClient> {
  await t.client.createUser({ id, name: `User ${id}`, type: 'person' })
  for (const b of bindings) await t.client.addTag(id, { tag: `roles:id:${b.role}`, ...(b.workspace ? { workspace: b.workspace } : {}) })
  const { token } = await t.client.createApiKey(id, expiresIn ? { expiresIn } : {})
  lastToken = token
  return new CtlClient({ baseUrl: t.plane.url, apiKey: token })
}

const volume = (name: string) => ({ name, version: 'v1', type: 'volume', volume: { size: '1Gi', accessMode: 'ReadWriteMany', type: 'persistent' } })
const secret = (name: string, data: Record<string, string>) => ({ name, version: 'v1', type: 'secret', secret: { type: 'key-value', acl: 'r', data } })

/** A workflow whose one step mounts volume `id`. */
function mounting(name: string, id: string): Record<string, unknown> {
  const wf = workflow(name, { main: 'echo mounted' })
  const step = (wf.spec as { dag: { spec: Record<string, unknown> }[] }).dag[0]!
  step.spec.use = { volumes: [{ id, directory: '/data', readOnly: false }] }
  return wf
}

/** A workflow projecting secret `id` of `workspace` (another workspace's, when given). */
function projecting(name: string, id: string, workspace?: string): Record<string, unknown> {
  const wf = workflow(name, { main: 'echo projected' })
  const step = (wf.spec as { dag: { spec: Record<string, unknown> }[] }).dag[0]!
  step.spec.use = {
    projection: {
      secrets: [{ id, contextAlias: 's', ...(workspace ? { workspace } : {}) }],
      projections: { envVars: [{ key: 'TOKEN', value: '{{.secrets.s.TOKEN}}' }] },
    },
  }
  return wf
}

type Issue = { file: string; line: number; column: number; path: string; code: string; message: string }

describe('volume use', () => {
  it('is refused at apply (located, 403, exit code 4) until granted, and checked again as a run starts', async () => {
    const vera = await userWith('vera', [{ role: 'data-dev', workspace: 'public' }])
    const bob = await userWith('bob-vol', [{ role: 'data-dev', workspace: 'public' }])
    const bobToken = lastToken
    await vera.apply('public', [doc(volume('vera-data'))])
    expect(await bob.canI({ verb: 'use', type: 'volume', name: 'vera-data', workspace: 'public' })).toMatchObject({ allowed: false })

    const refused = await rejection(bob.apply('public', [doc(mounting('bobs-mount', 'vera-data'), 'bob.yaml')]))
    expect(refused).toBeInstanceOf(ManifestError)
    expect(refused.code).toBe('E_FORBIDDEN')
    expect(refused.exitCode).toBe(4)
    const issues = (refused.details?.issues ?? []) as Issue[]
    expect(issues).toEqual([expect.objectContaining({
      file: 'bob.yaml', line: expect.any(Number), path: 'spec.dag[0].spec.use.volumes[0].id', code: 'E_FORBIDDEN',
      message: expect.stringContaining('may not use volume "vera-data" in workspace public'),
    })])
    expect(issues[0]!.message).toContain('--to user:bob-vol --permission use')
    // The CLI prints the located issue and exits 4 (forbidden), not 1.
    const home = mkdtempSync(join(tmpdir(), 'ctl-access-cli-'))
    try {
      const file = join(home, 'bob.yaml')
      writeFileSync(file, [
        'version: v2alpha', 'name: bobs-mount', 'type: workflow', 'spec:', '  dag:', '    - name: main', '      spec:',
        '        stack: script', '        stackSpec: {interpreter: sh, script: "echo mounted"}', '        use:', '          volumes:',
        '            - id: vera-data', '              directory: /data', '',
      ].join('\n'))
      const cli = await runCli(['resource', 'apply', '-f', file], {
        env: { CTL_HOME: home, CTL_SERVER: t.plane.url, CTL_APIKEY: bobToken, CTL_CREDENTIALS: '', DBUS_SESSION_BUS_ADDRESS: '' },
      })
      expect(cli.code, cli.stderr).toBe(4)
      expect(cli.stderr).toContain(`${file}:12:15  the workflow's owner bob-vol may not use volume "vera-data" in workspace public`)
      expect(cli.stderr).toContain('(spec.dag[0].spec.use.volumes[0].id)')
    } finally {
      rmSync(home, { recursive: true, force: true })
    }
    // Nothing was stored.
    expect((await rejection(bob.get({ workspace: 'public', type: 'workflow', name: 'bobs-mount' }))).code).toBe('E_NOT_FOUND')

    // Granted: the apply goes through and the run starts its step.
    const volRef: ResourceRef = { workspace: 'public', type: 'volume', name: 'vera-data' }
    await vera.grant(volRef, { to: 'user:bob-vol', permission: 'use' })
    expect(await bob.canI({ verb: 'use', type: 'volume', name: 'vera-data', workspace: 'public' })).toMatchObject({ allowed: true })
    await bob.apply('public', [doc(mounting('bobs-mount', 'vera-data'), 'bob.yaml')])
    const wf: ResourceRef = { workspace: 'public', type: 'workflow', name: 'bobs-mount' }
    const first = await waitFor('the first run', () => bob.runs(wf), (runs) => runs.length > 0)
    const granted = await waitForRunEnd(bob, first[0]!.id)
    expect(granted.run.state, JSON.stringify(granted.steps)).toBe('succeeded')

    // Taken away: the next run's step fails saying why, before anything of the volume is touched.
    await vera.revoke(volRef, { to: 'user:bob-vol', permission: 'use' })
    const again = await bob.runNow(wf)
    const refusedRun = await waitForRunEnd(bob, again.id)
    expect(refusedRun.run.state).toBe('failed')
    expect(refusedRun.steps[0]!.message).toContain(`the workflow's owner bob-vol may not use volume "vera-data" in workspace public`)
  }, 60_000)
})

describe('caller and owner', () => {
  it('a manage grantee cannot project the owner\'s secrets from a workspace where the grantee has no role', async () => {
    const olga = await userWith('olga', [{ role: 'data-dev', workspace: 'ws-a' }, { role: 'data-dev', workspace: 'ws-b' }])
    const mallory = await userWith('mallory', [{ role: 'data-dev', workspace: 'ws-a' }])
    await olga.apply('ws-b', [doc(secret('olgas-token', { TOKEN: 'tok-olga' }))])
    await olga.apply('ws-a', [doc(workflow('olgas-flow', { main: 'echo plain' }))])
    const wf: ResourceRef = { workspace: 'ws-a', type: 'workflow', name: 'olgas-flow' }
    await olga.grant(wf, { to: 'user:mallory', permission: 'manage' })

    // The owner may use her own secret; the caller may not: refused, located, naming the caller.
    const refused = await rejection(mallory.apply('ws-a', [doc(projecting('olgas-flow', 'olgas-token', 'ws-b'), 'mallory.yaml')]))
    expect(refused.code).toBe('E_FORBIDDEN')
    expect(refused.exitCode).toBe(4)
    const issues = (refused.details?.issues ?? []) as Issue[]
    expect(issues).toEqual([expect.objectContaining({
      file: 'mallory.yaml', path: 'spec.dag[0].spec.use.projection.secrets[0].id',
      message: expect.stringContaining('the caller mallory (applying it) may not use secret "olgas-token" in workspace ws-b'),
    })])
    // Unchanged: still revision 1 without the secret.
    expect((await olga.get(wf)).resource.revision).toBe(1)
    // The owner herself may.
    const own = await olga.apply('ws-a', [doc(projecting('olgas-flow', 'olgas-token', 'ws-b'))])
    expect(own.results[0]!.outcome).toBe('updated')
  }, 60_000)
})

describe('key lifetime', () => {
  it('a new key expires no later than the key that creates it, unless a tenant-wide tenant-admin sets expiresIn', async () => {
    const kay = await userWith('kay', [{ role: 'data-dev', workspace: 'public' }], '1h')
    const parent = (await t.client.apiKeys('kay'))[0]!
    expect(parent.expiresAt).toBeDefined()

    // No expiresIn: the creating key's expiry (never "never").
    const child = await kay.createApiKey('kay', { name: 'child' })
    expect(child.expiresAt).toBe(parent.expiresAt)
    // Shorter: as asked.
    const shorter = await kay.createApiKey('kay', { name: 'shorter', expiresIn: '10m' })
    expect(shorter.expiresAt! < parent.expiresAt!).toBe(true)
    // Longer: refused, saying why and what would do.
    const longer = await rejection(kay.createApiKey('kay', { name: 'longer', expiresIn: '2h' }))
    expect(longer.code).toBe('E_FORBIDDEN')
    expect(longer.message).toContain('a key cannot outlive the key that creates it')
    expect((await t.client.apiKeys('kay')).map((k) => k.name)).not.toContain('longer')

    // A tenant-admin on a short key: capped without expiresIn, as asked with one.
    const adminShort = new CtlClient({ baseUrl: t.plane.url, apiKey: (await t.client.createApiKey('admin', { name: 'short', expiresIn: '1h' })).token })
    const shortInfo = (await t.client.apiKeys('admin')).find((k) => k.name === 'short')!
    expect((await adminShort.createApiKey('admin', { name: 'capped' })).expiresAt).toBe(shortInfo.expiresAt)
    const explicit = await adminShort.createApiKey('admin', { name: 'explicit', expiresIn: '48h' })
    expect(explicit.expiresAt! > shortInfo.expiresAt!).toBe(true)
  })
})

describe('failed authentication limiting', () => {
  it('wrong keys from loopback never lock out a valid key; repeated guesses of one prefix get 429', async () => {
    const own = await startTestServer()
    try {
      const status = async (key: string): Promise<number> =>
        (await fetch(`${own.plane.url}/api/v1/whoami`, { headers: { authorization: `Bearer ${key}` } })).status
      // Many different wrong keys, then the same wrong prefix over and over, all from 127.0.0.1.
      for (let i = 0; i < 15; i++) expect(await status(`ctl_wrong${String(i).padStart(8, '0')}xyz`)).toBe(401)
      const guesses: number[] = []
      for (let i = 0; i < 12; i++) guesses.push(await status(`ctl_sameprefix00${i}`))
      expect(guesses.slice(0, 10)).toEqual(Array(10).fill(401))
      expect(guesses.slice(10)).toEqual([429, 429])
      // The valid key works at once, and so does another user's.
      expect(await status(own.token)).toBe(200)
      await own.client.createUser({ id: 'neighbour', name: 'Neighbour', type: 'application' })
      const { token } = await own.client.createApiKey('neighbour')
      expect(await status(token)).toBe(200)
    } finally {
      await own.stop()
    }
  })
})

describe('host details in run details', () => {
  it('are shown to those who may run the workflow, not to a viewer or a read grantee', async () => {
    const viewer = await userWith('vic', [{ role: 'viewer', workspace: 'public' }])
    const reader = await userWith('rita', [])
    const operator = await userWith('otto', [{ role: 'operator', workspace: 'public' }])
    await t.client.apply('public', [doc(workflow('host-details', { main: 'echo hi' }))])
    const wf: ResourceRef = { workspace: 'public', type: 'workflow', name: 'host-details' }
    await t.client.grant(wf, { to: 'user:rita', permission: 'read' })
    const runs = await waitFor('the run', () => t.client.runs(wf), (r) => r.length > 0)
    const runId = runs[0]!.id
    await waitForRunEnd(t.client, runId)

    const handleOf = (s: StepRunRecord) => s.runtimeHandle as { runtime: string; data: Record<string, unknown> }
    for (const c of [t.client, operator]) {
      const full = handleOf((await c.run(runId)).steps[0]!)
      expect(full.runtime).toBe('local')
      expect(full.data.attemptDir).toEqual(expect.stringContaining(t.dataDir))
    }
    for (const c of [viewer, reader]) {
      const detail = await c.run(runId)
      const handle = handleOf(detail.steps[0]!)
      expect(Object.keys(handle.data).sort()).toEqual(expect.arrayContaining(['mode']))
      for (const hidden of ['attemptDir', 'supervisorPid', 'supervisorStart', 'stepPid', 'shmDir', 'host']) expect(handle.data).not.toHaveProperty(hidden)
      expect(JSON.stringify(detail)).not.toContain(t.dataDir)
      const node = await c.node(runId, 'main')
      expect(JSON.stringify(node)).not.toContain(t.dataDir)
      for (const a of node.attempts) expect(handleOf(a).data).not.toHaveProperty('stepPid')
    }
  }, 60_000)
})

// ---- dryRun on every mutating route

interface Call {
  path: string
  body?: unknown
  query?: string
}
type Expect = 'honoured' | 'refused' | 'question' | 'signed'

const MUTATING = new Set(['post', 'put', 'patch', 'delete'])

/** What each mutating route of the API is called with here, and what a dry run of it must do. */
function callsFor(keyId: string): Record<string, { expect: Expect; call: Call }> {
  const ws = '/api/v1/workspaces/dry/resources'
  const inst = '/api/v1/instance/resources'
  const runActions: Record<string, { expect: Expect; call: Call }> = {}
  for (const [prefix, name] of [[ws, 'workflow/dry-flow'], [inst, 'workflow/none']] as const) {
    const p = prefix.replace('/dry/', '/:ws/')
    for (const action of ['', '/stop', '/suspend', '/resume', '/retry']) {
      runActions[`POST ${p}/:type/:name/runs${action}`] = { expect: 'refused', call: { path: `${prefix}/${name}/runs${action}`, body: {} } }
    }
    // A decision cannot be rehearsed: approve and reject refuse dryRun like the other run actions.
    for (const action of ['/approve', '/reject']) {
      runActions[`POST ${p}/:type/:name/runs${action}`] = { expect: 'refused', call: { path: `${prefix}/${name}/runs${action}`, body: { step: 'main', comment: 'dry' } } }
    }
  }
  // A backfill honours dryRun: it lists the fire times of dry-nightly (a scheduled workflow) and starts nothing.
  runActions['POST /api/v1/workspaces/:ws/resources/:type/:name/runs/backfill'] = { expect: 'honoured', call: { path: `${ws}/workflow/dry-nightly/runs/backfill`, body: { from: '2024-05-01', to: '2024-05-03' } } }
  return {
    'POST /api/v1/workspaces/:ws/resources': { expect: 'honoured', call: { path: ws, body: { documents: [volume('dry-new-volume')] } } },
    'DELETE /api/v1/workspaces/:ws/resources/:type/:name': { expect: 'honoured', call: { path: `${ws}/workflow/dry-flow`, query: 'force=true' } },
    'DELETE /api/v1/instance/resources/:type/:name': { expect: 'honoured', call: { path: `${inst}/compute/dry-nodes`, query: 'force=true' } },
    'POST /api/v1/workspaces/:ws/resources/:type/:name/rollback': { expect: 'honoured', call: { path: `${ws}/workflow/dry-flow/rollback`, body: { toRevision: 1 } } },
    'POST /api/v1/instance/resources/:type/:name/rollback': { expect: 'honoured', call: { path: `${inst}/compute/dry-nodes/rollback`, body: { toRevision: 1 } } },
    ...runActions,
    'POST /api/v1/workspaces/:ws/resources/:type/:name/grants': { expect: 'honoured', call: { path: `${ws}/workflow/dry-flow/grants`, body: { to: 'user:dry-victim', permission: 'run' } } },
    'DELETE /api/v1/workspaces/:ws/resources/:type/:name/grants': { expect: 'honoured', call: { path: `${ws}/workflow/dry-flow/grants`, body: { to: 'user:dry-victim', permission: 'read' } } },
    'POST /api/v1/instance/resources/:type/:name/grants': { expect: 'honoured', call: { path: `${inst}/compute/dry-nodes/grants`, body: { to: 'user:dry-victim', permission: 'use' } } },
    'DELETE /api/v1/instance/resources/:type/:name/grants': { expect: 'honoured', call: { path: `${inst}/compute/dry-nodes/grants`, body: { to: 'user:dry-victim', permission: 'use' } } },
    'POST /api/v1/users': { expect: 'honoured', call: { path: '/api/v1/users', body: { id: 'dry-new-user', name: 'New', type: 'person' } } },
    'DELETE /api/v1/users/:id': { expect: 'honoured', call: { path: '/api/v1/users/dry-victim' } },
    'POST /api/v1/users/:id/apikeys': { expect: 'honoured', call: { path: '/api/v1/users/dry-victim/apikeys', body: { name: 'dry-key' } } },
    'DELETE /api/v1/users/:id/apikeys/:keyId': { expect: 'honoured', call: { path: `/api/v1/users/dry-victim/apikeys/${keyId}` } },
    'POST /api/v1/users/:id/tags': { expect: 'honoured', call: { path: '/api/v1/users/dry-victim/tags', body: { tag: 'roles:id:operator', workspace: 'dry' } } },
    'DELETE /api/v1/users/:id/tags': { expect: 'honoured', call: { path: '/api/v1/users/dry-victim/tags', body: { tag: 'roles:id:viewer', workspace: 'dry' } } },
    'POST /api/v1/workspaces': { expect: 'honoured', call: { path: '/api/v1/workspaces', body: { name: 'dry-new-ws' } } },
    'DELETE /api/v1/workspaces/:ws': { expect: 'honoured', call: { path: '/api/v1/workspaces/dry', query: 'force=true' } },
    // Authenticated by a signature, not a key: a dry run is refused before anything else, audited without an actor.
    'POST /api/v1/hooks/:ws/:workflow/:trigger': { expect: 'signed', call: { path: '/api/v1/hooks/dry/dry-flow/nope', body: {} } },
    // Console sessions: nothing to rehearse. Sign-in authenticates by its body, so its entry has no actor (like a signed route).
    'POST /api/v1/session': { expect: 'signed', call: { path: '/api/v1/session', body: { apiKey: 'ctl_dry' } } },
    'DELETE /api/v1/session': { expect: 'refused', call: { path: '/api/v1/session' } },
    'POST /api/v1/session/links': { expect: 'refused', call: { path: '/api/v1/session/links', body: {} } },
    // A question, not a change: answered, not audited.
    'POST /api/v1/auth/can-i': { expect: 'question', call: { path: '/api/v1/auth/can-i', body: { verb: 'get', type: 'workflow' } } },
  }
}

async function api(token: string, method: string, call: Call, dryRun: boolean): Promise<{ status: number; body: Record<string, unknown> }> {
  const query = [call.query, dryRun ? 'dryRun=true' : undefined].filter(Boolean).join('&')
  const res = await fetch(`${t.plane.url}${call.path}${query ? `?${query}` : ''}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(call.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

/** Everything a mutating route could change, as the admin sees it (last-used times left out: reading touches them). */
async function snapshot(): Promise<unknown> {
  const users = await t.client.usersWithTags()
  const keys = await Promise.all(users.map(async (u) => (await t.client.apiKeys(u.id)).map(({ lastUsedAt: _, ...k }) => k)))
  const dryFlow: ResourceRef = { workspace: 'dry', type: 'workflow', name: 'dry-flow' }
  const nodes: ResourceRef = { workspace: null, type: 'compute', name: 'dry-nodes' }
  return {
    users, keys,
    workspaces: await t.client.workspaces(),
    resources: (await t.client.list({ all: true })).map((r) => `${r.type}/${r.workspace}/${r.name}@${r.revision}`).sort(),
    grants: [await t.client.grants(dryFlow), await t.client.grants(nodes)],
    runs: (await t.client.runs(dryFlow)).map((r) => `${r.id} ${r.state}`),
    nightlyRuns: (await t.client.runs({ workspace: 'dry', type: 'workflow', name: 'dry-nightly' })).map((r) => r.id),
  }
}

describe('dryRun on every mutating route', () => {
  it('changes nothing or is refused with 400, and is audited as a dry run, allowed or denied', async () => {
    await t.client.createWorkspace({ name: 'dry' })
    await t.client.apply('dry', [doc(workflow('dry-flow', { main: 'echo dry' }))])
    await t.client.apply('dry', [doc(workflow('dry-nightly', { main: 'echo dry' }, { schedule: { crons: ['0 2 * * *'] } }))])
    await t.client.apply('dry', [doc({ name: 'dry-nodes', version: 'v1', type: 'compute', compute: { purpose: 'runnable', nodePool: { nodeSelector: { size: 'big' } } } })])
    await t.client.createUser({ id: 'dry-victim', name: 'Victim', type: 'person' })
    await t.client.addTag('dry-victim', { tag: 'roles:id:viewer', workspace: 'dry' })
    const victimKey = await t.client.createApiKey('dry-victim', { name: 'victim' })
    await t.client.grant({ workspace: 'dry', type: 'workflow', name: 'dry-flow' }, { to: 'user:dry-victim', permission: 'read' })
    const stranger = (await t.client.createApiKey((await t.client.createUser({ id: 'dry-stranger', name: 'No role', type: 'person' })).id)).token
    const flow: ResourceRef = { workspace: 'dry', type: 'workflow', name: 'dry-flow' }
    const first = await waitFor('the first run', () => t.client.runs(flow), (r) => r.length > 0)
    await waitForRunEnd(t.client, first[0]!.id)

    // Every mutating route the server has, from its OpenAPI document.
    const openapi = (await (await fetch(`${t.plane.url}/api/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> }
    const routes = Object.entries(openapi.paths).flatMap(([path, ops]) => Object.keys(ops)
      .filter((m) => MUTATING.has(m)).map((m) => `${m.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`))
    expect(routes.length).toBeGreaterThan(20)
    const calls = callsFor(victimKey.id)
    expect(routes.filter((r) => !(r in calls)), 'a mutating route this test does not call').toEqual([])
    expect(Object.keys(calls).filter((r) => !routes.includes(r)), 'a call for a route that does not exist').toEqual([])

    // The routes that honour dryRun say so in the document.
    for (const [route, { expect: want }] of Object.entries(calls)) {
      if (want !== 'honoured') continue
      const [method, path] = route.split(' ') as [string, string]
      const op = openapi.paths[path.replace(/:([A-Za-z]+)/g, '{$1}')]![method.toLowerCase()] as { parameters?: { name: string; in: string }[] }
      expect(op.parameters ?? [], route).toContainEqual(expect.objectContaining({ name: 'dryRun', in: 'query' }))
    }

    const before = await snapshot()
    const failures: string[] = []
    for (const route of routes) {
      const { expect: want, call } = calls[route]!
      const method = route.split(' ')[0]!
      for (const [who, token] of [['admin', t.token], ['dry-stranger', stranger]] as const) {
        const lastSeq = (await t.client.audit({ limit: 1 }))[0]?.seq ?? 0
        const { status, body } = await api(token, method, call, true)
        const error = body.error as { code?: string; message?: string } | undefined
        if (want === 'refused' || want === 'signed') {
          if (status === 401) failures.push(`${who} ${route}: 401`)
          else if (status !== 400 || !error?.message?.includes('dryRun is not supported')) failures.push(`${who} ${route}: expected a 400 refusing dryRun, got ${status} ${JSON.stringify(body)}`)
        } else if (who === 'admin') {
          if (status !== 200 || (want === 'honoured' && body.dryRun !== true)) failures.push(`${who} ${route}: expected 200 with dryRun: true, got ${status} ${JSON.stringify(body)}`)
        } else if (want === 'honoured' && status !== 403) {
          failures.push(`${who} ${route}: expected 403, got ${status} ${JSON.stringify(body)}`)
        }
        const entries: AuditEntry[] = (await t.client.audit({ limit: 5 })).filter((e) => e.seq > lastSeq)
        if (want === 'question') {
          if (entries.length > 0) failures.push(`${who} ${route}: a question was audited`)
          continue
        }
        const entry = entries.find((e) => e.actor === (want === 'signed' ? 'anonymous' : who))
        if (!entry) failures.push(`${who} ${route}: no audit entry`)
        else if ((entry.detail as { dryRun?: unknown } | undefined)?.dryRun !== true) failures.push(`${who} ${route}: audit entry not marked dryRun: ${JSON.stringify(entry)}`)
        else if (who === 'dry-stranger' && want === 'honoured' && entry.result !== 'denied') failures.push(`${who} ${route}: audit result ${entry.result}, not denied`)
      }
    }
    expect(failures, `\n${failures.join('\n')}\n`).toEqual([])
    expect(await snapshot()).toEqual(before)
    // The victim's key still works: the dry delete of the user and of the key did nothing.
    expect((await new CtlClient({ baseUrl: t.plane.url, apiKey: victimKey.token }).whoami()).id).toBe('dry-victim')

    // `ctl audit get` says which entries were dry runs.
    const out: string[] = []
    const session = { client: t.client, context: { name: 'test', server: t.plane.url, workspace: 'public' }, workspace: 'public' }
    await runAudit(session, { limit: 5, output: 'table' }, { out: (text) => out.push(text), err: () => undefined, isTty: false })
    expect(out.join('\n')).toMatch(/\| (ok|denied|error) \(dry run\)\s*\|/)
  }, 60_000)
})
