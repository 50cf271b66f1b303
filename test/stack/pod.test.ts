import { describe, expect, test } from 'vitest'
import { parse } from 'yaml'
import { CtlError } from '../../src/errors.js'
import type { StepModel, WorkflowResource } from '../../src/manifest/model.js'
import { InMemorySecretProvider, renderProjection } from '../../src/projection/index.js'
import { BUILTIN_COMPUTES, resolvePodTemplate, resolveWorkflowPods, StackRegistry, type ResolvedStep } from '../../src/stack/index.js'
import { expectValidKubernetes, projection, run, step, workflow } from './fixtures.js'

const SECRET = 'tok-S3cr3t-value'
const secrets = new InMemorySecretProvider().set('workflow-secret', { API_TOKEN: SECRET, USER: 'svc-user-x' }, 'public')
const stacks = StackRegistry.builtin()

const withProjection = projection({
  secrets: [{ id: 'workflow-secret', contextAlias: 'app' }],
  envVars: [
    { key: 'WORKFLOW_ID', value: '{{.defaultProjections.dataOsRunId}}' },
    { key: 'API_TOKEN', value: '{{.secrets.app.API_TOKEN}}' },
  ],
  files: [
    { name: 'token', value: '{{.secrets.app.API_TOKEN}}' },
    { name: 'info.txt', value: 'run {{.defaultProjections.runId}}' },
    { name: 'settings.json', directory: '/etc/app', value: '{"user": "{{.secrets.app.USER}}"}' },
  ],
  arguments: ['--run={{.defaultProjections.runId}}', '--token={{.secrets.app.API_TOKEN}}'],
  allKeysAsEnv: [],
})

async function resolve(wf: WorkflowResource, mode: 'values' | 'references' = 'values', extra: Partial<typeof run> = {}): Promise<ResolvedStep[]> {
  return resolveWorkflowPods(wf, { catalog: { stacks, computes: new Map() }, run: { ...run, ...extra }, secrets, mode })
}

function expectAllValid(r: ResolvedStep): void {
  expectValidKubernetes(r.pod)
  if (r.configMap) expectValidKubernetes(r.configMap)
  if (r.secret) expectValidKubernetes(r.secret)
}

