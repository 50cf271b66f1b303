// Every count, size and duration a manifest controls has an upper bound, refused at lint with a located issue.
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { formatIssue } from '../../src/errors.js'
import { lintSources, lintValue, MANIFEST_LIMITS, schemaFor } from '../../src/manifest/index.js'
import { testContext, yaml } from './helpers.js'
import { stack, workflowV2 } from './manifests.js'

const lint = (text: string, ctx = testContext()) => lintSources([{ file: 'w.yaml', text }], ctx, { interpolate: false, env: {} })
const problems = (text: string) => lint(text).issues.map(formatIssue)
const codes = (value: unknown, ctx = testContext()) => lintValue(value, ctx).issues.map((i) => `${i.code} ${i.path}: ${i.message}`)

/** The v2alpha example as a value, with `edit` applied to it. */
function v2(edit: (wf: { spec: Record<string, unknown> & { dag: Record<string, unknown>[] } }) => void): unknown {
  const value = parse(workflowV2) as { spec: Record<string, unknown> & { dag: Record<string, unknown>[] } }
  edit(value)
  return value
}
const step0 = (wf: { spec: { dag: Record<string, unknown>[] } }) => wf.spec.dag[0] as Record<string, unknown> & { spec: Record<string, unknown> }

describe('durations in manifests', () => {
  it('refuses a timeout past 7 days where it is written (no timer overflow at run time)', () => {
    expect(problems(workflowV2.replace('timeout: 1h30m', 'timeout: 999999h'))).toEqual([
      'w.yaml:28:7  timeout "999999h" is too long: at most 7d is allowed (spec.dag[0].timeout)',
    ])
    expect(problems(workflowV2.replace('timeout: 1h30m', 'timeout: 7d'))).toEqual([])
    expect(problems(workflowV2.replace('timeout: 1h30m', 'timeout: 99999999999999d'))[0]).toMatch(/too long/)
    expect(lint(workflowV2.replace('timeout: 1h30m', 'timeout: 8d')).issues[0]?.code).toBe('E_LIMIT')
  })

  it('refuses garbage between parts, which the old parser skipped', () => {
    const issues = lint(workflowV2.replace('timeout: 1h30m', "timeout: '1h and 30m'")).issues
    expect(issues.map((i) => [i.code, i.path])).toEqual([['E_DURATION', 'spec.dag[0].timeout']])
  })

  it('bounds the retry backoff and the time spent retrying', () => {
    expect(codes(v2((wf) => (step0(wf)['retry'] = { count: 1, duration: '2d' })))).toEqual([
      'E_LIMIT spec.dag[0].retry.duration: retry.duration "2d" is too long: at most 24h is allowed',
    ])
    expect(codes(v2((wf) => (step0(wf)['retry'] = { count: 1, maxDuration: '8d' })))).toEqual([
      'E_LIMIT spec.dag[0].retry.maxDuration: retry.maxDuration "8d" is too long: at most 7d is allowed',
    ])
    expect(codes(v2((wf) => (step0(wf)['retry'] = { count: 1, duration: '0s', maxDuration: '1w' })))).toEqual([])
  })
})

describe('counts and numbers', () => {
  it('bounds retry count and factor, parallelism, runAsUser, activeDeadlineSeconds and cron entries (schema)', () => {
    const value = v2((wf) => {
      step0(wf)['retry'] = { count: MANIFEST_LIMITS.retryCount + 1, factor: 11 }
      step0(wf)['activeDeadlineSeconds'] = 604_801
      step0(wf).spec['runAsUser'] = 2 ** 31
      wf.spec['parallelism'] = MANIFEST_LIMITS.parallelism + 1
      wf.spec['schedule'] = { crons: Array.from({ length: MANIFEST_LIMITS.cronsPerWorkflow + 1 }, () => '0 * * * *') }
    })
    expect(codes(value).sort()).toEqual([
      'E_SCHEMA spec.dag[0].activeDeadlineSeconds: must be at most 604800',
      'E_SCHEMA spec.dag[0].retry.count: must be at most 100',
      'E_SCHEMA spec.dag[0].retry.factor: must be at most 10',
      'E_SCHEMA spec.dag[0].spec.runAsUser: must be at most 2147483647',
      'E_SCHEMA spec.parallelism: must be at most 1000',
      'E_SCHEMA spec.schedule.crons: must have at most 100 items',
    ])
  })

  it('the published schemas carry the very numbers of MANIFEST_LIMITS', () => {
    for (const version of ['v1', 'v2alpha']) {
      const text = JSON.stringify(schemaFor('workflow', version))
      expect(text).toContain(`"runAsUser":{"type":"integer","minimum":0,"maximum":${MANIFEST_LIMITS.runAsUser}}`)
      expect(text).toContain(`"count":{"type":"integer","minimum":0,"maximum":${MANIFEST_LIMITS.retryCount}}`)
      expect(text).toContain(`"factor":{"type":"number","exclusiveMinimum":0,"maximum":${MANIFEST_LIMITS.retryFactor}}`)
      expect(text).toContain(`"activeDeadlineSeconds":{"type":"integer","minimum":1,"maximum":${MANIFEST_LIMITS.stepTimeoutMs / 1000}}`)
    }
    const v2text = JSON.stringify(schemaFor('workflow', 'v2alpha'))
    expect(v2text).toContain(`"parallelism":{"type":"integer","minimum":1,"maximum":${MANIFEST_LIMITS.parallelism}}`)
    expect(v2text).toContain(`"maxItems":${MANIFEST_LIMITS.cronsPerWorkflow}`)
  })

  it('bounds the steps of one workflow: 5,000 by default, or what the server sets', () => {
    const many = (n: number) => ({
      name: 'big', version: 'v2alpha', type: 'workflow',
      spec: { dag: Array.from({ length: n }, (_, i) => ({ name: `s${i}`, spec: { stack: 'echo', stackSpec: {} } })) },
    })
    expect(codes(many(MANIFEST_LIMITS.stepsPerWorkflow + 1))).toEqual([
      'E_LIMIT spec.dag: the workflow has 5001 steps; at most 5000 are allowed in one workflow',
    ])
    const ctx = { ...testContext(), limits: { maxStepsPerWorkflow: 3 } }
    expect(codes(many(3), ctx)).toEqual([])
    expect(codes(many(4), ctx)).toEqual(['E_LIMIT spec.dag: the workflow has 4 steps; at most 3 are allowed in one workflow'])
  })
})

