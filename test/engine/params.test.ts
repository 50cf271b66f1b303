// Run params in the engine, with a real store and real steps: each run keeps its resolved params
// (defaults filled in), a retry keeps the params of the run it retries, an apply of a workflow
// whose required param has no default starts no run, and a secret param is redacted from logs.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openTestStore } from '../support/store.js'
import type { Store } from '../../src/store/types.js'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import { createEngine, createStoreLauncher, type Engine } from '../../src/engine/index.js'
import { REDACTED, RunRedactions } from '../../src/secrets/redact.js'
import type { ParamSpec, WorkflowResource } from '../../src/manifest/model.js'
import { CtlError } from '../../src/errors.js'
import { logText, workflow } from './support.js'

const SECRET = 'hunter2-Zq9/+x'

const PARAMS: ParamSpec[] = [
  { name: 'environment', type: 'string', required: false, default: 'staging', enum: ['staging', 'production'] },
  { name: 'version', type: 'string', required: true },
  { name: 'regions', type: 'array', required: false, default: ['eu', 'us'] },
  { name: 'token', type: 'string', required: false, default: 'none', secret: true },
]

function withParams(name: string, script: string, params: ParamSpec[] = PARAMS): WorkflowResource {
  const wf = workflow(name, [{ name: 'p', script }])
  wf.workflow.params = params
  return wf
}

let dir: string
let store: Store
let engine: Engine

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-engine-params-'))
  store = await openTestStore(dir)
  const runtime = createLocalRuntime({ stateDir: path.join(dir, 'state') })
  const redactions = new RunRedactions()
  engine = createEngine({ store, runtime, dataDir: dir, launcher: createStoreLauncher({ store, dataDir: dir, redactions }), redact: redactions.redact })
  await engine.start()
})
afterEach(async () => {
  await engine.stop()
  await store.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

async function apply(wf: WorkflowResource, params?: Record<string, unknown>) {
  const res = await store.applyResource({ workspace: 'public', type: 'workflow', name: wf.meta.name, version: wf.meta.version, manifest: wf, owner: 'alice' })
  const started = await engine.resourceApplied(res.resource, res.outcome, params)
  await engine.idle()
  return { resource: (await store.getResourceById(res.resource.id))!, started }
}

describe('run params in the engine', () => {
  it('the apply run gets the given params with the defaults filled in; a manual run its own', async () => {
    const { resource, started } = await apply(withParams('deploy', 'echo hi'), { version: '1.2.3' })
    expect(started!.params).toEqual({ environment: 'staging', version: '1.2.3', regions: ['eu', 'us'], token: 'none' })
    expect((await store.getRun(started!.id))!.state).toBe('succeeded')
    const manual = await engine.runNow(resource, 'alice', { version: '2.0.0', environment: 'production', regions: [] })
    expect(manual.params).toEqual({ environment: 'production', version: '2.0.0', regions: [], token: 'none' })
  })

  it('refuses params that do not resolve, naming the param, and starts nothing', async () => {
    const { resource } = await apply(withParams('strict', 'echo hi'), { version: '1' })
    const before = (await store.listRuns({ resourceId: resource.id })).length
    for (const [given, named] of [
      [{}, 'version'],
      [{ version: 3 }, 'version'],
      [{ version: '1', nope: 1 }, 'nope'],
      [{ version: '1', environment: 'qa' }, 'environment'],
    ] as const) {
      const err = await engine.runNow(resource, 'alice', given).catch((e: unknown) => e)
      expect(err, JSON.stringify(given)).toBeInstanceOf(CtlError)
      expect((err as CtlError).code).toBe('E_PARAMS')
      expect((err as CtlError).message).toContain(`"${named}"`)
    }
    expect((await store.listRuns({ resourceId: resource.id })).length).toBe(before)
  })

  it('an apply without a required param starts no run and the workflow is active', async () => {
    const { resource, started } = await apply(withParams('waits', 'echo hi'))
    expect(started).toBeUndefined()
    expect(resource.status).toBe('active')
    expect(await store.listRuns({ resourceId: resource.id })).toEqual([])
  })

  it('retry keeps the params of the run it retries', async () => {
    const { resource, started } = await apply(withParams('flaky', 'exit 3'), { version: '9.9.9', environment: 'production' })
    expect((await store.getRun(started!.id))!.state).toBe('failed')
    const retry = await engine.retryRun(resource, 'alice', started!.id)
    expect(retry.params).toEqual(started!.params)
  })

  it('a secret param is redacted from the step log like a projected secret', async () => {
    // The script names the value itself: what is checked is what reaches the stored log.
    const { started } = await apply(withParams('secretive', `echo "token=${SECRET}"; echo "version ok"`), { version: '1', token: SECRET })
    expect((await store.getRun(started!.id))!.state).toBe('succeeded')
    expect(await logText(store, started!.id, 'p')).toEqual([`token=${REDACTED}`, 'version ok'])
  })
})