describe('container stack', () => {
  const wf = workflow('projected-workflow', [
    step('run-task', {
      stack: { name: 'container' },
      stackSpec: { image: 'docker.io/library/alpine:3.20', command: ['sh'], arguments: ['-c', 'echo "$WORKFLOW_ID"'], workingDir: '/work', env: { FROM_STACKSPEC: 'yes' } },
      envs: { STEP_ENV: 'a', CTL_LOG_LEVEL: 'DEBUG' },
      resources: { requests: { cpu: '100m' }, limits: { memory: '256Mi' } },
      runAsUser: 1000,
      volumes: [{ id: 'shared', directory: '/data', readOnly: false, subPath: 'run' }],
      projection: withProjection,
    }, { timeoutSeconds: 600 }),
  ])

  test('a valid Pod, ConfigMap and Secret; main container named after the step', async () => {
    const [r] = await resolve(wf)
    expectAllValid(r!)
    const pod = r!.pod
    const c = pod.spec!.containers[0]!
    expect(pod.spec!.containers).toHaveLength(1)
    expect(c.name).toBe('run-task')
    expect(c.image).toBe('docker.io/library/alpine:3.20')
    expect(c.command).toEqual(['sh'])
    expect(c.args).toEqual(['-c', 'echo "$WORKFLOW_ID"', `--run=${run.runId}`, '$(CTL_PROJECTED_ARG_1)'])
    expect(c.workingDir).toBe('/work')
    expect(c.resources).toEqual({ requests: { cpu: '100m' }, limits: { memory: '256Mi' } })
    expect(c.securityContext).toEqual({ runAsUser: 1000 })
    expect(pod.spec!.securityContext).toEqual({ runAsUser: 1000 })
    expect(pod.spec!.restartPolicy).toBe('Never')
    expect(pod.spec!.activeDeadlineSeconds).toBe(600)
    expect(pod.metadata!.namespace).toBe('public')
    expect(pod.metadata!.name).toBe('projected-workflow-run-task-3c8b2e6d1f00-1')
    expect(pod.metadata!.labels).toEqual({
      'ctl.dev/workspace': 'public', 'ctl.dev/workflow': 'projected-workflow', 'ctl.dev/revision': '4',
      'ctl.dev/run': run.runId, 'ctl.dev/step': 'run-task', 'ctl.dev/attempt': '1',
    })
    expect(pod.metadata!.annotations).toMatchObject({ 'ctl.dev/stack': 'container:1.0', 'ctl.dev/image': 'docker.io/library/alpine:3.20' })
  })

  test('env order, overrides, and secrets only through secretKeyRef', async () => {
    const [r] = await resolve(wf)
    const env = r!.pod.spec!.containers[0]!.env!
    const names = env.map((e) => e.name)
    expect(names.slice(0, 14)).toEqual([
      'CTL_RUN_ID', 'CTL_RESOURCE_ID', 'CTL_RESOURCE_TYPE', 'CTL_RESOURCE_NAME', 'CTL_WORKSPACE', 'CTL_STEP_NAME',
      'CTL_RUN_ATTEMPT', 'CTL_TAGS', 'CTL_DESCRIPTION', 'CTL_CONFIG_DIR', 'CTL_TEMP_DIR', 'CTL_SECRET_DIR', 'CTL_OUTPUTS', 'CTL_RUN_AS_USER',
    ])
    expect(names.slice(14, 15)).toEqual(['CTL_LOG_LEVEL'])
    expect(names.slice(15)).toEqual(['CTL_DRY_RUN', 'STEP_ENV', 'FROM_STACKSPEC', 'WORKFLOW_ID', 'API_TOKEN', 'CTL_PROJECTED_ARG_1'])
    expect(new Set(names).size).toBe(names.length)
    const byName = Object.fromEntries(env.map((e) => [e.name, e]))
    expect(byName.CTL_RESOURCE_ID!.value).toBe('workflow:v2alpha:projected-workflow:public')
    expect(byName.CTL_LOG_LEVEL!.value).toBe('DEBUG')
    // Outputs: the file $CTL_OUTPUTS names is the termination message file (Kubernetes hands its content back).
    expect(byName.CTL_OUTPUTS!.value).toBe('/ctl/outputs')
    expect(r.pod.spec!.containers[0]).toMatchObject({ terminationMessagePath: '/ctl/outputs', terminationMessagePolicy: 'File' })
    expect(byName.CTL_TAGS!.value).toBe('demo,nightly')
    expect(byName.WORKFLOW_ID!.value).toBe(run.runId)
    const secretName = r!.secret!.metadata!.name!
    expect(byName.API_TOKEN).toEqual({ name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: secretName, key: 'run-task.env.API_TOKEN' } } })
    expect(byName.CTL_PROJECTED_ARG_1).toEqual({ name: 'CTL_PROJECTED_ARG_1', valueFrom: { secretKeyRef: { name: secretName, key: 'run-task.arg.1' } } })
    expect(r!.secret!.stringData!['run-task.arg.1']).toBe(`--token=${SECRET}`)
    for (const key of Object.keys(r!.secret!.stringData!)) expect(key).toMatch(/^[-._a-zA-Z0-9]+$/)
  })

  test('no secret value appears in the Pod or the ConfigMap', async () => {
    const [r] = await resolve(wf)
    for (const leaked of [SECRET, 'svc-user-x']) {
      expect(JSON.stringify(r!.pod)).not.toContain(leaked)
      expect(JSON.stringify(r!.configMap)).not.toContain(leaked)
      expect(JSON.stringify(r!.secret)).toContain(leaked)
    }
  })

  test('files: one projected volume per directory, sensitive ones from the Secret; volumes as PVCs', async () => {
    const [r] = await resolve(wf)
    const spec = r!.pod.spec!
    const cmName = r!.configMap!.metadata!.name!
    const secretName = r!.secret!.metadata!.name!
    expect(r!.configMap!.data).toEqual({ 'projection.1.info.txt': `run ${run.runId}` })
    expect(spec.volumes).toEqual([
      { name: 'ctl-files-0', projected: { sources: [
        { configMap: { name: cmName, items: [{ key: 'projection.1.info.txt', path: 'info.txt' }] } },
        { secret: { name: secretName, items: [{ key: 'run-task.file.0.token', path: 'token' }] } },
      ] } },
      { name: 'ctl-files-1', projected: { sources: [{ secret: { name: secretName, items: [{ key: 'run-task.file.2.settings.json', path: 'settings.json' }] } }] } },
      { name: 'vol-shared', persistentVolumeClaim: { claimName: 'ctl-vol-public-shared' } },
    ])
    expect(spec.containers[0]!.volumeMounts).toEqual([
      { name: 'ctl-files-0', mountPath: '/etc/ctl/projection', readOnly: true },
      { name: 'ctl-files-1', mountPath: '/etc/app', readOnly: true },
      { name: 'vol-shared', mountPath: '/data', readOnly: false, subPath: 'run' },
    ])
  })

  test('references mode: placeholders even in the Secret', async () => {
    const [r] = await resolve(wf, 'references', { dryRun: true })
    expectAllValid(r!)
    const all = JSON.stringify(r)
    expect(all).not.toContain(SECRET)
    expect(all).not.toContain('svc-user-x')
    expect(r!.secret!.stringData!['run-task.env.API_TOKEN']).toBe('<secret:workflow-secret/API_TOKEN>')
    expect(r!.pod.spec!.containers[0]!.env!.find((e) => e.name === 'CTL_DRY_RUN')!.value).toBe('true')
  })

  test('a projected argument that is not secret is escaped against $(VAR) expansion', async () => {
    const wf2 = workflow('esc', [step('s', {
      stack: { name: 'container' }, stackSpec: { image: 'alpine' },
      projection: projection({ arguments: ['literal $(HOME) {{.defaultProjections.stepName}}'] }),
    })])
    const [r] = await resolve(wf2)
    expect(r!.pod.spec!.containers[0]!.args).toEqual(['literal $$(HOME) s'])
  })
})

