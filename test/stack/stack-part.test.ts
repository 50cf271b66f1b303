// The stack's part of a step's Pod, reused across steps (src/stack/stack-part.ts): a reused part gives the very Pod a
// fresh render gives, whatever the step, run or workspace; what a Pod holds is its own; a replaced stack is rendered
// anew; a failed render is never kept; and nothing is kept for a step that is not as stored.
import { describe, expect, test } from 'vitest'
import { CtlError } from '../../src/errors.js'
import type { StackDefinition, WorkflowResource } from '../../src/manifest/model.js'
import { InMemorySecretProvider, renderProjection } from '../../src/projection/index.js'
import { BUILTIN_COMPUTES, resolvePodTemplate, shortRunId, StackRegistry, type ResolvedStep } from '../../src/stack/index.js'
import { heldStackParts } from '../../src/stack/stack-part.js'
import type { RunContext } from '../../src/template/run-context.js'
import { projection, run, step, workflow } from './fixtures.js'

const builtin = StackRegistry.builtin()
const compute = BUILTIN_COMPUTES.get('runnable-default')!

/** A stack reading run facts, with env, config files, and a template shaping env and mounts. */
function customStack(image = 'registry.example/tool:{{ .ApplicationSpec.StackSpec.tag }}'): StackDefinition {
  return {
    name: 'custom', version: '1.0', image,
    command: ['/bin/tool', '--step={{ .StepName }}'],
    arguments: ['--stamp={{ .Stamp }}', '--ws={{ .Workspace }}'],
    environmentVars: { TOOL_RUN: '{{ .RunId }}', TOOL_LEVEL: '{{ .ApplicationSpec.LogLevel }}' },
    stackSpecJsonSchema: { type: 'object', properties: { tag: { type: 'string', default: 'latest' }, mode: { type: 'string' } } },
    workflowJobConfig: {
      containerResourceTemplate: [
        'workingDir: /work/{{ .Name }}',
        'env:',
        '  - name: MODE',
        '    value: {{ .ApplicationSpec.StackSpec.mode | default "plain" }}',
        'volumeMounts:',
        '  - name: cache',
        '    mountPath: /cache',
      ].join('\n'),
      configFileTemplate: { 'tool.conf': 'mode={{ .ApplicationSpec.StackSpec.mode | default "plain" }}\n', empty: '{{ if .ApplicationSpec.StackSpec.mode }}x{{ end }}' },
    },
  }
}

async function podOf(wf: WorkflowResource, index: number, stack: StackDefinition, keep: 'step' | 'nothing' | undefined, ctx: Partial<RunContext> = {}): Promise<ResolvedStep> {
  const s = wf.workflow.dag[index]!
  const r = { ...run, ...ctx }
  const proj = await renderProjection(s.spec.projection, { workspace: r.workspace, defaults: {}, secrets: new InMemorySecretProvider(), mode: 'values' })
  return resolvePodTemplate({ workflow: wf, step: s, stack, compute, run: r, projection: proj, keep })
}

const stackSpecs: Record<string, Record<string, unknown>[]> = {
  container: [
    { image: 'docker.io/library/alpine:3.20', command: ['true'] },
    { image: 'docker.io/library/alpine:3.20', command: ['sh', '-c', 'echo $(HOME)'], arguments: ['x'], workingDir: '/w', env: { A: '1', B: 'two' } },
  ],
  script: [{ script: 'echo hi' }, { interpreter: 'python', script: 'print(1)', arguments: ['a'] }],
  custom: [{}, { tag: '1.2', mode: 'fast' }],
}

