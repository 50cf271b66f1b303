// Issue 11's manifest language: params, when, forEach and matrix in both workflow versions, normalized into
// the model, and every lint error of the issue located at file, line and column.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { offlineManifestContext } from '../../src/cli/offline.js'
import { formatIssue } from '../../src/errors.js'
import { lintSources } from '../../src/manifest/index.js'
import type { WorkflowResource } from '../../src/manifest/model.js'

const ctx = offlineManifestContext()
const repoRoot = join(import.meta.dirname, '..', '..')
const lintText = (text: string, file = 'w.yaml') => lintSources([{ file, text }], ctx, { interpolate: false, env: {} })
const problems = (text: string) => lintText(text).issues.map(formatIssue)
const workflowOf = (text: string) => {
  const r = lintText(text)
  expect(r.issues.map(formatIssue)).toEqual([])
  return (r.documents[0]!.resource as WorkflowResource).workflow
}

describe('the issue example', () => {
  const text = readFileSync(join(repoRoot, 'examples', 'data-flow.yaml'), 'utf8')

  it('lints clean and normalizes into the model types', () => {
    const wf = workflowOf(text)
    expect(wf.params).toEqual([
      { name: 'environment', type: 'string', required: false, enum: ['staging', 'production'], default: 'staging', description: 'Where to deploy' },
      { name: 'version', type: 'string', required: true },
      { name: 'regions', type: 'array', required: false, default: ['eu', 'us'] },
    ])
    const [build, shard, test, deploy] = wf.dag
    expect(build!.when ?? build!.forEach ?? build!.matrix).toBeUndefined()
    expect(shard!.forEach).toEqual({ items: 'steps.build.outputs.files', parallelism: 2 })
    expect(test!.matrix).toEqual({
      axes: { os: ['debian', 'alpine'], py: ['3.11', '3.12'] },
      exclude: [{ os: 'alpine', py: '3.11' }],
      include: [{ os: 'debian', py: '3.13' }],
      failFast: true,
      parallelism: 2,
    })
    expect(deploy!.when).toBe("params.environment == 'production' && steps.build.outputs.artifact != ''")
  })

  it('v1 takes the same under workflow:', () => {
    const v1 = [
      'version: v1', 'name: flow-v1', 'type: workflow', 'workflow:',
      '  params:', '    - {name: n, type: integer, default: 3}',
      '  dag:',
      '    - name: a', '      forEach: {items: [1, 2]}', '      spec: {stack: script, stackSpec: {script: "echo {{.item}}"}}',
      '    - name: b', '      dependencies: [a]', '      when: "params.n > 2"', '      matrix: {axes: {x: [1, 2]}}',
      '      spec: {stack: script, stackSpec: {script: "echo {{.matrix.x}}"}}',
    ].join('\n')
    const wf = workflowOf(v1)
    expect(wf.params).toEqual([{ name: 'n', type: 'integer', required: false, default: 3 }])
    expect(wf.dag[0]!.forEach).toEqual({ items: [1, 2] })
    expect(wf.dag[1]!.when).toBe('params.n > 2')
    expect(wf.dag[1]!.matrix).toEqual({ axes: { x: [1, 2] }, include: [], exclude: [], failFast: false })
  })

  it('a workflow without the new fields has none of them in its model', () => {
    const wf = workflowOf(readFileSync(join(repoRoot, 'examples', 'script-inventory.yaml'), 'utf8'))
    expect('params' in wf).toBe(false)
    for (const step of wf.dag) for (const key of ['when', 'forEach', 'matrix']) expect(key in step).toBe(false)
  })
})

/** A v2alpha workflow with two params and a `build` step (lines 1–10); `dag` continues at line 11. */
const base = (dag: string, params = '') => `version: v2alpha
name: flow
type: workflow
spec:
  params:
    - {name: environment, type: string, enum: [staging, production], default: staging}
    - {name: count, type: integer, default: 3}
${params}  dag:
    - name: build
      spec: {stack: script, stackSpec: {script: "echo hi"}}
${dag}`

