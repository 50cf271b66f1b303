import { Ajv2020 } from 'ajv/dist/2020.js'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { formatIssue } from '../../src/errors.js'
import { lintSources, lintValue, schemaFor, schemaIds } from '../../src/manifest/index.js'
import { schemaDirectory } from '../../src/manifest/schemas.js'
import { testContext, yaml } from './helpers.js'
import { compute, instanceSecret, secret, stack, volume, workflowV2 } from './manifests.js'

const lint = (text: string, file = 'm.yaml') => lintSources([{ file, text }], testContext(), { interpolate: false, env: {} })
const messages = (text: string) => lint(text).issues.map(formatIssue)

describe('schemas', () => {
  it('finds schemas/ from the module location', () => {
    expect(existsSync(join(schemaDirectory(), 'meta.json'))).toBe(true)
  })

  it('accepts a valid manifest of every type', () => {
    for (const text of [workflowV2, secret, instanceSecret, volume, compute, stack]) {
      const result = lint(text)
      expect(result.issues.map(formatIssue)).toEqual([])
      expect(result.documents).toHaveLength(1)
    }
  })

  it('lists type:version ids and gives one self-contained schema per id', () => {
    const ids = schemaIds()
    expect(ids).toContain('workflow:v1')
    expect(ids).toContain('workflow:v2alpha')
    expect(ids).toContain('stack:v1alpha')
    expect(ids).not.toContain('workflow:v1beta')
    const schema = schemaFor('workflow', 'v2alpha')
    expect(JSON.stringify(schema)).not.toContain('meta.json')
    expect(schema['required']).toEqual(['name', 'version', 'type', 'spec'])
    // Usable on its own by any 2020-12 validator.
    const validate = new Ajv2020({ strict: false }).compile(schema)
    const doc = { version: 'v2alpha', name: 'x', type: 'workflow', spec: { dag: [{ name: 'a', spec: { stack: 'container' } }] } }
    expect(validate(doc)).toBe(true)
    expect(validate({ ...doc, extra: 1 })).toBe(false)
  })

  it('throws typed errors for unknown schema ids', () => {
    expect(() => schemaFor('workflw', 'v1')).toThrow(expect.objectContaining({ code: 'E_UNKNOWN_TYPE' }))
    expect(() => schemaFor('workflow', 'v1beta')).toThrow(expect.objectContaining({ code: 'E_UNKNOWN_VERSION' }))
  })
})

