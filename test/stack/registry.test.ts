import { describe, expect, test } from 'vitest'
import type { ResourceMeta } from '../../src/manifest/model.js'
import { stackDefinitionFromBody, imageReference } from '../../src/stack/definition.js'
import { compareVersions, parseStackRef, StackRegistry } from '../../src/stack/registry.js'
import { applyStackSpecDefaults, validateStackSpec } from '../../src/stack/validate.js'

const meta: ResourceMeta = { name: 'spark', version: 'v1alpha', type: 'stack', tags: [], layer: 'user' }

describe('stack definitions', () => {
  test('a DataOS-shaped body', () => {
    const def = stackDefinitionFromBody(meta, {
      version: 2,
      flavor: 'python',
      image: { registry: 'docker.io', repository: 'acme', image: 'spark', tag: '3.5' },
      command: 'run',
      arguments: ['--x', 1],
      environmentVars: { A: 1, B: 'b' },
      stackSpecValueSchema: { jsonSchema: '{"type":"object","required":["job"]}' },
      workflowJobConfig: {
        containerResourceTemplate: 'workingDir: /w',
        configFileTemplate: 'job.yaml: |\n  {{ toYaml .ApplicationSpec.StackSpec }}\n',
      },
    })
    expect(def).toEqual({
      name: 'spark',
      version: '2',
      flavor: 'python',
      image: 'docker.io/acme/spark:3.5',
      command: ['run'],
      arguments: ['--x', '1'],
      environmentVars: { A: '1', B: 'b' },
      stackSpecJsonSchema: { type: 'object', required: ['job'] },
      workflowJobConfig: {
        containerResourceTemplate: 'workingDir: /w',
        configFileTemplate: { 'job.yaml': '{{ toYaml .ApplicationSpec.StackSpec }}\n' },
      },
    })
  })

  test('defaults: name from meta, version 1.0, object schema', () => {
    const def = stackDefinitionFromBody(meta, { image: 'x:1' })
    expect([def.name, def.version, def.stackSpecJsonSchema]).toEqual(['spark', '1.0', { type: 'object' }])
    expect(imageReference({ image: 'alpine' })).toBe('alpine')
  })

  test('a bad schema or config file name is a CtlError', () => {
    expect(() => stackDefinitionFromBody(meta, { stackSpecValueSchema: { jsonSchema: '[1' } })).toThrow(/not a JSON Schema object/)
    expect(() => stackDefinitionFromBody(meta, { workflowJobConfig: { configFileTemplate: { '../x': '' } } })).toThrow(/must match/)
  })
})

describe('registry', () => {
  test('built-in stacks load from stacks/', () => {
    const r = StackRegistry.builtin()
    expect(r.list().map((s) => `${s.name}:${s.version}`)).toEqual(['container:1.0', 'ctl:1.0', 'script:1.0'])
    for (const s of r.list()) expect(s.stackSpecJsonSchema.additionalProperties).toBe(false)
  })

  test('versions compare by numeric parts; no version resolves to the newest', () => {
    expect(['1.10', '1.2', 'v1.9', '2.0', '1.0', '1.0.1'].sort(compareVersions)).toEqual(['1.0', '1.0.1', '1.2', 'v1.9', '1.10', '2.0'])
    const r = StackRegistry.builtin()
    r.add({ ...r.resolve({ name: 'container' })!, version: '1.10', image: 'ten' })
    r.add({ ...r.resolve({ name: 'container' })!, version: '1.2', image: 'two' })
    expect(r.versions('container')).toEqual(['1.0', '1.2', '1.10'])
    expect(r.resolve({ name: 'container' })!.image).toBe('ten')
    expect(r.resolve(parseStackRef('container:1.2'))!.image).toBe('two')
    expect(r.resolve({ name: 'container', version: '9' })).toBeUndefined()
    expect(r.resolve({ name: 'nope' })).toBeUndefined()
  })

  test('an applied stack overrides the built-in of the same version, or extends with a new name', () => {
    const r = StackRegistry.builtin()
    const copy = r.clone()
    r.add({ ...r.resolve({ name: 'script' })!, command: ['custom'] })
    r.add(stackDefinitionFromBody(meta, { image: 'spark:1' }))
    expect(r.resolve({ name: 'script', version: '1.0' })!.command).toEqual(['custom'])
    expect(r.resolve({ name: 'spark' })!.image).toBe('spark:1')
    // clones and new built-in registries are unaffected
    expect(copy.resolve({ name: 'script' })!.command).not.toEqual(['custom'])
    expect(StackRegistry.builtin().resolve({ name: 'spark' })).toBeUndefined()
  })
})

describe('stackSpec validation', () => {
  const r = StackRegistry.builtin()
  const container = r.resolve({ name: 'container' })!
  const script = r.resolve({ name: 'script' })!

  test('valid specs have no issues', () => {
    expect(validateStackSpec(container, { image: 'alpine', command: ['sh'], env: { A: 'b' } })).toEqual([])
    expect(validateStackSpec(script, { script: 'echo hi' })).toEqual([])
  })

  test('messages and paths relative to stackSpec', () => {
    expect(validateStackSpec(container, { comand: ['sh'], arguments: ['a', 3], env: { A: 1 } })).toEqual([
      { path: [], message: 'missing required field "image"' },
      { path: ['comand'], message: 'unknown field "comand"; did you mean "command"?' },
      { path: ['arguments', 1], message: 'must be a string' },
      { path: ['env', 'A'], message: 'must be a string' },
    ])
    expect(validateStackSpec(script, { script: 'x', interpreter: 'ruby', zzz: 1 })).toEqual([
      { path: ['zzz'], message: 'unknown field "zzz"' },
      { path: ['interpreter'], message: 'must be one of: bash, sh, python, node' },
    ])
    expect(validateStackSpec(container, 'alpine')).toEqual([{ path: [], message: 'must be an object' }])
  })

  test('a replaced schema under the same name:version is not served from the cache', () => {
    const strict = { ...container, stackSpecJsonSchema: { type: 'object', required: ['other'] } }
    expect(validateStackSpec(strict, { image: 'a' })).toEqual([{ path: [], message: 'missing required field "other"' }])
  })

  test('schema defaults are applied to a copy', () => {
    const spec = { script: 'x' }
    expect(applyStackSpecDefaults(script, spec)).toEqual({ script: 'x', interpreter: 'bash' })
    expect(spec).toEqual({ script: 'x' })
  })
})

describe('a stack is checked when it is defined', () => {
  test('a template syntax error is E_STACK_TEMPLATE naming the part', () => {
    expect(() => stackDefinitionFromBody(meta, { image: '{{ .X', workflowJobConfig: {} })).toThrow('stack "spark:1.0" image: template syntax error at 1:1: unclosed action: missing "}}"')
    expect(() => stackDefinitionFromBody(meta, { image: 'x', workflowJobConfig: { containerResourceTemplate: '{{ if .A }}' } })).toThrow(/containerResourceTemplate: template syntax error at 1:4: unclosed if/)
  })
  test('a stackSpec schema that does not compile is E_STACK_SPEC', () => {
    try {
      stackDefinitionFromBody(meta, { image: 'x', stackSpecValueSchema: { jsonSchema: { type: 'nonsense' } } })
      throw new Error('no error')
    } catch (err) {
      expect((err as { code?: string }).code).toBe('E_STACK_SPEC')
    }
  })
})
