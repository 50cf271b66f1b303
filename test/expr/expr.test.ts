// CEL for workflows: what lint sees (names, types, located problems) and what a run evaluates (plain JS, E_EXPR).
import { describe, expect, it } from 'vitest'
import { checkExpression, evaluateCondition, evaluateItems, type ExprScope, type ExprVars } from '../../src/expr/index.js'
import type { ParamSpec } from '../../src/manifest/model.js'

const params: ParamSpec[] = [
  { name: 'environment', type: 'string', required: false, default: 'staging', enum: ['staging', 'production'] },
  { name: 'replicas', type: 'integer', required: false, default: 2 },
  { name: 'ratio', type: 'number', required: false, default: 0.5 },
  { name: 'dryRun', type: 'boolean', required: false, default: false },
  { name: 'regions', type: 'array', required: false, default: ['eu', 'us'] },
]
const scope: ExprScope = { params, steps: ['build', 'shard'], allSteps: ['build', 'shard', 'test', 'deploy'], fannedOut: ['shard'] }
const check = (source: string, expect: 'bool' | 'list' = 'bool', s: ExprScope = scope) => checkExpression(source, s, expect)

const vars: ExprVars = {
  params: { environment: 'production', replicas: 3, ratio: 2, dryRun: false, regions: ['eu', 'us'] },
  paramTypes: { environment: 'string', replicas: 'integer', ratio: 'number', dryRun: 'boolean', regions: 'array' },
  steps: {
    build: { outputs: { artifact: 'app-1.2.3.tar', files: '["a.csv","b.csv","c.csv"]', empty: '', lines: 'x\ny' }, state: 'succeeded' },
    shard: { outputs: [{ n: '1' }, { n: '2' }], state: 'succeeded' },
  },
  workflow: { name: 'wf', workspace: 'public', runId: 'r-1', trigger: 'manual' },
}

describe('checkExpression', () => {
  it('accepts the issue example and common CEL', () => {
    for (const ok of [
      "params.environment == 'production' && steps.build.outputs.artifact != ''",
      "steps.build.state == 'succeeded' || !params.dryRun",
      'params.replicas > 1 ? true : false',
      "'eu' in params.regions",
      "size(params.regions) > 0 && params.environment.startsWith('prod')",
      'has(steps.build.outputs.artifact)',
      "steps.shard.outputs.all(o, o.n != '')",
      'size(steps.shard.outputs) == 3',
      "workflow.trigger == 'schedule' || workflow.runId != ''",
      "params.ratio * 2.0 > 1.0 && type(params.replicas) == int",
      "'a\\'b\\n' != steps.build.outputs['artifact']",
    ]) {
      expect([ok, check(ok)]).toEqual([ok, []])
    }
    for (const ok of ['steps.build.outputs.files', 'params.regions', '["a", "b"]', "steps.build.outputs.lines.split('\\n')", 'steps.shard.outputs.map(o, o.n)']) {
      expect([ok, check(ok, 'list')]).toEqual([ok, []])
    }
  })

  it('syntax errors carry their offset', () => {
    expect(check("params.environment == 'production")).toEqual([{ message: expect.stringMatching(/^syntax error/), offset: expect.any(Number) }])
    expect(check('params.replicas >')).toEqual([{ message: expect.stringMatching(/^syntax error/), offset: expect.any(Number) }])
    expect(check('   ')).toEqual([{ message: 'the expression is empty' }])
  })

  it('unknown params, with did-you-mean, at the name', () => {
    expect(check("params.enviroment == 'production'")).toEqual([
      { message: 'unknown param "enviroment"; did you mean "environment"? (declared: environment, replicas, ratio, dryRun, regions)', offset: 7 },
    ])
  })

  it('steps: not an ancestor, unknown, only outputs and state', () => {
    expect(check("steps.test.outputs.x == ''")).toEqual([
      {
        message: 'step "test" is not an ancestor of this step: only steps it depends on (directly or through others) have finished when it runs; add it to depends (its ancestors: build, shard)',
        offset: 6,
      },
    ])
    expect(check("steps.biuld.state == ''")).toEqual([{ message: 'unknown step "biuld"; did you mean "build"? (its ancestors: build, shard)', offset: 6 }])
    expect(check("steps.build.output.x == ''")).toEqual([{ message: '"steps.build.output": a step has only "outputs" and "state"', offset: 12 }])
  })

  it('unknown variables and fan-out variables in when / items', () => {
    expect(check("parms.x == ''")).toEqual([{ message: 'unknown variable "parms"; did you mean "params"? Variables: params, steps, workflow', offset: 0 }])
    expect(check("item == 'a'", 'bool', { ...scope, fanout: 'forEach' })).toEqual([
      { message: '"item" is not available to `when`, which is evaluated once, before the step fans out; it exists only in the step\'s templates ({{.item}})', offset: 0 },
    ])
    expect(check('[matrix.os]', 'list')[0]!.message).toMatch(/^"matrix" is not available to `forEach.items`/)
    expect(check("workflow.user == ''")).toEqual([{ message: 'unknown field "workflow.user" (workflow has name, workspace, runId, trigger, status, scheduledTime)', offset: 9 }])
  })

  it('refuses a macro inside the body of another (quadratic cost on the one thread), not a chain of them', () => {
    const nested = check('params.regions.all(r, params.regions.exists(q, q == r))')
    expect(nested).toHaveLength(1)
    expect(nested[0]!.message).toMatch(/^a macro \(map, filter, all, exists, exists_one\) inside the body of another is not allowed/)
    expect(check("params.regions.filter(r, r != 'eu').map(r, r + '-1').size() > 0")).toEqual([])
    expect(check("params.regions.exists(r, r == 'eu')")).toEqual([])
  })

  it('type errors that the declarations make sure', () => {
    expect(check("params.replicas == '3'")).toEqual([{ message: 'comparing an integer with a string is always false', offset: 16 }])
    expect(check("params.environment && true")).toEqual([{ message: '"&&" needs bools; this operand is a string', offset: 6 }])
    expect(check('!params.regions')).toEqual([{ message: '"!" needs bools; this operand is a list', offset: 7 }])
    expect(check('params.replicas + params.ratio > 1.0')).toEqual([
      { message: '"+" cannot combine an integer with a number (CEL does not mix integers and numbers: convert one with int() or double())', offset: 16 },
    ])
    expect(check('params.environment')).toEqual([{ message: 'a condition must be a bool; this expression is a string', offset: 0 }])
    expect(check('params.replicas', 'list')).toEqual([{ message: 'forEach.items must yield a list (or a string holding a JSON list); this expression is an integer', offset: 0 }])
    expect(check('steps.build.outputs', 'list')[0]!.message).toMatch(/this expression is a map$/)
    expect(check('size(params.replicas) > 0')).toEqual([{ message: 'size() needs a string, list or map; this is an integer', offset: 0 }])
    expect(check('nope(1)')).toEqual([{ message: 'unknown function "nope"', offset: 0 }])
  })
})

