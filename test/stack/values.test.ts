import { describe, expect, test } from 'vitest'
import { CtlError } from '../../src/errors.js'
import { renderProjection } from '../../src/projection/render.js'
import { renderStepValues, type StepValues } from '../../src/stack/values.js'
import { projection, step } from './fixtures.js'

const values: StepValues = {
  params: { version: '1.2.3', regions: ['eu', 'us'], token: 's3cr3t', braces: 'a{{b}}' },
  steps: { build: { outputs: { artifact: 'app.tar' } } },
}

function errorOf(fn: () => unknown): CtlError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(CtlError)
    return err as CtlError
  }
  throw new Error('expected an error')
}

const script = (s: string, extra: Parameters<typeof step>[1] extends infer T ? Partial<T> : never = {}) =>
  step('build', { stack: { name: 'script' }, stackSpec: { interpreter: 'sh', script: s, nested: { list: ['{{.params.version}}', 3] } }, ...extra })

describe('renderStepValues', () => {
  test('renders every string of stackSpec, envs, projection values', () => {
    const s = script('echo {{.params.version}} {{.steps.build.outputs.artifact}} {{ join "," .params.regions }}', {
      envs: { V: 'v{{.params.version}}', PLAIN: 'x' },
      projection: projection({
        envVars: [{ key: 'E', value: '{{.params.version}}' }],
        files: [{ name: 'f', value: 'x={{.params.braces}}' }],
        arguments: ['--v={{.params.version}}', '--plain'],
      }),
    })
    const r = renderStepValues(s, values)
    expect(r.spec.stackSpec).toEqual({ interpreter: 'sh', script: 'echo 1.2.3 app.tar eu,us', nested: { list: ['1.2.3', 3] } })
    expect(r.spec.envs).toEqual({ V: 'v1.2.3', PLAIN: 'x' })
    expect(r.spec.projection.envVars).toEqual([{ key: 'E', value: '1.2.3' }])
    expect(r.spec.projection.arguments).toEqual(['--v=1.2.3', '--plain'])
    // A value containing `{{` is printed as is by the projection renderer, never evaluated.
    expect(r.spec.projection.files[0]!.value).toBe('x=a{{"{{"}}b}}')
    expect(s.spec.stackSpec.script).toContain('{{') // pure: the input is untouched
  })

  test('item, index and matrix only where given', () => {
    const s = script('{{.item}} #{{.index}} {{.matrix.os}}')
    expect(renderStepValues(s, { ...values, item: 'a.csv', index: 0, matrix: { os: 'debian' } }).spec.stackSpec.script).toBe('a.csv #0 debian')
    const err = errorOf(() => renderStepValues(script('{{.item}}'), values))
    expect(err.code).toBe('E_STACK_TEMPLATE')
    expect(err.message).toContain('step "build": stackSpec.script')
    expect(err.message).toContain('".item"')
  })

  test('strict: an unknown param is an error naming it', () => {
    const err = errorOf(() => renderStepValues(script('{{.params.nope}}'), values))
    expect(err.message).toMatch(/unresolved reference "\.params\.nope".*no "nope" in \.params/)
    const env = errorOf(() => renderStepValues(script('x', { envs: { A: '{{.params.nope}}' } }), values))
    expect(env.message).toContain('envs.A')
  })

  test('a step without templates comes back as the same object', () => {
    const s = script('echo hi', { envs: { A: 'b' } })
    const plain = { ...s, spec: { ...s.spec, stackSpec: { script: 'echo hi' } } }
    expect(renderStepValues(plain, values)).toBe(plain)
  })

  test('projection templates keep .secrets and .defaultProjections for the projection renderer', async () => {
    const s = script('x', {
      projection: projection({
        secrets: [{ id: 'app-secret', contextAlias: 'app' }],
        envVars: [
          { key: 'MIXED', value: '{{.params.version}}:{{ .secrets.app.KEY }}:{{.defaultProjections.runId}}' },
          { key: 'ONLY_SECRET', value: '{{ .secrets.app.KEY | b64enc }}' },
        ],
      }),
    })
    const r = renderStepValues(s, values)
    expect(r.spec.projection.envVars[0]!.value).toBe('1.2.3:{{ .secrets.app.KEY }}:{{ .defaultProjections.runId }}')
    // No value reference: untouched, pipes and all.
    expect(r.spec.projection.envVars[1]!.value).toBe('{{ .secrets.app.KEY | b64enc }}')
    const rendered = await renderProjection(r.spec.projection, {
      workspace: 'public',
      defaults: { runId: 'r-1' },
      secrets: { getSecret: async () => ({ KEY: 'k3y' }) },
      mode: 'values',
    })
    expect(rendered.envVars.map((e) => [e.key, e.value, e.sensitive])).toEqual([
      ['MIXED', '1.2.3:k3y:r-1', true],
      ['ONLY_SECRET', Buffer.from('k3y').toString('base64'), true],
    ])
  })

  test('a secret that is piped or tested beside values is refused, located', () => {
    const s = script('x', {
      projection: projection({
        secrets: [{ id: 'app-secret', contextAlias: 'app' }],
        envVars: [{ key: 'E', value: '{{.params.version}}{{ .secrets.app.KEY | upper }}' }],
      }),
    })
    const err = errorOf(() => renderStepValues(s, values))
    expect(err.code).toBe('E_PROJECTION')
    expect(err.message).toContain('step "build": projection envVar "E": ".secrets.app.KEY" at 1:23 must stand alone')
  })
})
