// Pod resolution of a step that references registry credentials (a cloud-kernel-image-pull secret):
// the Pod names them in imagePullSecrets and gets nothing else from them (no env, no files, no
// template values); the dry run (references mode) shows the name and never a value.
import { describe, expect, it } from 'vitest'
import { toYaml } from '../../src/cli/output.js'
import { CtlError } from '../../src/errors.js'
import type { ProjectionSpec, WorkflowResource } from '../../src/manifest/model.js'
import { InMemorySecretProvider } from '../../src/projection/index.js'
import { resolveWorkflowPods, StackRegistry, type ResolvedStep } from '../../src/stack/index.js'
import { expectValidKubernetes, projection, run, step, workflow } from './fixtures.js'

const PASSWORD = 'pull-Pa55/word+x'
const TOKEN = 'tok-kv-S3cr3t'
const secrets = new InMemorySecretProvider()
  .set('regcred', { registry: 'registry.example.com', username: 'robot', password: PASSWORD }, 'public', 'cloud-kernel-image-pull')
  .set('shared-pull', { '.dockerconfigjson': `{"auths":{"ghcr.io":{"password":"${PASSWORD}"}}}` }, undefined, 'cloud-kernel-image-pull')
  .set('app', { API_TOKEN: TOKEN }, 'public')
const stacks = StackRegistry.builtin()

function wf(p: Partial<ProjectionSpec>, version: WorkflowResource['meta']['version'] = 'v2alpha'): WorkflowResource {
  return workflow('private-image', [
    step('run', {
      stack: { name: 'container' },
      stackSpec: { image: 'registry.example.com/team/tool:1.0', command: ['sh', '-c', 'env'] },
      projection: projection(p),
    }),
  ], { version })
}

async function resolve(w: WorkflowResource, mode: 'values' | 'references'): Promise<ResolvedStep> {
  const [r] = await resolveWorkflowPods(w, { catalog: { stacks, computes: new Map() }, run, secrets, mode })
  return r!
}

const both = {
  secrets: [{ id: 'regcred', contextAlias: 'registry' }, { id: 'app', contextAlias: 'app' }],
  envVars: [{ key: 'API_TOKEN', value: '{{.secrets.app.API_TOKEN}}' }],
}