describe('a reused stack part gives the Pod a fresh render gives', () => {
  for (const [name, specs] of Object.entries(stackSpecs)) {
    test(`${name}: every step, run and workspace`, async () => {
      const stack = name === 'custom' ? customStack() : builtin.resolve({ name })!
      const steps = specs.flatMap((stackSpec, i) => [
        step(`a-${i}`, { stack: { name }, stackSpec, envs: { E: 'v' } }),
        step(`b-${i}`, { stack: { name }, stackSpec, logLevel: 'DEBUG' }),
        step(`c-${i}`, { stack: { name }, stackSpec, resources: { limits: { memory: '64Mi' } }, volumes: [{ id: 'data', directory: '/data', readOnly: true }] }),
      ])
      const runs: Partial<RunContext>[] = [{}, { runId: 'r-second-run-0000000001', workspace: 'team-b' }, { runId: 'r-third-run-00000000002', attempt: 2 }]
      for (const wf of [workflow('first', steps), workflow('second', steps)]) {
        for (const ctx of runs) {
          for (let i = 0; i < steps.length; i++) {
            // Twice each: the second one is served from what the first kept.
            for (let twice = 0; twice < 2; twice++) {
              const fresh = await podOf(wf, i, stack, 'nothing', ctx)
              expect(await podOf(wf, i, stack, 'step', ctx)).toEqual(fresh)
              expect(await podOf(wf, i, stack, undefined, ctx)).toEqual(fresh)
            }
          }
        }
      }
      expect(heldStackParts(stack)).toBeGreaterThan(0)
    })
  }

  test('run facts the templates read are the step’s own', async () => {
    const stack = customStack()
    const wf = workflow('facts', [step('one', { stack: { name: 'custom' }, stackSpec: {} }), step('two', { stack: { name: 'custom' }, stackSpec: {} })])
    const c1 = (await podOf(wf, 0, stack, 'step')).pod.spec!.containers[0]!
    const c2 = (await podOf(wf, 1, stack, 'step', { runId: 'r-other-00000000000000001', workspace: 'team-b' })).pod.spec!.containers[0]!
    expect(c1.command).toEqual(['/bin/tool', '--step=one'])
    expect(c2.command).toEqual(['/bin/tool', '--step=two'])
    expect(c2.args).toEqual([`--stamp=${shortRunId('r-other-00000000000000001')}`, '--ws=team-b'])
    expect(c2.env!.find((e) => e.name === 'TOOL_RUN')!.value).toBe('r-other-00000000000000001')
  })
})

describe('what a Pod holds is its own', () => {
  test('changing one Pod changes no later one', async () => {
    const stack = customStack()
    const wf = workflow('own', [step('s', { stack: { name: 'custom' }, stackSpec: { mode: 'm' } })])
    const first = await podOf(wf, 0, stack, 'step')
    const c = first.pod.spec!.containers[0]!
    c.command!.push('--evil')
    c.args!.push('--evil')
    c.env!.find((e) => e.name === 'MODE')!.value = 'evil'
    c.volumeMounts![0]!.mountPath = '/evil'
    first.configMap!.data!['tool.conf'] = 'evil'
    ;(c as unknown as Record<string, unknown>).workingDir = '/evil'
    expect(await podOf(wf, 0, stack, 'step')).toEqual(await podOf(wf, 0, stack, 'nothing'))
  })
})

describe('what is never served or kept', () => {
  test('a stack replaced by a new definition (same name and version) is rendered anew', async () => {
    const wf = workflow('replaced', [step('s', { stack: { name: 'custom' }, stackSpec: { tag: '1' } })])
    const old = customStack()
    const replaced = customStack('other.example/tool:{{ .ApplicationSpec.StackSpec.tag }}')
    expect((await podOf(wf, 0, old, 'step')).pod.spec!.containers[0]!.image).toBe('registry.example/tool:1')
    expect((await podOf(wf, 0, replaced, 'step')).pod.spec!.containers[0]!.image).toBe('other.example/tool:1')
    expect((await podOf(wf, 0, old, 'step')).pod.spec!.containers[0]!.image).toBe('registry.example/tool:1')
  })

  test('a failed render is not kept: each step gets its own error', async () => {
    const stack = customStack('{{ .ApplicationSpec.StackSpec.nope }}')
    const wf = workflow('broken', [step('first', { stack: { name: 'custom' }, stackSpec: {} }), step('second', { stack: { name: 'custom' }, stackSpec: {} })])
    for (const [i, name] of ['first', 'second'].entries()) {
      const err = await podOf(wf, i, stack, 'step').then(() => undefined, (e: unknown) => e)
      expect(err).toBeInstanceOf(CtlError)
      expect((err as CtlError).message).toContain(`step "${name}"`)
    }
    expect(heldStackParts(stack)).toBe(0)
  })

  test('a step that is not as stored keeps nothing', async () => {
    const stack = customStack()
    const wf = workflow('rendered', [step('s', { stack: { name: 'custom' }, stackSpec: { mode: 'value-of-a-secret-param' }, projection: projection() })])
    await podOf(wf, 0, stack, 'nothing')
    expect(heldStackParts(stack)).toBe(0)
  })
})