describe('script stack', () => {
  test('the script is a config file run by the interpreter', async () => {
    const script = 'set -e\necho "a: b # {{.Name}}"\n'
    const [bash, py] = await resolve(workflow('scripts', [
      step('bash-step', { stack: { name: 'script' }, stackSpec: { script, arguments: ['one', 'two'] } }),
      step('py-step', { stack: { name: 'script', version: '1.0' }, stackSpec: { interpreter: 'python', script: 'print(1)' } }),
    ]))
    for (const r of [bash!, py!]) expectAllValid(r)
    const c = bash!.pod.spec!.containers[0]!
    expect(c.name).toBe('bash-step')
    expect(c.image).toBe('docker.io/library/bash:5')
    expect([...c.command!, ...c.args!]).toEqual(['bash', '/etc/ctl/config/script', 'one', 'two'])
    expect(bash!.configMap!.data).toEqual({ script })
    expect(bash!.pod.spec!.volumes).toEqual([
      { name: 'ctl-config', projected: { sources: [{ configMap: { name: bash!.configMap!.metadata!.name, items: [{ key: 'script', path: 'script' }] } }] } },
    ])
    expect(c.volumeMounts).toEqual([{ name: 'ctl-config', mountPath: '/etc/ctl/config', readOnly: true }])
    expect(py!.pod.spec!.containers[0]!.image).toBe('docker.io/library/python:3.12-alpine')
    // python runs as python3: Debian and Ubuntu have no plain `python`.
    expect(py!.pod.spec!.containers[0]!.command).toEqual(['python3', '/etc/ctl/config/script'])
    expect(py!.pod.spec!.containers[0]!.args).toBeUndefined()
  })
})