describe('strings', () => {
  it('refuses a NUL byte in any value or key, located', () => {
    const text = workflowV2.replace('logLevel: INFO', 'logLevel: "IN\\0FO"')
    expect(problems(text)).toEqual(['w.yaml:36:9  the value contains a NUL byte (spec.dag[0].spec.logLevel)'])
    expect(codes(v2((wf) => (step0(wf).spec['stackSpec'] = { image: 'x', ['com\0mand']: [] })))).toEqual([
      'E_SCHEMA spec.dag[0].spec.stackSpec.com\0mand: the key "com\\u0000mand" contains a NUL byte',
    ])
  })

  it('refuses a string longer than 1 MiB', () => {
    const long = 'x'.repeat(MANIFEST_LIMITS.stringLength + 1)
    expect(codes(v2((wf) => (wf.spec['title'] = long)))).toEqual([
      `E_LIMIT spec.title: the value is ${long.length} characters long; at most ${MANIFEST_LIMITS.stringLength} are allowed`,
    ])
  })
})

describe('environment variable names', () => {
  it('are POSIX names, and never PATH or CTL_*, in envs, projections and stacks', () => {
    const value = v2((wf) => {
      step0(wf).spec['envs'] = { OK_1: 'a', 'my.var': 'b', '1X': 'c', PATH: '/tmp', CTL_SERVER: 'http://evil' }
      const projection = (wf.spec['use'] as { projection: { projections: { envVars: { key: string; value: string }[] } } }).projection
      projection.projections.envVars.push({ key: 'CTL_RUN_ID', value: 'x' })
      // The step's own key, projected from a secret: the one CTL_* the control plane never sets.
      projection.projections.envVars.push({ key: 'CTL_APIKEY', value: 'x' })
    })
    expect(codes(value)).toEqual([
      'E_SCHEMA spec.use.projection.projections.envVars[1].key: environment variable "CTL_RUN_ID" is set by the control plane and cannot be set by a manifest (PATH and CTL_* other than CTL_APIKEY are reserved)',
      'E_SCHEMA spec.dag[0].spec.envs["my.var"]: "my.var" is not an environment variable name (letters, digits and _, not starting with a digit)',
      'E_SCHEMA spec.dag[0].spec.envs.1X: "1X" is not an environment variable name (letters, digits and _, not starting with a digit)',
      'E_SCHEMA spec.dag[0].spec.envs.PATH: environment variable "PATH" is set by the control plane and cannot be set by a manifest (PATH and CTL_* other than CTL_APIKEY are reserved)',
      'E_SCHEMA spec.dag[0].spec.envs.CTL_SERVER: environment variable "CTL_SERVER" is set by the control plane and cannot be set by a manifest (PATH and CTL_* other than CTL_APIKEY are reserved)',
    ])
  })

  it('applies to v1 envs and dataosSecrets keys, and to a stack manifest', () => {
    const v1 = yaml`
      version: v1
      name: daily
      type: workflow
      workflow:
        dag:
          - name: a
            spec:
              stack: container
              stackSpec: {image: x}
              envs: {CTL_HOME: /x}
              dataosSecrets:
                - {name: db, keys: [user, PATH]}
    `
    expect(problems(v1)).toEqual([
      'w.yaml:10:16  environment variable "CTL_HOME" is set by the control plane and cannot be set by a manifest (PATH and CTL_* other than CTL_APIKEY are reserved) (workflow.dag[0].spec.envs.CTL_HOME)',
      'w.yaml:12:37  environment variable "PATH" is set by the control plane and cannot be set by a manifest (PATH and CTL_* other than CTL_APIKEY are reserved) (workflow.dag[0].spec.dataosSecrets[0].keys[1])',
    ])
    expect(problems(stack.replace('environmentVars: {LANG: C.UTF-8}', 'environmentVars: {LANG: C.UTF-8, PATH: /evil}'))).toEqual([
      'w.yaml:11:36  environment variable "PATH" is set by the control plane and cannot be set by a manifest (PATH and CTL_* other than CTL_APIKEY are reserved) (stack.environmentVars.PATH)',
    ])
  })
})
