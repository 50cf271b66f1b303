import { describe, expect, it } from 'vitest'
import { formatIssue } from '../../src/errors.js'
import { lintSources, parseStackRef } from '../../src/manifest/index.js'
import type { Resource, WorkflowResource } from '../../src/manifest/model.js'
import { testContext, yaml } from './helpers.js'
import { compute, secret, stack, volume, workflowV2 } from './manifests.js'

function resources(text: string): Resource[] {
  const result = lintSources([{ file: 'n.yaml', text }], testContext(), { interpolate: false, env: {} })
  expect(result.issues.map(formatIssue)).toEqual([])
  return result.documents.map((d) => d.resource)
}
const workflow = (text: string): WorkflowResource => resources(text)[0] as WorkflowResource

const v1 = yaml`
  version: v1
  name: daily
  type: workflow
  description: Daily load
  workflow:
    title: Daily
    schedule:
      cron: '0 3 * * *'
    dag:
      - name: extract
        retry: {count: 1}
        timeout: 10m
        spec:
          stack: container:1.0
          envs: {A: 1, B: yes}
          use:
            volumes: [{id: shared, directory: /data, readOnly: true}]
          stackSpec: {image: x}
      - name: load
        dependencies: [extract]
        spec:
          stack: container
          compute: gpu-pool
          logLevel: DEBUG
          resources: {limits: {cpu: 2}}
          stackSpec: {image: y}
  `

const v2 = yaml`
  version: v2alpha
  name: daily
  type: workflow
  description: Daily load
  spec:
    title: Daily
    schedule:
      crons: ['0 3 * * *']
    dag:
      - name: extract
        retry: {count: 1}
        timeout: 10m
        spec:
          stack: container:1.0
          envs: {A: 1, B: yes}
          use:
            volumes: [{id: shared, directory: /data, readOnly: true}]
          stackSpec: {image: x}
      - name: load
        depends: [extract]
        spec:
          stack: container
          compute: gpu-pool
          logLevel: DEBUG
          resources: {limits: {cpu: 2}}
          stackSpec: {image: y}
  `

