// Registry credentials on their way to a runtime: the launch puts a step's cloud-kernel-image-pull
// secrets into StepLaunch.pullSecrets (sealed in the store, decrypted only for the launch, redacted
// from logs), the Kubernetes builder turns them into kubernetes.io/dockerconfigjson Secrets the
// OpenAPI schema accepts, and the local runtime (which pulls no images) runs such a step unchanged.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import type { V1Pod } from '@kubernetes/client-node'
import { Secret } from 'kubernetes-models/v1'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createEngine, createStoreLauncher, type Engine } from '../../src/engine/index.js'
import type { ProjectionSpec, WorkflowResource } from '../../src/manifest/model.js'
import { buildPullSecrets, DOCKER_CONFIG_JSON_TYPE } from '../../src/runtime/kubernetes/pull-secrets.js'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import type { Runtime, StepLaunch } from '../../src/runtime/types.js'
import { SecretBox, sealSecretManifest } from '../../src/secrets/crypto.js'
import { REDACTED, RunRedactions } from '../../src/secrets/redact.js'
import { openTestStore } from '../support/store.js'
import type { Store } from '../../src/store/types.js'
import { logText, workflow } from '../engine/support.js'
import { filesContaining } from './helpers.js'

const PASSWORD = 'pull-Pa55/word+Zq9'

function validSecret(obj: unknown): void {
  new Secret(JSON.parse(JSON.stringify(obj)) as never).validate()
}

describe('buildPullSecrets', () => {
  const pod: V1Pod = {
    metadata: {
      name: 'wf-run-abc-1',
      namespace: 'public',
      labels: { 'ctl.dev/workspace': 'public', 'ctl.dev/run': 'r-1', 'ctl.dev/step': 'run', app: 'not-ours' },
      annotations: { 'ctl.dev/image': 'registry.example.com/t:1' },
    },
    spec: { containers: [{ name: 'run', image: 'registry.example.com/t:1' }], imagePullSecrets: [{ name: 'wf-r1-run-pull-0' }, { name: 'cluster-wide-creds' }, { name: 'wf-r1-run-pull-1' }] },
  }
  const json0 = '{"auths":{"registry.example.com":{"auth":"eDp5"}}}'
  const json1 = '{"auths":{"ghcr.io":{"auth":"YTpi"}}}'

  it('builds one kubernetes.io/dockerconfigjson Secret per named entry, in the Pod\'s order, valid for the API', () => {
    const out = buildPullSecrets('ctl-public', pod, { 'wf-r1-run-pull-1': json1, 'wf-r1-run-pull-0': json0 })
    expect(out.map((s) => s.metadata?.name)).toEqual(['wf-r1-run-pull-0', 'wf-r1-run-pull-1'])
    for (const s of out) validSecret(s)
    expect(out[0]).toEqual({
      apiVersion: 'v1',
      kind: 'Secret',
      type: DOCKER_CONFIG_JSON_TYPE,
      metadata: { name: 'wf-r1-run-pull-0', namespace: 'ctl-public', labels: { 'ctl.dev/workspace': 'public', 'ctl.dev/run': 'r-1', 'ctl.dev/step': 'run' } },
      data: { '.dockerconfigjson': Buffer.from(json0).toString('base64') },
    })
    expect(Buffer.from(out[1]!.data!['.dockerconfigjson']!, 'base64').toString('utf8')).toBe(json1)
  })

  it('builds nothing for a name the Pod gives without data (an existing Secret), nor for data the Pod does not name', () => {
    expect(buildPullSecrets('ctl-public', pod, { 'not-named': json0 })).toEqual([])
    expect(buildPullSecrets('ctl-public', pod, undefined)).toEqual([])
    expect(buildPullSecrets('ctl-public', { metadata: { name: 'p' }, spec: { containers: [] } }, { x: json0 })).toEqual([])
  })
})

