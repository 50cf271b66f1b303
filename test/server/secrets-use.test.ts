// "A workflow may project a secret only if its owner may `use` it", through the real API with
// real users: refused at apply with a located issue naming the secret, and again when a run
// starts after the right was taken away (the step fails saying why). `--unsanitized` needs
// secret-read (tenant-admin or a `manage` grant).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { CtlError } from '../../src/errors.js'
import type { Role } from '../../src/api/types.js'
import { doc, startTestServer, waitForRunEnd, workflow, type TestServer, rejection } from './helpers.js'

let t: TestServer

beforeAll(async () => {
  t = await startTestServer()
})
afterAll(async () => {
  await t?.stop()
})


async function userWith(id: string, bindings: { role: Role; workspace?: string }[]): Promise<CtlClient> {
  await t.client.createUser({ id, name: `User ${id}`, type: 'person' })
  for (const b of bindings) await t.client.addTag(id, { tag: `roles:id:${b.role}`, ...(b.workspace ? { workspace: b.workspace } : {}) })
  const { token } = await t.client.createApiKey(id)
  return new CtlClient({ baseUrl: t.plane.url, apiKey: token })
}

const secret = (name: string, data: Record<string, string>) => ({ name, version: 'v1', type: 'secret', secret: { type: 'key-value', acl: 'r', data } })

/** A workflow whose step checks it got the secret's value (without printing it). */
function consumer(name: string, secretId: string, expected: string): Record<string, unknown> {
  const wf = workflow(name, { use: '[ "$TOKEN" = "$EXPECTED" ] && echo got-it' })
  const step = (wf.spec as { dag: { spec: Record<string, unknown> }[] }).dag[0]!
  step.spec.use = {
    projection: {
      secrets: [{ id: secretId, contextAlias: 's' }],
      projections: { envVars: [{ key: 'TOKEN', value: '{{.secrets.s.TOKEN}}' }, { key: 'EXPECTED', value: expected }] },
    },
  }
  return wf
}

const ref = (type: string, name: string) => ({ workspace: 'public', type, name })

describe('use of a projected secret', () => {
  it('is refused at apply with a located issue naming the secret, allowed once granted, and checked again when a run starts', async () => {
    await t.client.apply('public', [doc(secret('shared', { TOKEN: 'tok-shared-1' }))])
    const bob = await userWith('bob', [{ role: 'data-dev', workspace: 'public' }])

    const refused = await rejection(bob.apply('public', [doc(consumer('bobs-flow', 'shared', 'tok-shared-1'), 'bob.yaml')]))
    expect(refused.code).toBe('E_FORBIDDEN')
    const issues = (refused.details?.issues ?? []) as { file: string; line: number; column: number; path: string; message: string }[]
    expect(issues).toHaveLength(1)
    expect(issues[0]).toMatchObject({ file: 'bob.yaml', path: 'spec.dag[0].spec.use.projection.secrets[0].id' })
    expect(issues[0]!.message).toContain('may not use secret "shared" in workspace public')
    expect(issues[0]!.message).toContain('owner bob')
    expect(issues[0]!.message).toContain('grant use')
    expect(await rejection(bob.get(ref('workflow', 'bobs-flow')))).toMatchObject({ code: 'E_NOT_FOUND' })

    // Granted: the apply goes through and the run sees the value.
    await t.client.grant(ref('secret', 'shared'), { to: 'user:bob', permission: 'use' })
    expect((await bob.apply('public', [doc(consumer('bobs-flow', 'shared', 'tok-shared-1'))])).results[0]!.outcome).toBe('created')
    const first = (await bob.runs(ref('workflow', 'bobs-flow')))[0]!
    const ok = await waitForRunEnd(bob, first.id)
    expect(ok.run.state).toBe('succeeded')
    expect((await bob.logPage(first.id)).map((l) => l.text)).toEqual(['got-it'])

    // Revoked: the next run fails at its start, saying which secret and why.
    await t.client.revoke(ref('secret', 'shared'), { to: 'user:bob', permission: 'use' })
    const second = await bob.runNow(ref('workflow', 'bobs-flow'))
    const failed = await waitForRunEnd(bob, second.id)
    expect(failed.run.state).toBe('failed')
    const step = failed.steps.find((s) => s.step === 'use')!
    expect(step).toMatchObject({ state: 'failed', reason: 'LaunchError' })
    expect(step.message).toContain('may not use secret "shared" in workspace public')
  })

  it('lets a data-dev project a secret of their own, also one applied in the same request', async () => {
    const carol = await userWith('carol', [{ role: 'data-dev', workspace: 'public' }])
    const res = await carol.apply('public', [doc(secret('carols', { TOKEN: 'tok-carol-2' })), doc(consumer('carols-flow', 'carols', 'tok-carol-2'))])
    expect(res.results.map((r) => r.outcome)).toEqual(['created', 'created'])
    const run = (await carol.runs(ref('workflow', 'carols-flow')))[0]!
    expect((await waitForRunEnd(carol, run.id)).run.state).toBe('succeeded')
  })

  it('refuses an operator (who may run, not use) a secret someone else owns', async () => {
    const olga = await userWith('olga', [{ role: 'operator', workspace: 'public' }, { role: 'data-dev', workspace: 'public' }])
    const refused = await rejection(olga.apply('public', [doc(consumer('olgas-flow', 'shared', 'x'))]))
    expect(refused.message).toContain('owner olga may not use secret "shared" in workspace public')
    expect(refused.code).toBe('E_FORBIDDEN')
  })
})

describe('secret values through get --unsanitized', () => {
  it('go to a tenant-admin and to a holder of manage, never to a holder of use or read', async () => {
    await t.client.apply('public', [doc(secret('guarded', { TOKEN: 'tok-guarded-3' }))])
    const dave = await userWith('dave', [{ role: 'viewer', workspace: 'public' }])
    const masked = await dave.get(ref('secret', 'guarded'))
    expect((masked.manifest as { secret: { data: Record<string, string> } }).secret.data).toEqual({ TOKEN: '***' })
    expect(await rejection(dave.get(ref('secret', 'guarded'), { unsanitized: true }))).toMatchObject({ code: 'E_FORBIDDEN' })
    await t.client.grant(ref('secret', 'guarded'), { to: 'user:dave', permission: 'use' })
    expect(await rejection(dave.get(ref('secret', 'guarded'), { unsanitized: true }))).toMatchObject({ code: 'E_FORBIDDEN' })
    await t.client.grant(ref('secret', 'guarded'), { to: 'user:dave', permission: 'manage' })
    const clear = await dave.get(ref('secret', 'guarded'), { unsanitized: true })
    expect((clear.manifest as { secret: { data: Record<string, string> } }).secret.data).toEqual({ TOKEN: 'tok-guarded-3' })
  })
})
