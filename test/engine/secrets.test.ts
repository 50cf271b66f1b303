// The engine's side of secrets, with a real store, a real local runtime and real steps:
// sealed values are decrypted only to reach the step, the workflow owner's right to `use`
// each projected secret is checked as each step starts, and what the engine stores of a run
// (log lines, messages) is redacted.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openTestStore } from '../support/store.js'
import type { Store } from '../../src/store/types.js'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import { createEngine, createStoreLauncher, type Engine } from '../../src/engine/index.js'
import { SecretBox, sealSecretManifest } from '../../src/secrets/crypto.js'
import { REDACTED, RunRedactions, redactionForms } from '../../src/secrets/redact.js'
import type { WorkflowResource } from '../../src/manifest/model.js'
import { logText, workflow } from './support.js'
import { filesContaining } from '../runtime/helpers.js'

const VALUE = 'hunter2-Zq9/+x'

interface Setup {
  dir: string
  store: Store
  engine: Engine
  close(): Promise<void>
}

async function setup(box: SecretBox | undefined): Promise<Setup> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-engine-secrets-'))
  const store = await openTestStore(dir)
  const runtime = createLocalRuntime({ stateDir: path.join(dir, 'state') })
  const redactions = new RunRedactions()
  const launcher = createStoreLauncher({ store, dataDir: dir, box, redactions })
  const engine = createEngine({ store, runtime, dataDir: dir, launcher, redact: redactions.redact })
  await engine.start()
  return {
    dir, store, engine,
    async close() {
      await engine.stop()
      await store.close()
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

const box = new SecretBox(randomBytes(32))
let s: Setup

beforeEach(async () => {
  s = await setup(box)
  await s.store.createUser({ id: 'alice', name: 'Alice', type: 'person' })
  await s.store.addRoleBinding({ userId: 'alice', role: 'data-dev', workspace: 'public', createdBy: 'admin' })
})
afterEach(async () => {
  await s.close()
})

async function applySecret(st: Setup, owner: string, sealWith: SecretBox | undefined = box): Promise<string> {
  const manifest = { meta: { name: 'app', version: 'v1', type: 'secret', tags: [], layer: 'user', workspace: 'public' }, secret: { type: 'key-value', acl: 'r', data: { TOKEN: VALUE }, files: {} } }
  const sealed = sealWith ? sealSecretManifest('secret', manifest, sealWith) : { manifest, hashSource: undefined }
  const res = await st.store.applyResource({ workspace: 'public', type: 'secret', name: 'app', version: 'v1', manifest: sealed.manifest, hashSource: sealed.hashSource, owner })
  return res.resource.id
}

function projecting(name: string, script: string): WorkflowResource {
  const wf = workflow(name, [{ name: 'p', script }])
  wf.workflow.dag[0]!.spec.projection = {
    secrets: [{ id: 'app', contextAlias: 'app' }],
    envVars: [{ key: 'TOKEN', value: '{{.secrets.app.TOKEN}}' }],
    files: [], arguments: [], allKeysAsEnv: [],
  }
  return wf
}

async function runOnce(st: Setup, wf: WorkflowResource, owner = 'alice') {
  const res = await st.store.applyResource({ workspace: 'public', type: 'workflow', name: wf.meta.name, version: wf.meta.version, manifest: wf, owner })
  st.engine.resourceApplied(res.resource, res.outcome)
  await st.engine.idle()
  const runs = await st.store.listRuns({ resourceId: res.resource.id })
  return { resource: res.resource, run: runs[0]!, steps: await st.store.listStepRuns(runs[0]!.id) }
}


describe('sealed secrets in runs', () => {
  it('decrypts a sealed value for the step only; the stored log and every file keep it redacted', async () => {
    await applySecret(s, 'alice')
    const { run } = await runOnce(s, projecting('uses-token', `[ "$TOKEN" = '${VALUE}' ] && echo match; echo "token=$TOKEN"; printf %s "$TOKEN" | base64`))
    // The workflow names the value itself only to compare; the check is on what the step printed.
    expect(run.state).toBe('succeeded')
    expect(await logText(s.store, run.id, 'p')).toEqual(['match', `token=${REDACTED}`, REDACTED])
    const stored = await s.store.getResource({ workspace: 'public', type: 'secret', name: 'app' })
    expect(JSON.stringify(stored!.manifest)).not.toContain(VALUE)
    expect(JSON.stringify(stored!.manifest)).toContain('enc:v1:')
  })

  it('keeps the stored value out of every file of the data dir', async () => {
    await applySecret(s, 'alice')
    const { run } = await runOnce(s, projecting('prints', 'echo "token=$TOKEN"'))
    expect(run.state).toBe('succeeded')
    expect(filesContaining(s.dir, VALUE)).toEqual([])
  })

  it('fails the step, saying why, when the sealed value cannot be read (no master key given to the engine)', async () => {
    const bare = await setup(undefined)
    try {
      await bare.store.createUser({ id: 'alice', name: 'Alice', type: 'person' })
      await bare.store.addRoleBinding({ userId: 'alice', role: 'data-dev', workspace: 'public', createdBy: 'admin' })
      await applySecret(bare, 'alice')
      const { run, steps } = await runOnce(bare, projecting('no-key', 'echo "$TOKEN"'))
      expect(run.state).toBe('failed')
      expect(steps[0]).toMatchObject({ state: 'failed', reason: 'LaunchError' })
      expect(steps[0]!.message).toContain('value TOKEN of secret app in workspace public is encrypted and no master key was given')
    } finally {
      await bare.close()
    }
  })
})

describe('the use check when a step starts', () => {
  it("fails the step when the workflow's owner may not use the secret; a use grant lets the next run through", async () => {
    const secretId = await applySecret(s, 'admin')
    const first = await runOnce(s, projecting('borrowed', 'test -n "$TOKEN" && echo ok'))
    expect(first.run.state).toBe('failed')
    expect(first.steps[0]).toMatchObject({ state: 'failed', reason: 'LaunchError' })
    expect(first.steps[0]!.message).toContain(`the workflow's owner alice may not use secret "app" in workspace public`)
    expect(first.steps[0]!.message).toContain('grant use')
    // Where users look: the step's log says it too.
    expect((await logText(s.store, first.run.id, 'p')).join('\n')).toContain('may not use secret "app"')

    await s.store.addGrant({ resourceId: secretId, userId: 'alice', permission: 'use', grantedBy: 'admin' })
    const again = await s.engine.runNow(first.resource, 'alice')
    await s.engine.idle()
    expect((await s.store.getRun(again.id))!.state).toBe('succeeded')
    expect(await logText(s.store, again.id, 'p')).toEqual(['ok'])
  })

  it('refuses an owner who is no longer a user, saying so', async () => {
    await applySecret(s, 'admin')
    const { run, steps } = await runOnce(s, projecting('orphan', 'echo "$TOKEN"'), 'ghost')
    expect(run.state).toBe('failed')
    expect(steps[0]!.message).toContain('owner ghost (no longer a user) may not use secret "app"')
  })
})

describe('RunRedactions', () => {
  it('redacts per run, merges forms added by later steps, and forgets the oldest runs past its bound', () => {
    const r = new RunRedactions(2)
    r.add('run-1', redactionForms(['first-secret']))
    r.add('run-1', redactionForms(['second-secret']))
    expect(r.redact('run-1', 'first-secret and second-secret')).toBe(`${REDACTED} and ${REDACTED}`)
    expect(r.redact('run-2', 'first-secret')).toBe('first-secret')
    r.add('run-2', redactionForms(['x-secret-2']))
    r.add('run-3', redactionForms(['x-secret-3']))
    expect(r.has('run-1')).toBe(false)
    expect(r.redact('run-3', `u=${encodeURIComponent('x-secret-3')}`)).toBe(`u=${REDACTED}`)
  })
})