describe('a step with a pull secret, launched from the store on the local runtime', () => {
  const box = new SecretBox(randomBytes(32))
  let dir: string
  let store: Store
  let engine: Engine
  let launches: StepLaunch[]

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-pull-'))
    store = await openTestStore(dir)
    const local = createLocalRuntime({ stateDir: path.join(dir, 'state') })
    launches = []
    // The real local runtime; only start() is watched, to see the StepLaunch the engine hands over.
    const runtime: Runtime = {
      info: () => local.info(),
      start: async (l) => {
        launches.push(l)
        return local.start(l)
      },
      follow: (h, offset, onLogs, signal) => local.follow(h, offset, onLogs, signal),
      kill: (h, reason) => local.kill(h, reason),
      cleanup: (h) => local.cleanup(h),
      ...(local.find ? { find: (k: Parameters<NonNullable<Runtime['find']>>[0]) => local.find!(k) } : {}),
    }
    const redactions = new RunRedactions()
    engine = createEngine({ store, runtime, dataDir: dir, launcher: createStoreLauncher({ store, dataDir: dir, box, redactions }), redact: redactions.redact })
    await engine.start()
    await store.createUser({ id: 'alice', name: 'Alice', type: 'person' })
    await store.addRoleBinding({ userId: 'alice', role: 'data-dev', workspace: 'public', createdBy: 'admin' })
    const manifest = {
      meta: { name: 'regcred', version: 'v1', type: 'secret', tags: [], layer: 'user', workspace: 'public' },
      secret: { type: 'cloud-kernel-image-pull', acl: 'r', data: { registry: 'registry.example.com', username: 'robot', password: PASSWORD }, files: {} },
    }
    const sealed = sealSecretManifest('secret', manifest, box)
    await store.applyResource({ workspace: 'public', type: 'secret', name: 'regcred', version: 'v1', manifest: sealed.manifest, hashSource: sealed.hashSource, owner: 'alice' })
  })

  afterEach(async () => {
    await engine.stop()
    await store.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  function withPull(name: string, script: string, p: Partial<ProjectionSpec> = {}): WorkflowResource {
    const wf = workflow(name, [{ name: 'p', script }])
    wf.workflow.dag[0]!.spec.projection = { secrets: [{ id: 'regcred', contextAlias: 'registry' }], envVars: [], files: [], arguments: [], allKeysAsEnv: [], ...p }
    return wf
  }

  async function runOnce(wf: WorkflowResource) {
    const res = await store.applyResource({ workspace: 'public', type: 'workflow', name: wf.meta.name, version: wf.meta.version, manifest: wf, owner: 'alice' })
    engine.resourceApplied(res.resource, res.outcome)
    await engine.idle()
    const run = (await store.listRuns({ resourceId: res.resource.id }))[0]!
    return { run, steps: await store.listStepRuns(run.id) }
  }

  it('hands the runtime pullSecrets named by the Pod and redaction forms of the password; the step runs and sees none of it', async () => {
    const { run } = await runOnce(withPull('private', "! env | grep -qi -e '^password=' -e '^username=' -e robot && echo clean"))
    expect(run.state).toBe('succeeded')
    expect(await logText(store, run.id, 'p')).toEqual(['clean'])
    const launch = launches[0]!
    const names = (launch.pod.spec!.imagePullSecrets ?? []).map((r) => r.name)
    expect(names).toHaveLength(1)
    expect(Object.keys(launch.pullSecrets ?? {})).toEqual(names)
    expect(JSON.parse(launch.pullSecrets![names[0]!]!).auths['registry.example.com'].password).toBe(PASSWORD)
    expect(launch.redact).toEqual(expect.arrayContaining([PASSWORD, Buffer.from(PASSWORD).toString('base64'), Buffer.from(`robot:${PASSWORD}`).toString('base64')]))
    expect(launch.secretData).toEqual({})
    expect(JSON.stringify(launch.pod)).not.toContain(PASSWORD)
    // What the Kubernetes runtime would create from this very launch.
    const built = buildPullSecrets('ctl-public', launch.pod, launch.pullSecrets)
    expect(built.map((s) => s.metadata?.name)).toEqual(names)
    for (const s of built) validSecret(s)
    // Sealed in the store, kept from every file of the data dir.
    expect(filesContaining(dir, PASSWORD)).toEqual([])
  })

  it('redacts the registry password from what a step prints', async () => {
    const { run } = await runOnce(withPull('echoes', `echo "login ${PASSWORD}"`))
    expect(run.state).toBe('succeeded')
    expect(await logText(store, run.id, 'p')).toEqual([`login ${REDACTED}`])
  })

  it('fails the step, naming the alias, when a template reads the pull secret', async () => {
    const { run, steps } = await runOnce(withPull('reads', 'echo "$PW"', { envVars: [{ key: 'PW', value: '{{.secrets.registry.password}}' }] }))
    expect(run.state).toBe('failed')
    expect(steps[0]).toMatchObject({ state: 'failed', reason: 'LaunchError' })
    expect(steps[0]!.message).toContain('secret alias "registry" is the image pull secret "regcred"')
    expect(launches).toEqual([])
  })
})