describe('a referenced pull secret', () => {
  it('becomes imagePullSecrets with a stable per-run name; its Docker config JSON travels beside the Pod', async () => {
    const r = await resolve(wf(both), 'values')
    expectValidKubernetes(r.pod)
    const name = 'private-image-3c8b2e6d1f00-run-pull-0'
    expect(r.pod.spec!.imagePullSecrets).toEqual([{ name }])
    expect(Object.keys(r.pullSecrets!)).toEqual([name])
    expect(JSON.parse(r.pullSecrets![name]!)).toEqual({
      auths: { 'registry.example.com': { username: 'robot', password: PASSWORD, auth: Buffer.from(`robot:${PASSWORD}`).toString('base64') } },
    })
    // The key-value secret still reaches the container, through the projection Secret.
    expect(r.secret!.stringData).toEqual({ 'run.env.API_TOKEN': TOKEN })
    const again = await resolve(wf(both), 'values')
    expect(again.pod.spec!.imagePullSecrets).toEqual([{ name }])
  })

  it('gives the container nothing: no env, no file, no value in the Pod, ConfigMap or projection Secret', async () => {
    const r = await resolve(wf(both), 'values')
    const visible = JSON.stringify([r.pod, r.configMap, r.secret])
    for (const text of [PASSWORD, 'robot', Buffer.from(`robot:${PASSWORD}`).toString('base64')]) expect(visible).not.toContain(text)
    const env = r.pod.spec!.containers[0]!.env!.map((e) => e.name)
    expect(env.filter((n) => !n.startsWith('CTL_'))).toEqual(['API_TOKEN'])
  })

  it('in a v1 step (`secrets: [regcred]`, every key as env) adds imagePullSecrets and no env', async () => {
    const r = await resolve(wf({ secrets: [{ id: 'regcred', contextAlias: 'regcred' }], allKeysAsEnv: ['regcred'] }, 'v1'), 'values')
    expect(r.pod.spec!.imagePullSecrets).toEqual([{ name: 'private-image-3c8b2e6d1f00-run-pull-0' }])
    expect(r.pod.spec!.containers[0]!.env!.every((e) => e.name.startsWith('CTL_'))).toBe(true)
    expect(r.secret).toBeUndefined()
  })

  it('is named once when two aliases name it; instance and workspace pull secrets both count, in declaration order', async () => {
    const r = await resolve(
      wf({
        secrets: [
          { id: 'shared-pull', contextAlias: 'shared', instance: true },
          { id: 'regcred', contextAlias: 'a' },
          { id: 'regcred', contextAlias: 'b' },
        ],
      }),
      'values',
    )
    expect(r.pod.spec!.imagePullSecrets).toEqual([{ name: 'private-image-3c8b2e6d1f00-run-pull-0' }, { name: 'private-image-3c8b2e6d1f00-run-pull-1' }])
    expect(r.pullSecrets!['private-image-3c8b2e6d1f00-run-pull-0']).toBe(`{"auths":{"ghcr.io":{"password":"${PASSWORD}"}}}`)
    expect(JSON.parse(r.pullSecrets!['private-image-3c8b2e6d1f00-run-pull-1']!).auths['registry.example.com'].username).toBe('robot')
  })

  it('cannot be read by a template: the error names the alias and the secret', async () => {
    const w = wf({ secrets: [{ id: 'regcred', contextAlias: 'registry' }], envVars: [{ key: 'PW', value: '{{.secrets.registry.password}}' }] })
    for (const mode of ['values', 'references'] as const) {
      const err = await resolve(w, mode).then(() => undefined, (e: unknown) => e)
      expect(err).toBeInstanceOf(CtlError)
      expect((err as CtlError).code).toBe('E_PROJECTION')
      expect((err as CtlError).message).toBe(
        'projection envVar "PW": secret alias "registry" is the image pull secret "regcred" (type cloud-kernel-image-pull); it only becomes the Pod\'s imagePullSecrets and has no values a template can read',
      )
    }
  })

  it('without a kind from the provider counts as key-value (a provider that cannot tell changes nothing)', async () => {
    const plain = { getSecret: secrets.getSecret.bind(secrets) }
    const [r] = await resolveWorkflowPods(wf(both), { catalog: { stacks, computes: new Map() }, run, secrets: plain, mode: 'values' })
    expect(r!.pod.spec!.imagePullSecrets).toBeUndefined()
    expect(r!.pullSecrets).toBeUndefined()
  })
})

describe('the dry run (references mode)', () => {
  it('shows imagePullSecrets and a placeholder, reads no value, and prints no secret value', async () => {
    // A provider that would answer with values: references mode must not ask for them.
    let reads = 0
    const counting = {
      getSecret: async (...a: Parameters<typeof secrets.getSecret>) => {
        reads++
        return secrets.getSecret(...a)
      },
      listKeys: secrets.listKeys.bind(secrets),
      kindOf: secrets.kindOf.bind(secrets),
    }
    const [r] = await resolveWorkflowPods(wf(both), { catalog: { stacks, computes: new Map() }, run: { ...run, runId: 'dry-run', dryRun: true }, secrets: counting, mode: 'references' })
    expect(reads).toBe(0)
    expectValidKubernetes(r!.pod)
    expect(r!.pod.spec!.imagePullSecrets).toEqual([{ name: 'private-image-dryrun-run-pull-0' }])
    expect(r!.pullSecrets).toEqual({ 'private-image-dryrun-run-pull-0': '<secret:regcred/.dockerconfigjson>' })
    expect(r!.pod.spec!.containers[0]!.env!.filter((e) => !e.name.startsWith('CTL_')).map((e) => e.name)).toEqual(['API_TOKEN'])
    // What `apply --dry-run -o yaml` prints: the Pod, ConfigMap and Secret as YAML.
    const printed = [r!.pod, r!.configMap, r!.secret].filter((o) => o !== undefined).map((o) => toYaml(o)).join('---\n')
    expect(printed).toContain('imagePullSecrets:')
    for (const text of [PASSWORD, TOKEN, 'robot']) expect(printed).not.toContain(text)
  })
})