describe('ctl stack', () => {
  test('arguments and an embedded manifest file', async () => {
    const manifest = { version: 'v2alpha', name: 'inner', type: 'workflow', spec: { dag: [] } }
    const [obj, text, none] = await resolve(workflow('ops', [
      step('apply', { stack: { name: 'ctl' }, stackSpec: { arguments: ['resource', 'apply', '-f', '/etc/ctl/config/manifest.yaml'], manifest } }),
      step('apply-text', { stack: { name: 'ctl' }, stackSpec: { arguments: ['resource', 'apply'], manifest: 'name: x\n', image: 'ctl:dev' } }),
      step('get', { stack: { name: 'ctl' }, stackSpec: { arguments: ['resource', 'get', '-t', 'workflow'] } }),
    ]))
    for (const r of [obj!, text!, none!]) expectAllValid(r)
    const c = obj!.pod.spec!.containers[0]!
    expect([c.name, c.image, c.command, c.args]).toEqual(['apply', 'ctl-control-plane:0.1.0', ['ctl'], ['resource', 'apply', '-f', '/etc/ctl/config/manifest.yaml']])
    expect(parse(obj!.configMap!.data!['manifest.yaml']!)).toEqual(manifest)
    expect(text!.configMap!.data).toEqual({ 'manifest.yaml': 'name: x\n' })
    expect(text!.pod.spec!.containers[0]!.image).toBe('ctl:dev')
    expect(none!.configMap).toBeUndefined()
    expect(none!.pod.spec!.volumes).toBeUndefined()
  })
})

