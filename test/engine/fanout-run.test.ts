import { describe, expect, it } from 'vitest'
import { evaluateCondition, evaluateItems } from '../../src/expr/index.js'
import {
  ancestorsOf, decideCondition, dueInstances, expandInstances, failFastVictims, instancesSummary, launchValues, paramsOf, parentStateOf, viewOf,
  type Evaluators, type RunVars,
} from '../../src/engine/fanout-run.js'
import { retryPlan } from '../../src/engine/retry-plan.js'
import type { StepModel } from '../../src/manifest/model.js'
import type { StepRunRecord, StepState } from '../../src/store/types.js'

const cel: Evaluators = { condition: evaluateCondition, items: evaluateItems }
const vars: RunVars = {
  params: { env: 'prod', regions: ['eu', 'us'] },
  steps: { build: { outputs: { files: '["a","b"]' }, state: 'succeeded' } },
  workflow: { name: 'wf', workspace: 'public', runId: 'r-1', trigger: 'manual' },
}
let seq = 0
const row = (step: string, state: StepState, extra: Partial<StepRunRecord> = {}): StepRunRecord => ({
  id: `s-${++seq}`, runId: 'r-1', step, attempt: 1, state, logOffset: 0, logSeq: 0, createdAt: '2024-01-01T00:00:00.000Z', ...extra,
})
const model = (name: string, extra: Partial<StepModel> = {}): StepModel => ({
  name, depends: [], ...extra,
  spec: { stack: { name: 'script' }, stackSpec: {}, compute: 'runnable-default', envs: {}, volumes: [], projection: { secrets: [], envVars: [], files: [], arguments: [], allKeysAsEnv: [] } },
  path: [],
})

