import { describe, expect, test } from 'vitest'
import { CtlError } from '../../src/errors.js'
import type { ProjectionSpec } from '../../src/manifest/model.js'
import { InMemorySecretProvider, renderProjection, type RenderProjectionInput } from '../../src/projection/index.js'

function spec(p: Partial<ProjectionSpec>): ProjectionSpec {
  return { secrets: [], envVars: [], files: [], arguments: [], allKeysAsEnv: [], ...p }
}

const secrets = new InMemorySecretProvider()
  .set('workflow-secret', { API_TOKEN: 'tok-123', USER: 'svc' }, 'public')
  .set('db', { password: 'pw:9', host: 'db.local' }, 'other')
  .set('global', { KEY: 'g-1' })

const input: RenderProjectionInput = { workspace: 'public', defaults: { runId: 'run-7' }, secrets, mode: 'values' }

async function rejection(p: Promise<unknown>): Promise<CtlError> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(CtlError)
    return err as CtlError
  }
  throw new Error('expected a rejection')
}

const full = spec({
  secrets: [
    { id: 'workflow-secret', contextAlias: 'app' },
    { id: 'db', contextAlias: 'db', workspace: 'other' },
    { id: 'global', contextAlias: 'g', instance: true },
  ],
  envVars: [
    { key: 'API_TOKEN', value: '{{.secrets.app.API_TOKEN}}' },
    { key: 'RUN', value: '{{.defaultProjections.runId}}' },
    { key: 'DSN', value: 'postgresql://{{.secrets.app.USER}}:{{.secrets.db.password}}@{{.secrets.db.host}}/app' },
  ],
  files: [{ name: 'token', value: '{{.secrets.g.KEY}}' }, { name: 'run.txt', directory: '/data/', value: 'run {{.defaultProjections.runId}}' }],
  arguments: ['--run={{.defaultProjections.runId}}', '--token={{.secrets.app.API_TOKEN}}'],
})

describe('values mode', () => {
  test('renders env vars, files and arguments and marks what used a secret', async () => {
    const r = await renderProjection(full, input)
    expect(r.envVars).toEqual([
      { key: 'API_TOKEN', value: 'tok-123', sensitive: true },
      { key: 'RUN', value: 'run-7', sensitive: false },
      { key: 'DSN', value: 'postgresql://svc:pw:9@db.local/app', sensitive: true },
    ])
    expect(r.files).toEqual([
      { name: 'token', directory: '/etc/ctl/projection', value: 'g-1', sensitive: true },
      { name: 'run.txt', directory: '/data', value: 'run run-7', sensitive: false },
    ])
    expect(r.arguments).toEqual([{ value: '--run=run-7', sensitive: false }, { value: '--token=tok-123', sensitive: true }])
    expect(r.projectedValues.sort()).toEqual(['db.local', 'g-1', 'pw:9', 'svc', 'tok-123'])
  })

  test('allKeysAsEnv gives one sensitive env per key, before the declared ones', async () => {
    const r = await renderProjection(
      spec({ secrets: [{ id: 'workflow-secret', contextAlias: 'app' }], allKeysAsEnv: ['app'], envVars: [{ key: 'USER', value: 'override' }] }),
      input,
    )
    expect(r.envVars).toEqual([
      { key: 'API_TOKEN', value: 'tok-123', sensitive: true },
      { key: 'USER', value: 'svc', sensitive: true },
      { key: 'USER', value: 'override', sensitive: false },
    ])
    expect(r.projectedValues.sort()).toEqual(['svc', 'tok-123'])
  })

  test('a missing secret is E_SECRET naming id and workspace', async () => {
    const err = await rejection(renderProjection(spec({ secrets: [{ id: 'nope', contextAlias: 'x' }] }), input))
    expect(err.code).toBe('E_SECRET')
    expect(err.message).toBe('secret "nope" not found in workspace "public"')
    // the db secret lives in "other", not in the workflow's workspace
    const wrongWs = await rejection(renderProjection(spec({ secrets: [{ id: 'db', contextAlias: 'db' }] }), input))
    expect(wrongWs.message).toBe('secret "db" not found in workspace "public"')
  })

  test('a missing key is E_PROJECTION naming alias and key', async () => {
    const err = await rejection(renderProjection(spec({ secrets: [{ id: 'workflow-secret', contextAlias: 'app' }], envVars: [{ key: 'T', value: '{{.secrets.app.NOPE}}' }] }), input))
    expect(err.code).toBe('E_PROJECTION')
    expect(err.message).toBe('projection envVar "T": secret "workflow-secret" (alias "app") has no key "NOPE"')
  })

  test('an undeclared alias or unknown default projection is E_PROJECTION', async () => {
    expect((await rejection(renderProjection(spec({ envVars: [{ key: 'T', value: '{{.secrets.app.A}}' }] }), input))).message).toContain('unknown secret alias "app"')
    expect((await rejection(renderProjection(spec({ envVars: [{ key: 'T', value: '{{.defaultProjections.workspace}}' }] }), input))).message).toContain('unresolved reference')
    expect((await rejection(renderProjection(spec({ files: [{ name: 'a/b', value: '' }] }), input))).code).toBe('E_PROJECTION')
  })
})

describe('references mode', () => {
  test('no secret value is read: keys read as placeholders', async () => {
    const r = await renderProjection(full, { ...input, mode: 'references' })
    expect(r.envVars.map((e) => e.value)).toEqual([
      '<secret:workflow-secret/API_TOKEN>',
      'run-7',
      'postgresql://<secret:workflow-secret/USER>:<secret:db/password>@<secret:db/host>/app',
    ])
    expect(r.projectedValues).toEqual([])
    expect(JSON.stringify(r)).not.toMatch(/tok-123|pw:9|g-1|svc/)
  })

  test('missing secrets and keys are not errors; allKeysAsEnv lists key names only', async () => {
    const r = await renderProjection(
      spec({
        secrets: [{ id: 'nope', contextAlias: 'x' }, { id: 'workflow-secret', contextAlias: 'app' }],
        allKeysAsEnv: ['app', 'x'],
        envVars: [{ key: 'A', value: '{{.secrets.x.ANY}}' }],
      }),
      { ...input, mode: 'references' },
    )
    expect(r.envVars).toEqual([
      { key: 'API_TOKEN', value: '<secret:workflow-secret/API_TOKEN>', sensitive: true },
      { key: 'USER', value: '<secret:workflow-secret/USER>', sensitive: true },
      { key: 'A', value: '<secret:nope/ANY>', sensitive: true },
    ])
  })
})