describe('workflow normalization', () => {
  it('turns v1 and v2alpha of the same workflow into the same model', () => {
    const a = workflow(v1)
    const b = workflow(v2)
    expect(a.meta).toEqual({ ...b.meta, version: 'v1' })
    const withoutPaths = (w: WorkflowResource) => ({ ...w.workflow, dag: w.workflow.dag.map(({ path: _p, ...step }) => step) })
    expect(withoutPaths(a)).toEqual(withoutPaths(b))
    expect(a.workflow.dag.map((s) => s.path)).toEqual([
      ['workflow', 'dag', 0],
      ['workflow', 'dag', 1],
    ])
    expect(b.workflow.dag.map((s) => s.path)).toEqual([
      ['spec', 'dag', 0],
      ['spec', 'dag', 1],
    ])
    expect(b.workflow).toEqual({
      title: 'Daily',
      schedule: { crons: ['0 3 * * *'], timezone: 'UTC', concurrencyPolicy: 'Allow' },
      dag: [
        {
          name: 'extract',
          depends: [],
          retry: { count: 1, strategy: 'OnFailure' },
          timeoutSeconds: 600,
          path: ['spec', 'dag', 0],
          spec: {
            stack: { name: 'container', version: '1.0' },
            stackSpec: { image: 'x' },
            compute: 'runnable-default',
            envs: { A: '1', B: 'yes' },
            volumes: [{ id: 'shared', directory: '/data', readOnly: true }],
            projection: { secrets: [], envVars: [], files: [], arguments: [], allKeysAsEnv: [] },
          },
        },
        {
          name: 'load',
          depends: ['extract'],
          path: ['spec', 'dag', 1],
          spec: {
            stack: { name: 'container' },
            stackSpec: { image: 'y' },
            compute: 'gpu-pool',
            envs: {},
            logLevel: 'DEBUG',
            resources: { limits: { cpu: '2' } },
            volumes: [],
            projection: { secrets: [], envVars: [], files: [], arguments: [], allKeysAsEnv: [] },
          },
        },
      ],
    })
    expect(b.meta).toEqual({ name: 'daily', version: 'v2alpha', type: 'workflow', description: 'Daily load', tags: [], layer: 'user' })
  })

  it('merges the workflow-level projection before the step one', () => {
    const w = workflow(workflowV2)
    expect(w.workflow.parallelism).toBe(2)
    expect(w.workflow.schedule).toEqual({ crons: ['*/30 * * * *'], timezone: 'Europe/Berlin', concurrencyPolicy: 'Forbid', endOn: '2030-12-31T23:59:59Z' })
    const [extract, validate] = w.workflow.dag
    expect(extract!.retry).toEqual({ count: 2, strategy: 'OnError', duration: '10s', factor: 2 })
    expect(extract!.timeoutSeconds).toBe(5400)
    expect(validate!.timeoutSeconds).toBe(600)
    expect(extract!.spec.projection).toEqual({
      secrets: [
        { id: 'workflow-secret', contextAlias: 'app' },
        { id: 'db-secret', contextAlias: 'db' },
      ],
      envVars: [
        { key: 'RUN_ID', value: '{{.defaultProjections.dataOsRunId}}' },
        { key: 'DB_URL', value: 'postgresql://{{.secrets.db.username}}@{{.secrets.db.host}}/app' },
      ],
      files: [{ name: 'token.txt', value: '{{.secrets.app.API_TOKEN}}' }],
      arguments: ['--run={{.defaultProjections.dataOsRunId}}'],
      allKeysAsEnv: [],
    })
    expect(validate!.spec.projection).toEqual({
      secrets: [{ id: 'workflow-secret', contextAlias: 'app' }],
      envVars: [{ key: 'RUN_ID', value: '{{.defaultProjections.dataOsRunId}}' }],
      files: [],
      arguments: [],
      allKeysAsEnv: [],
    })
  })

  it('a step entry replaces a workflow-level entry with the same key in place', () => {
    const text = workflowV2.replace('- key: DB_URL', `- key: RUN_ID\n${' '.repeat(18)}value: step-run\n${' '.repeat(16)}- key: DB_URL`)
    const [extract] = workflow(text).workflow.dag
    expect(extract!.spec.projection.envVars.map((e) => [e.key, e.value])).toEqual([
      ['RUN_ID', 'step-run'],
      ['DB_URL', 'postgresql://{{.secrets.db.username}}@{{.secrets.db.host}}/app'],
    ])
  })

  it('expresses v1 secrets and dataosSecrets as projections', () => {
    const text = yaml`
      version: v1
      name: secrets
      type: workflow
      workflow:
        dag:
          - name: a
            spec:
              stack: container
              stackSpec: {image: x}
              secrets: [app-env]
              dataosSecrets:
                - name: db
                  workspace: shared
                  keys: [username, password]
                - name: api
                  key: TOKEN
                - name: everything
                  allKeys: true
                - name: props
                  keys: [host, port]
                  consumptionType: propFile
      `
    const [a] = workflow(text).workflow.dag
    expect(a!.spec.projection).toEqual({
      secrets: [
        { id: 'app-env', contextAlias: 'app-env' },
        { id: 'db', contextAlias: 'db', workspace: 'shared' },
        { id: 'api', contextAlias: 'api' },
        { id: 'everything', contextAlias: 'everything' },
        { id: 'props', contextAlias: 'props' },
      ],
      envVars: [
        { key: 'username', value: '{{.secrets.db.username}}' },
        { key: 'password', value: '{{.secrets.db.password}}' },
        { key: 'TOKEN', value: '{{.secrets.api.TOKEN}}' },
      ],
      files: [{ name: 'props.properties', value: 'host={{.secrets.props.host}}\nport={{.secrets.props.port}}\n' }],
      arguments: [],
      allKeysAsEnv: ['app-env', 'everything'],
    })
  })

  it('refuses allKeys written to a properties file', () => {
    const text = yaml`
      version: v1
      name: secrets
      type: workflow
      workflow:
        dag:
          - name: a
            spec:
              stack: container
              stackSpec: {image: x}
              dataosSecrets:
                - name: props
                  allKeys: true
                  consumptionType: propFile
      `
    const result = lintSources([{ file: 's.yaml', text }], testContext(), { interpolate: false, env: {} })
    expect(result.documents).toEqual([])
    expect(result.issues.map(formatIssue)).toEqual([
      's.yaml:11:13  secret "props": consumptionType propFile needs the keys listed with key or keys (allKeys cannot be written to a file) (workflow.dag[0].spec.dataosSecrets[0])',
    ])
  })

  it('parses stack references', () => {
    expect(parseStackRef('container')).toEqual({ name: 'container' })
    expect(parseStackRef('flare:6.0')).toEqual({ name: 'flare', version: '6.0' })
  })

  it('reads step timeouts with the one duration grammar, in whole seconds (fractions round up)', () => {
    const timeouts = ['30s', '10m', '1h30m', '1.5s', '500ms', '2d', 'PT1H'].map((t) => {
      const wf = workflow(yaml`
        version: v2alpha
        name: t
        type: workflow
        spec:
          dag:
            - name: a
              timeout: ${t}
              spec: {stack: container, stackSpec: {image: x}}
      `)
      return wf.workflow.dag[0]!.timeoutSeconds
    })
    expect(timeouts).toEqual([30, 600, 5400, 2, 1, 172_800, 3600])
  })
})