describe('lint: the run\'s values in templates', () => {
  it('accepts params, ancestors\' outputs, item, index, item fields and matrix keys where they exist', () => {
    const text = base(`    - name: fan
      depends: [build]
      forEach: {items: [{name: a}, {name: b}]}
      spec:
        stack: script
        stackSpec: {script: "echo {{.item.name}} {{.index}} {{.params.count}} {{.steps.build.outputs.k}}"}
        envs: {ENV: "{{.params.environment}}"}
        use: {projection: {projections: {envVars: [{key: X, value: "{{.item}}"}], arguments: ["{{.steps.build.outputs.k}}"]}}}
    - name: grid
      depends: [fan]
      matrix: {axes: {os: [debian]}, include: [{os: debian, libc: glibc}]}
      spec: {stack: script, stackSpec: {script: "echo {{.matrix.os}} {{.matrix.libc}} {{.steps.build.outputs.k}}"}}
`)
    expect(problems(text)).toEqual([])
  })

  it('a fanned-out ancestor\'s outputs are a list: whole in a template, picked in CEL', () => {
    expect(problems(base(`    - name: fan
      forEach: {items: [1, 2]}
      spec: {stack: script, stackSpec: {script: "echo {{.item}}"}}
    - name: after
      depends: [fan]
      when: "steps.fan.outputs.k == 'x' && size(steps.fan.outputs) == 2"
      spec: {stack: script, stackSpec: {script: "echo '{{.steps.fan.outputs}}' {{.steps.fan.outputs.k}}"}}
`))).toEqual([
      'w.yaml:16:32  cannot read field "k" of a list (a fanned-out step\'s outputs are a list of its instances\' outputs: outputs[0].k, or outputs.map(o, o.k)) (spec.dag[2].when)',
      'w.yaml:17:41  ".steps.fan.outputs.k": step "fan" fans out, so .steps.fan.outputs is the list of its instances\' outputs; use the whole list (.steps.fan.outputs) or pick in CEL (spec.dag[2].spec.stackSpec.script)',
    ])
  })

  it('a forEach over a secret param is refused: its items would be stored and shown with the run', () => {
    const found = problems(base(`    - name: fan
      depends: [build]
      forEach: {items: "params.keys"}
      spec: {stack: script, stackSpec: {script: "echo {{.index}}"}}
`, '    - {name: keys, type: array, default: [], secret: true}\n'))
    expect(found).toEqual([expect.stringMatching(/^w\.yaml:\d+:\d+  forEach\.items reads params\.keys, which is declared secret: its values would be stored and shown as the instances' items \(spec\.dag\[1\]\.forEach\.items\)$/)])
  })

  it('an unknown param, with did-you-mean, at the value', () => {
    expect(problems(base(`    - name: a
      spec: {stack: script, stackSpec: {script: "echo {{.params.enviroment}}"}}
`))).toEqual(['w.yaml:12:41  unknown param "enviroment"; did you mean "environment"? (declared: environment, count) (spec.dag[1].spec.stackSpec.script)'])
  })

  it('the output of a step that is not an ancestor, and of an unknown step', () => {
    expect(problems(base(`    - name: a
      spec: {stack: script, stackSpec: {script: "echo {{.steps.build.outputs.x}}"}}
    - name: b
      depends: [a]
      spec:
        stack: script
        stackSpec: {script: "echo {{.steps.buidl.outputs.x}}"}
`))).toEqual([
      'w.yaml:12:41  step "build" is not an ancestor of this step, so its outputs do not exist when it runs; add it to depends (it has no ancestors) (spec.dag[1].spec.stackSpec.script)',
      'w.yaml:17:21  unknown step "buidl"; did you mean "build"? (its ancestors: a) (spec.dag[2].spec.stackSpec.script)',
    ])
  })

  it('.item outside forEach, .matrix outside matrix or naming an unknown axis', () => {
    expect(problems(base(`    - name: a
      spec:
        stack: script
        stackSpec:
          script: "echo {{.item}}"
        envs:
          AXIS: "{{.matrix.os}}"
    - name: b
      matrix: {axes: {os: [debian]}}
      spec: {stack: script, stackSpec: {script: "echo {{.matrix.arch}} {{.index}}"}}
`))).toEqual([
      'w.yaml:15:11  ".item" exists only in a forEach step (spec.dag[1].spec.stackSpec.script)',
      'w.yaml:17:11  ".matrix" exists only in a matrix step (spec.dag[1].spec.envs.AXIS)',
      'w.yaml:20:41  unknown matrix axis "arch" (axes: os) (spec.dag[2].spec.stackSpec.script)',
      'w.yaml:20:41  ".index" exists only in a forEach step (this step has a matrix: use .matrix.AXIS) (spec.dag[2].spec.stackSpec.script)',
    ])
  })

  it('a secret in stackSpec is refused (it would be in the Pod spec in clear); in a projection it is fine', () => {
    expect(problems(base(`    - name: a
      spec:
        stack: script
        stackSpec: {script: "echo {{.secrets.app.KEY}}"}
        use:
          projection:
            secrets: [{id: app, contextAlias: app}]
            projections: {envVars: [{key: K, value: "{{.secrets.app.KEY}} {{.item}}"}]}
`))).toEqual([
      'w.yaml:14:21  ".secrets.app.KEY": a secret cannot be used in stackSpec or envs, where it would be written into the Pod spec in clear; project it with use.projection (envVars, files or arguments) (spec.dag[1].spec.stackSpec.script)',
      'w.yaml:18:46  ".item" exists only in a forEach step (spec.dag[1].spec.use.projection.projections.envVars[0].value)',
    ])
  })
})

describe('lint: CEL in when and forEach.items', () => {
  it('an unknown param in when, at the expression\'s column plus its offset', () => {
    expect(problems(base(`    - name: a
      depends: [build]
      when: "params.enviroment == 'production'"
      spec: {stack: script, stackSpec: {script: "echo hi"}}
`))).toEqual(['w.yaml:13:21  unknown param "enviroment"; did you mean "environment"? (declared: environment, count) (spec.dag[1].when)'])
  })

  it('a step that is not an ancestor, in when', () => {
    expect(problems(base(`    - name: a
      when: "steps.build.outputs.x != ''"
      spec: {stack: script, stackSpec: {script: "echo hi"}}
`))).toEqual([
      'w.yaml:12:20  step "build" is not an ancestor of this step: only steps it depends on (directly or through others) have finished when it runs; add it to depends (it has no ancestors) (spec.dag[1].when)',
    ])
  })

  it('syntax and type errors, in when and in items', () => {
    expect(problems(base(`    - name: a
      when: params.count > && true
      forEach: {items: "params.environment == 'x'"}
      spec: {stack: script, stackSpec: {script: "echo {{.item}}"}}
    - name: b
      when: "params.count == 'three' || item == 1"
      spec: {stack: script, stackSpec: {script: "echo hi"}}
`))).toEqual([
      'w.yaml:12:26  syntax error at "> && true": the expression cannot be read from here (an operand missing after an operator, an unclosed quote or bracket?) (spec.dag[1].when)',
      'w.yaml:13:25  forEach.items must yield a list (or a string holding a JSON list); this expression is a bool (spec.dag[1].forEach.items)',
      'w.yaml:16:27  comparing an integer with a string is always false (spec.dag[2].when)',
      'w.yaml:16:41  "item" is not available to `when`, which is evaluated once, before the step fans out; it exists only in the step\'s templates ({{.item}}) (spec.dag[2].when)',
    ])
  })

  it('a block scalar is located at its key', () => {
    expect(problems(base(`    - name: a
      when: >-
        params.nope
      spec: {stack: script, stackSpec: {script: "echo hi"}}
`))).toEqual([
      'w.yaml:12:7  unknown param "nope" (declared: environment, count) (spec.dag[1].when)',
    ])
  })
})

describe('lint: params and fan-out bounds', () => {
  it('a default of the wrong type, and one outside the enum', () => {
    expect(problems(base('', `    - {name: bad, type: integer, default: three}
    - {name: region, type: string, enum: [eu, us], default: ap}
`))).toEqual([
      'w.yaml:8:34  the default of param "bad" must be an integer; it is "three" (spec.params[2].default)',
      'w.yaml:9:52  the default of param "region" is "ap", not one of its enum: "eu", "us" (spec.params[3].default)',
    ])
  })

  it('a matrix over 256 combinations, a literal forEach over 1000 items, forEach and matrix together', () => {
    const seventeen = Array.from({ length: 17 }, (_, i) => i).join(', ')
    const sixteen = Array.from({ length: 16 }, (_, i) => i).join(', ')
    const many = Array.from({ length: 1001 }, (_, i) => i).join(', ')
    expect(problems(base(`    - name: a
      matrix:
        axes: {a: [${seventeen}], b: [${sixteen}]}
      spec: {stack: script, stackSpec: {script: "echo {{.matrix.a}}"}}
    - name: b
      forEach:
        items: [${many}]
      spec: {stack: script, stackSpec: {script: "echo {{.item}}"}}
    - name: c
      forEach: {items: [1]}
      matrix: {axes: {x: [1]}, exclude: [{y: 1}]}
      spec: {stack: script, stackSpec: {script: "echo hi"}}
`))).toEqual([
      'w.yaml:13:9  matrix yields 272 combinations; at most 256 are allowed (after exclude and include) (spec.dag[1].matrix.axes)',
      'w.yaml:17:9  forEach yields 1001 items; at most 1000 are allowed (spec.dag[2].forEach.items)',
      'w.yaml:21:7  step "c" has both forEach and matrix; a step fans out one way: use one of them (spec.dag[3].matrix)',
      'w.yaml:21:43  exclude names "y", which is no axis (axes: x) (spec.dag[3].matrix.exclude[0].y)',
    ])
  })

  it('the same checks in a v1 workflow, under workflow:', () => {
    const v1 = [
      'version: v1', 'name: flow-v1', 'type: workflow', 'workflow:',
      '  params: [{name: n, type: integer, default: 1.5}]',
      '  dag:',
      '    - name: a', '      when: "params.m > 1"', '      spec: {stack: script, stackSpec: {script: "echo {{.item}}"}}',
    ].join('\n')
    expect(problems(v1)).toEqual([
      'w.yaml:5:37  the default of param "n" must be an integer; it is 1.5 (workflow.params[0].default)',
      'w.yaml:8:21  unknown param "m"; did you mean "n"? (declared: n) (workflow.dag[0].when)',
      'w.yaml:9:41  ".item" exists only in a forEach step (workflow.dag[0].spec.stackSpec.script)',
    ])
  })
})

describe('checkValueTemplate (for the engine, before rendering a stackSpec or envs value)', () => {
  it('plain text is no template; a template is checked against the step\'s scope', async () => {
    const { checkValueTemplate } = await import('../../src/projection/check.js')
    const scope = { params: [{ name: 'v', type: 'string' as const, required: true }], steps: ['build'], fanout: 'forEach' as const }
    expect(checkValueTemplate('echo $HOME {not a template}', scope)).toEqual([])
    expect(checkValueTemplate('{{.params.v}} {{.item.file}} {{.index}} {{.steps.build.outputs.k}}', scope)).toEqual([])
    expect(checkValueTemplate('{{.params.v.x}} {{.defaultProjections.runId}} {{.foo}}', scope)).toEqual([
      '".params.v.x": param "v" is a string and has no fields',
      '".defaultProjections.runId": .defaultProjections is available in projections only (use.projection envVars, files or arguments)',
      'unknown reference ".foo"; values can use .params.NAME, .steps.STEP.outputs.KEY, .item, .index and .matrix.AXIS',
    ])
    expect(checkValueTemplate('{{ .params.v ', scope)[0]).toMatch(/^template syntax error/)
  })
})

describe('bounds', () => {
  it('the published schemas carry the numbers of MANIFEST_LIMITS for params and matrix', async () => {
    const { MANIFEST_LIMITS } = await import('../../src/manifest/limits.js')
    for (const file of ['workflow-v2alpha.json', 'workflow-v1.json']) {
      const text = JSON.stringify(JSON.parse(readFileSync(join(repoRoot, 'schemas', file), 'utf8')))
      expect(text).toContain(`"params":{"type":"array","maxItems":${MANIFEST_LIMITS.params},`)
      expect(text).toContain(`"maxProperties":${MANIFEST_LIMITS.matrixAxes},"additionalProperties":{"type":"array","minItems":1,"maxItems":${MANIFEST_LIMITS.matrixAxisValues},`)
      expect(text).toContain(`"include":{"type":"array","maxItems":${MANIFEST_LIMITS.matrixEntries},`)
      expect(text).toContain(`"parallelism":{"type":"integer","minimum":1,"maximum":${MANIFEST_LIMITS.parallelism}}`)
    }
  })

  it('schema errors for the new fields are located', () => {
    expect(problems(base(`    - name: a
      forEach: {items: 3, parallelism: 0}
      matrix: {axes: {os: []}, failFast: maybe}
      spec: {stack: script, stackSpec: {script: "echo hi"}}
`, `    - {name: p, type: text}
`))).toEqual([
      'w.yaml:8:17  must be one of string, integer, number, boolean, array, object (spec.params[2].type)',
      'w.yaml:13:17  must be a list or a string (spec.dag[1].forEach.items)',
      'w.yaml:13:27  must be at least 1 (spec.dag[1].forEach.parallelism)',
      'w.yaml:14:7  step "a" has both forEach and matrix; a step fans out one way: use one of them (spec.dag[1].matrix)',
      'w.yaml:14:23  must have at least 1 item (spec.dag[1].matrix.axes.os)',
      'w.yaml:14:32  must be true or false (spec.dag[1].matrix.failFast)',
    ])
  })
})