describe('schema issues', () => {
  it('names an unknown field and suggests the allowed one, per type', () => {
    const cases: [string, string, string][] = [
      [workflowV2.replace('depends: [extract]', 'dependson: [extract]'), 'depends', 'spec.dag[1].dependson'],
      [workflowV2.replace('concurrencyPolicy:', 'concurencyPolicy:'), 'concurrencyPolicy', 'spec.schedule.concurencyPolicy'],
      [workflowV2.replace('contextAlias: db', 'contextAlais: db'), 'contextAlias', 'spec.dag[0].spec.use.projection.secrets[0].contextAlais'],
      [secret.replace('acl: rw', 'alc: rw'), 'acl', 'secret.alc'],
      [instanceSecret.replace('data:', 'datas:'), 'data', 'instance-secret.datas'],
      [volume.replace('accessMode:', 'acessMode:'), 'accessMode', 'volume.acessMode'],
      [compute.replace('nodeSelector:', 'nodeselector:'), 'nodeSelector', 'compute.nodePool.nodeselector'],
      [stack.replace('environmentVars:', 'environmentVar:'), 'environmentVars', 'stack.environmentVar'],
      [stack.replace('description', 'x').replace('version: v1alpha', 'version: v1alpha\ndescripton: x'), 'description', 'descripton'],
    ]
    for (const [text, suggestion, path] of cases) {
      const { issues } = lint(text)
      const unknown = issues.filter((i) => i.code === 'E_UNKNOWN_FIELD')
      expect(unknown, path).toHaveLength(1)
      expect(unknown[0]!.path).toBe(path)
      expect(unknown[0]!.message).toBe(`unknown field "${path.split('.').pop()}"; did you mean "${suggestion}"?`)
    }
  })

  it('locates schema issues at the offending line', () => {
    const text = yaml`
      version: v2alpha
      name: wf
      type: workflow
      spec:
        schedule:
          crons: ['0 * * * *']
          concurrencyPolicy: Sometimes
        dag:
          - name: a
            dependson: [b]
            spec:
              stack: container
              runAsUser: root
              stackSpec: {image: x}
      `
    expect(messages(text)).toEqual([
      'm.yaml:7:5  must be one of Allow, Forbid, Replace (spec.schedule.concurrencyPolicy)',
      'm.yaml:10:7  unknown field "dependson"; did you mean "depends"? (spec.dag[0].dependson)',
      'm.yaml:13:9  must be an integer (spec.dag[0].spec.runAsUser)',
    ])
  })

  it('reports a missing required field at the mapping that lacks it', () => {
    const text = yaml`
      version: v2alpha
      name: wf
      type: workflow
      spec:
        title: no dag
      `
    expect(messages(text)).toEqual(['m.yaml:4:1  missing required field "dag" (spec.dag)'])
    expect(messages('version: v1\nname: s\ntype: secret\n')).toEqual(['m.yaml:1:1  missing required field "secret" (secret)'])
  })

  it('points at the body key of the other workflow version', () => {
    const text = workflowV2.replace('version: v2alpha', 'version: v1')
    expect(messages(text)).toEqual([
      'm.yaml:1:1  missing required field "workflow" (workflow)',
      'm.yaml:6:1  unknown field "spec"; did you mean "workflow"? (spec)',
    ])
  })

  it('collapses the branches of a oneOf into the useful error', () => {
    const number = stack.replace(/image: \{.*\}/, 'image: 42')
    expect(lint(number).issues.map((i) => [i.path, i.message])).toEqual([['stack.image', 'must be a string or a mapping']])
    const partial = stack.replace(/image: \{.*\}/, 'image: {registry: docker.io, tag: "1"}')
    expect(lint(partial).issues.map((i) => [i.path, i.message])).toEqual([['stack.image.image', 'missing required field "image"']])
    const typo = stack.replace(/image: \{.*\}/, 'image: {imge: alpine}')
    expect(lint(typo).issues.map((i) => [i.path, i.message])).toEqual([
      ['stack.image.image', 'missing required field "image"'],
      ['stack.image.imge', 'unknown field "imge"; did you mean "image"?'],
    ])
  })

  it('explains patterns in words', () => {
    const text = volume.replace('size: 1Gi', 'size: lots')
    expect(messages(text)).toEqual(['m.yaml:5:3  must be a size such as 1Gi or 500Mi (volume.size)'])
    const timeout = workflowV2.replace('timeout: 1h30m', 'timeout: soon')
    expect(lint(timeout).issues.map((i) => i.message)).toEqual([
      'timeout "soon" is not a duration (a duration starts with a number); write for example 500ms, 30s, 1m30s, 2h, 1d, 1w or PT1H',
    ])
  })

  it('refuses an unknown type, listing the known ones', () => {
    expect(messages('version: v1\nname: a\ntype: workflw\n')).toEqual([
      'm.yaml:3:1  unknown type "workflw"; did you mean "workflow"? Known types: workflow, secret, instance-secret, volume, compute, stack (type)',
    ])
    expect(lint('version: v1\nname: a\ntype: pipeline\n').issues.map((i) => [i.code, i.message])).toEqual([
      ['E_UNKNOWN_TYPE', 'unknown type "pipeline"; known types: workflow, secret, instance-secret, volume, compute, stack'],
    ])
  })

  it('refuses an unknown version, listing the supported ones', () => {
    expect(lint('version: v3\nname: a\ntype: workflow\n').issues.map((i) => [i.code, i.line, i.message])).toEqual([
      ['E_UNKNOWN_VERSION', 1, 'version "v3" is not supported for type workflow; supported: v1, v2alpha'],
    ])
    expect(lint('version: v1beta\nname: a\ntype: workflow\n').issues.map((i) => i.code)).toEqual(['E_UNKNOWN_VERSION'])
  })

  it('refuses a document that is not a mapping', () => {
    expect(lint('- a\n- b\n').issues.map((i) => [i.code, i.message])).toEqual([['E_SCHEMA', 'a manifest must be a mapping with name, version, type and a body']])
  })

  it('validates a request value the same way, with path-only locations', () => {
    const result = lintValue({ version: 'v1', name: 'shared', type: 'volume', volume: { size: '1Gi', accessMode: 'Sometimes', type: 'temp' } }, testContext())
    expect(result.issues).toEqual([
      { file: '<request>', line: 0, column: 0, path: 'volume.accessMode', code: 'E_SCHEMA', message: 'must be one of ReadWriteMany, ReadWriteOnce, ReadOnlyMany' },
    ])
    expect(lintValue({ version: 'v1', name: 'shared', type: 'volume', volume: { size: '1Gi', accessMode: 'ReadWriteOnce', type: 'temp' } }, testContext()).documents).toHaveLength(1)
  })
})