describe('other resources', () => {
  it('normalizes secrets, volumes, computes and stacks', () => {
    const [s, v, c, st] = resources([secret, volume, compute, stack].join('---\n'))
    expect(s).toEqual({
      meta: { name: 'db-secret', version: 'v1', type: 'secret', tags: [], layer: 'user' },
      secret: { type: 'key-value-properties', acl: 'rw', data: { username: 'app', password: 's3cret' }, files: { 'ca.crt': '/etc/ssl/ca.crt' } },
    })
    expect(v).toEqual({
      meta: { name: 'shared', version: 'v1beta', type: 'volume', tags: [], layer: 'user' },
      volume: { size: '1Gi', accessMode: 'ReadWriteMany', type: 'temp', storageClass: 'standard' },
    })
    expect(c).toEqual({
      meta: { name: 'gpu-pool', version: 'v1beta', type: 'compute', tags: [], layer: 'user' },
      compute: { purpose: 'gpu', nodeSelector: { pool: 'gpu' }, tolerations: [{ key: 'gpu', operator: 'Exists', effect: 'NoSchedule' }] },
    })
    expect(st!.meta).toEqual({ name: 'shell-v1', version: 'v1alpha', type: 'stack', tags: [], layer: 'user' })
    expect((st as { stack: { name: string; version: string; image: string } }).stack).toMatchObject({ name: 'shell', version: '1.0', image: 'docker.io/library/alpine:3.20' })
  })

  it('defaults a secret acl to r and empty data and files', () => {
    const [s] = resources('version: v1\nname: s\ntype: secret\nsecret: {type: key-value}\n')
    expect(s).toMatchObject({ secret: { type: 'key-value', acl: 'r', data: {}, files: {} } })
  })
})

describe('network', () => {
  it('a step takes its own network, else the workflow\'s; neither leaves it out', () => {
    const wf = workflow(yaml`
      version: v2alpha
      name: isolated
      type: workflow
      spec:
        network: none
        dag:
          - name: inherits
            spec: {stack: container, stackSpec: {image: x}}
          - name: opts-out
            spec: {stack: container, network: default, stackSpec: {image: x}}
    `)
    expect(wf.workflow.dag.map((s) => s.spec.network)).toEqual(['none', 'default'])
    const plain = workflow(yaml`
      version: v2alpha
      name: plain
      type: workflow
      spec:
        dag:
          - name: a
            spec: {stack: container, stackSpec: {image: x}}
          - name: b
            spec: {stack: container, network: none, stackSpec: {image: x}}
    `)
    expect('network' in plain.workflow.dag[0]!.spec).toBe(false)
    expect(plain.workflow.dag[1]!.spec.network).toBe('none')
  })

  it('v1 says it on the step and under workflow:', () => {
    const wf = workflow(yaml`
      version: v1
      name: isolated
      type: workflow
      workflow:
        network: none
        dag:
          - name: a
            spec: {stack: container, stackSpec: {image: x}}
          - name: b
            spec: {stack: container, network: default, stackSpec: {image: x}}
    `)
    expect(wf.workflow.dag.map((s) => s.spec.network)).toEqual(['none', 'default'])
  })

  it('any other value is a located schema error', () => {
    const result = lintSources([{ file: 'n.yaml', text: yaml`
      version: v2alpha
      name: bad
      type: workflow
      spec:
        dag:
          - name: a
            spec: {stack: container, network: host, stackSpec: {image: x}}
    ` }], testContext(), { interpolate: false, env: {} })
    const issues = result.issues.map(formatIssue)
    expect(issues).toHaveLength(1)
    expect(issues[0]).toMatch(/^n\.yaml:7:\d+ .*spec\.dag\[0\]\.spec\.network/)
    expect(issues[0]).toMatch(/default, none|"default", "none"/)
  })
})