describe('fan-out rules', () => {
  it('params: declared defaults, overridden by what the run was given', () => {
    expect(paramsOf([{ name: 'a', type: 'string', required: false, default: 'x' }, { name: 'b', type: 'integer', required: true }], { b: 2 })).toEqual({ a: 'x', b: 2 })
    expect(paramsOf(undefined, undefined)).toEqual({})
  })

  it('conditions: run, skip with the expression, or an error message', () => {
    expect(decideCondition({}, vars, cel)).toEqual({ run: true })
    expect(decideCondition({ when: "params.env == 'prod'" }, vars, cel)).toEqual({ run: true })
    expect(decideCondition({ when: "params.env == 'dev'" }, vars, cel)).toEqual({ run: false, skip: "condition false: params.env == 'dev'" })
    const bad = decideCondition({ when: 'params.nope == 1' }, vars, cel)
    expect('error' in bad && bad.error).toMatch(/^when: /)
  })

  it('expands literal lists, CEL lists, JSON-list outputs and matrices into named instances', () => {
    expect(expandInstances(model('s', { forEach: { items: [{ k: 1 }, 'b'] } }), vars, cel)).toEqual([
      { step: 's-0', values: { index: 0, item: { k: 1 } } },
      { step: 's-1', values: { index: 1, item: 'b' } },
    ])
    expect(expandInstances(model('r', { forEach: { items: 'params.regions' } }), vars, cel).map((i) => i.step)).toEqual(['r-0', 'r-1'])
    expect(expandInstances(model('f', { forEach: { items: 'steps.build.outputs.files' } }), vars, cel).map((i) => i.values)).toEqual([
      { index: 0, item: 'a' },
      { index: 1, item: 'b' },
    ])
    const m = expandInstances(model('t', { matrix: { axes: { os: ['debian', 'alpine'], py: ['3.11'] }, include: [], exclude: [{ os: 'alpine' }], failFast: false } }), vars, cel)
    expect(m).toEqual([{ step: 't-debian-3.11', values: { index: 0, matrix: { os: 'debian', py: '3.11' } } }])
    expect(() => expandInstances(model('x', { forEach: { items: Array.from({ length: 5 }, (_, i) => i) } }), vars, cel, 4)).toThrow(/at most 4/)
  })

  it('a fanned step is running while an instance is not over, then failed > cancelled > succeeded', () => {
    expect(parentStateOf([{ state: 'succeeded' }, { state: 'pending' }])).toBe('running')
    expect(parentStateOf([{ state: 'succeeded' }, { state: 'failed' }, { state: 'cancelled' }])).toBe('failed')
    expect(parentStateOf([{ state: 'succeeded' }, { state: 'cancelled' }])).toBe('cancelled')
    expect(parentStateOf([{ state: 'succeeded' }])).toBe('succeeded')
    expect(instancesSummary([{ state: 'succeeded' }, { state: 'failed' }, { state: 'succeeded' }])).toBe('3 instances: 2 succeeded, 1 failed')
  })

  it('failFast names the pending instances once one failed; without failFast none', () => {
    const rows = [row('t-a', 'failed'), row('t-b', 'pending'), row('t-c', 'running')]
    const ff = { axes: {}, include: [], exclude: [], failFast: true }
    expect(failFastVictims({ matrix: ff }, rows).map((r) => r.step)).toEqual(['t-b'])
    expect(failFastVictims({ matrix: { ...ff, failFast: false } }, rows)).toEqual([])
    expect(failFastVictims({ matrix: ff }, [row('t-b', 'pending')])).toEqual([])
  })

  it('due instances: in order, within the step parallelism, after their backoff', () => {
    const rows = [row('s-0', 'running'), row('s-1', 'pending'), row('s-2', 'pending', { notBefore: '2024-01-01T00:01:00.000Z' }), row('s-3', 'pending'), row('s-4', 'pending')]
    const isRunning = (a: StepRunRecord) => a.state === 'running'
    const now = Date.parse('2024-01-01T00:00:00.000Z')
    expect(dueInstances({ forEach: { items: [], parallelism: 2 } }, rows, isRunning, now).due.map((r) => r.step)).toEqual(['s-1'])
    const all = dueInstances({ forEach: { items: [] } }, rows, isRunning, now)
    expect(all.due.map((r) => r.step)).toEqual(['s-1', 's-3', 's-4'])
    expect(all.wait).toBe(Date.parse('2024-01-01T00:01:00.000Z'))
  })

  it('the view splits steps from instances (in index order); outputs of a fanned step are a list', () => {
    const latest = new Map([
      ['shard', row('shard', 'succeeded')],
      ['shard-1', row('shard-1', 'succeeded', { parent: 'shard', instance: { index: 1, item: 'b' }, outputs: { n: '1' } })],
      ['shard-0', row('shard-0', 'succeeded', { parent: 'shard', instance: { index: 0, item: 'a' }, outputs: { n: '0' } })],
    ])
    const view = viewOf(latest)
    expect([...view.steps.keys()]).toEqual(['shard'])
    expect(view.instances.get('shard')!.map((r) => r.step)).toEqual(['shard-0', 'shard-1'])
    expect(ancestorsOf([model('a'), model('b', { depends: ['a'] }), model('c', { depends: ['b'] })], 'c')).toEqual(new Set(['a', 'b']))
    const v = launchValues({ ...vars, steps: { shard: { outputs: [{ n: '0' }, { n: '1' }], state: 'succeeded' } } }, { index: 3, item: 'x' })
    // .workflow.status reads `Running` until the DAG ended (then how it ended, for the finally steps).
    expect(v).toEqual({ params: vars.params, steps: { shard: { outputs: [{ n: '0' }, { n: '1' }] } }, item: 'x', index: 3, workflow: { name: vars.workflow.name, status: 'Running' } })
    expect(launchValues(vars, { index: 0, matrix: { os: 'debian' } }).matrix).toEqual({ os: 'debian' })
  })
})

describe('retryPlan', () => {
  const dag = [model('build'), model('test', { depends: ['build'], matrix: { axes: { os: ['a', 'b'] }, include: [], exclude: [], failFast: false } }), model('after', { depends: ['test'] })]
  it('keeps the succeeded instances of a step whose inputs are unchanged', () => {
    const latest = new Map([
      ['build', row('build', 'succeeded')],
      ['test', row('test', 'failed')],
      ['test-a', row('test-a', 'succeeded', { parent: 'test', instance: { index: 0, matrix: { os: 'a' } } })],
      ['test-b', row('test-b', 'failed', { parent: 'test', instance: { index: 1, matrix: { os: 'b' } } })],
      ['after', row('after', 'skipped')],
    ])
    const plan = retryPlan(dag, latest, 'r-1')
    expect([...plan.rerun].sort()).toEqual(['after', 'test'])
    expect([...plan.keep.keys()]).toEqual(['build'])
    expect(plan.partial.get('test')!.map((k) => [k.from, k.row.step])).toEqual([['r-1', 'test-a']])
  })
  it('reruns every instance when an input reruns', () => {
    const latest = new Map([
      ['build', row('build', 'failed')],
      ['test', row('test', 'skipped')],
      ['after', row('after', 'skipped')],
    ])
    const plan = retryPlan(dag, latest, 'r-1')
    expect(plan.rerun.size).toBe(3)
    expect(plan.partial.size).toBe(0)
  })
})