describe('names, compute and errors', () => {
  test('a long name is cut to 63 characters with a hash; labels stay valid', async () => {
    const long = 'a'.repeat(48)
    const stepName = 'step-with-a-rather-long-name-for-testing-limits'
    const wf = workflow(long, [step(stepName, { stack: { name: 'container' }, stackSpec: { image: 'alpine' } })])
    const [r] = await resolve(wf, 'values', { runId: `run_${'X'.repeat(70)}`, attempt: 3 })
    expectAllValid(r!)
    expect(r!.pod.metadata!.name!.length).toBeLessThanOrEqual(63)
    expect(r!.pod.metadata!.name).toMatch(/-[0-9a-f]{8}$/)
    expect(r!.pod.metadata!.labels!['ctl.dev/run']!.length).toBeLessThanOrEqual(63)
    expect(r!.pod.metadata!.annotations!['ctl.dev/run']).toBe(`run_${'X'.repeat(70)}`)
    expect(r!.pod.spec!.containers[0]!.name).toBe(stepName)
    // another attempt, another name
    const [r2] = await resolve(wf, 'values', { runId: `run_${'X'.repeat(70)}`, attempt: 4 })
    expect(r2!.pod.metadata!.name).not.toBe(r!.pod.metadata!.name)
  })

  test('compute sets nodeSelector and tolerations', async () => {
    const wf = workflow('c', [step('s', { stack: { name: 'container' }, stackSpec: { image: 'alpine' }, compute: 'gpu-pool' })])
    const computes = new Map([['gpu-pool', { purpose: 'gpu' as const, nodeSelector: { pool: 'gpu' }, tolerations: [{ key: 'gpu', operator: 'Exists' as const, effect: 'NoSchedule' as const }] }]])
    const [r] = await resolveWorkflowPods(wf, { catalog: { stacks, computes }, run, secrets, mode: 'values' })
    expectAllValid(r!)
    expect(r!.pod.spec!.nodeSelector).toEqual({ pool: 'gpu' })
    expect(r!.pod.spec!.tolerations).toEqual([{ key: 'gpu', operator: 'Exists', effect: 'NoSchedule' }])
    expect(BUILTIN_COMPUTES.get('runnable-default')).toEqual({ purpose: 'runnable', nodeSelector: {}, tolerations: [] })
  })

  test('unknown stack, bad stackSpec, unknown compute', async () => {
    const one = (s: StepModel) => resolve(workflow('e', [s])).then(() => undefined, (e: unknown) => e as CtlError)
    const a = await one(step('s', { stack: { name: 'container', version: '9.9' }, stackSpec: {} }))
    expect([a!.code, a!.message]).toEqual(['E_UNKNOWN_STACK', 'step "s": unknown stack "container:9.9"; known versions: 1.0'])
    const b = await one(step('s', { stack: { name: 'container' }, stackSpec: { comand: [] } }))
    expect(b!.code).toBe('E_STACK_SPEC')
    expect(b!.message).toContain('unknown field "comand"; did you mean "command"? (spec.dag[0].spec.stackSpec.comand)')
    const c = await one(step('s', { stack: { name: 'container' }, stackSpec: { image: 'a' }, compute: 'nope' }))
    expect(c!.code).toBe('E_UNKNOWN_COMPUTE')
  })

  test('a containerResourceTemplate value cannot change the container structure', async () => {
    const stack = { ...stacks.resolve({ name: 'container' })! }
    const evil = 'alpine\nprivileged: true\nsecurityContext: {privileged: true}'
    const wf = workflow('x', [step('s', { stack: { name: 'container' }, stackSpec: { image: 'alpine', workingDir: evil } })])
    const proj = await renderProjection(projection(), { workspace: 'public', defaults: {}, secrets, mode: 'values' })
    const r = resolvePodTemplate({ workflow: wf, step: wf.workflow.dag[0]!, stack, compute: BUILTIN_COMPUTES.get('runnable-default')!, run, projection: proj })
    const c = r.pod.spec!.containers[0]!
    expect(c.workingDir).toBe(evil)
    expect(c.securityContext).toBeUndefined()
    expect(Object.keys(c).sort()).toEqual(['env', 'image', 'name', 'terminationMessagePath', 'terminationMessagePolicy', 'workingDir'])
  })
})

test('the Kubernetes validation used above does reject a malformed Pod', () => {
  const bad = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'ok' }, spec: { containers: [{ name: 'c', image: 'i', env: [{ value: 'no name' }] }] } }
  expect(() => expectValidKubernetes(bad)).toThrow()
  const badLabel = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'ok', labels: { a: 'x'.repeat(64) } }, spec: { containers: [{ name: 'c', image: 'i' }] } }
  expect(() => expectValidKubernetes(badLabel)).toThrow()
})

describe('network', () => {
  const spec = { stack: { name: 'container' }, stackSpec: { image: 'docker.io/library/alpine:3.20', command: ['true'] } }
  test('network: none labels and annotates the Pod only; default or absent adds nothing', async () => {
    const wf = workflow('isolated', [step('cut-off', { ...spec, network: 'none' }), step('normal', { ...spec, network: 'default' }), step('unset', spec)])
    const [none, normal, unset] = await resolve(wf)
    expectAllValid(none!)
    expect(none!.pod.metadata!.labels!['ctl.dev/network']).toBe('none')
    expect(none!.pod.metadata!.annotations!['ctl.dev/network']).toBe('none')
    for (const r of [normal!, unset!]) {
      expect(r.pod.metadata!.labels!['ctl.dev/network']).toBeUndefined()
      expect(r.pod.metadata!.annotations!['ctl.dev/network']).toBeUndefined()
    }
    // The other objects of the step share the Pod's identity labels, not this one.
    const withConfig = await resolve(workflow('isolated', [step('cut-off', { ...spec, network: 'none', projection: withProjection })]))
    expect(withConfig[0]!.configMap!.metadata!.labels!['ctl.dev/network']).toBeUndefined()
  })
})