describe('evaluateCondition', () => {
  it('evaluates over params, outputs, state and workflow', () => {
    expect(evaluateCondition("params.environment == 'production' && steps.build.outputs.artifact != ''", vars)).toBe(true)
    expect(evaluateCondition("params.environment == 'staging'", vars)).toBe(false)
    expect(evaluateCondition('params.replicas + 1 == 4 && params.ratio * 1.5 == 3.0', vars)).toBe(true)
    expect(evaluateCondition("'us' in params.regions && size(params.regions) == 2", vars)).toBe(true)
    expect(evaluateCondition('has(steps.build.outputs.missing)', vars)).toBe(false)
    expect(evaluateCondition("steps.build.outputs.empty == '' ? workflow.trigger == 'manual' : false", vars)).toBe(true)
    expect(evaluateCondition("size(steps.shard.outputs) == 2 && steps.shard.outputs[1].n == '2'", vars)).toBe(true)
    expect(evaluateCondition("'a\\tb'.size() == 3 && \"q\\\"\" == 'q\"'", vars)).toBe(true)
  })

  it('a runtime error or a non-bool is E_EXPR quoting the expression', () => {
    expect(() => evaluateCondition("steps.build.outputs.missing == 'x'", vars)).toThrow(
      expect.objectContaining({ code: 'E_EXPR', message: expect.stringContaining('expression "steps.build.outputs.missing == \'x\'" failed: ') }),
    )
    expect(() => evaluateCondition('params.environment', vars)).toThrow(
      expect.objectContaining({ code: 'E_EXPR', message: 'condition "params.environment" yielded a string, not a bool' }),
    )
    expect(() => evaluateCondition('params.environment ==', vars)).toThrow(expect.objectContaining({ code: 'E_EXPR' }))
  })
})

describe('evaluateItems', () => {
  it('a JSON-list output, a param, a literal, a CEL list, as plain JS', () => {
    expect(evaluateItems('steps.build.outputs.files', vars)).toEqual(['a.csv', 'b.csv', 'c.csv'])
    expect(evaluateItems('params.regions', vars)).toEqual(['eu', 'us'])
    expect(evaluateItems("[1, 'a', {'k': [true, 2.5]}]", vars)).toEqual([1, 'a', { k: [true, 2.5] }])
    expect(evaluateItems("steps.build.outputs.lines.split('\\n')", vars)).toEqual(['x', 'y'])
    expect(evaluateItems('params.regions.filter(r, r != "eu")', vars)).toEqual(['us'])
    expect(evaluateItems('[9223372036854775807]', vars)).toEqual(['9223372036854775807'])
  })

  it('anything but a list is E_EXPR', () => {
    expect(() => evaluateItems('steps.build.outputs.artifact', vars)).toThrow(
      expect.objectContaining({ code: 'E_EXPR', message: 'items "steps.build.outputs.artifact" yielded a string that is not a JSON list: "app-1.2.3.tar"' }),
    )
    expect(() => evaluateItems('params.replicas', vars)).toThrow(expect.objectContaining({ code: 'E_EXPR', message: 'items "params.replicas" yielded a number, not a list' }))
  })
})

describe('hostile expressions', () => {
  it('checkExpression never throws; evaluation fails only with E_EXPR', async () => {
    const fc = (await import('fast-check')).default
    const deep = '('.repeat(2000) + '1' + ')'.repeat(2000)
    for (const source of [deep, '!'.repeat(4000) + 'true', '['.repeat(2000), 'x'.repeat(5000), "'\\", '{'.repeat(1000) + '}'.repeat(1000)]) {
      expect(Array.isArray(check(source))).toBe(true)
      try {
        evaluateCondition(source, vars)
      } catch (err) {
        expect((err as { code?: string }).code).toBe('E_EXPR')
      }
    }
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[a-z.()[\]'"!&|=<>?:0-9 ,{}]{0,40}$/)), (source) => {
        expect(Array.isArray(check(source, 'list'))).toBe(true)
        try {
          evaluateItems(source, vars)
        } catch (err) {
          expect((err as { code?: string }).code).toBe('E_EXPR')
        }
      }),
      { numRuns: 500 },
    )
  })
})
