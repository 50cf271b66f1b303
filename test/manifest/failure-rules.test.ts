// Issue 12's manifest language for failure handling: runIf, allowFailure, handles, finally, timeout and
// finallyTimeout in both workflow versions, normalized into the model, each lint error located.
import { describe, expect, it } from 'vitest'
import { offlineManifestContext } from '../../src/cli/offline.js'
import { formatIssue } from '../../src/errors.js'
import { lintSources } from '../../src/manifest/index.js'
import type { WorkflowResource } from '../../src/manifest/model.js'

const ctx = offlineManifestContext()
const lintText = (text: string, file = 'w.yaml') => lintSources([{ file, text }], ctx, { interpolate: false, env: {} })
const problems = (text: string) => lintText(text).issues.map(formatIssue)
const workflowOf = (text: string) => {
  const r = lintText(text)
  expect(r.issues.map(formatIssue)).toEqual([])
  return (r.documents[0]!.resource as WorkflowResource).workflow
}

const step = (name: string, extra = '', script = 'true') => `
    - name: ${name}${extra}
      spec:
        stack: script
        stackSpec: {interpreter: sh, script: "${script}"}`

const v2 = (dag: string, rest = '') => `version: v2alpha
name: rules
type: workflow
spec:${rest}
  dag:${dag}
`

describe('failure handling: syntax and model', () => {
  it('normalizes runIf (always → allDone), allowFailure, handles, finally, timeout and finallyTimeout', () => {
    const wf = workflowOf(v2(
      step('main') + step('lint', '\n      allowFailure: true') +
      step('fallback', '\n      depends: [main]\n      runIf: anyFailed\n      handles: [main]') +
      step('cleanup', '\n      depends: [main, fallback]\n      runIf: always') +
      step('report', '\n      depends: [main]\n      runIf: noneFailed'),
      `\n  timeout: 2h\n  finallyTimeout: 90s\n  finally:${step('notify', '', 'echo {{.workflow.status}} {{.workflow.name}}')}${step('last', '\n      depends: [notify]')}`,
    ))
    const byName = Object.fromEntries(wf.dag.map((s) => [s.name, s]))
    expect(byName.lint).toMatchObject({ allowFailure: true })
    expect(byName.fallback).toMatchObject({ runIf: 'anyFailed', handles: ['main'] })
    expect(byName.cleanup!.runIf).toBe('allDone')
    expect(byName.report!.runIf).toBe('noneFailed')
    expect(byName.main!.runIf).toBeUndefined()
    expect(wf.timeoutSeconds).toBe(7200)
    expect(wf.finallyTimeoutSeconds).toBe(90)
    expect(wf.finally!.map((s) => [s.name, s.depends, s.path])).toEqual([['notify', [], ['spec', 'finally', 0]], ['last', ['notify'], ['spec', 'finally', 1]]])
  })

  it('v1 says the same under workflow: with dependencies', () => {
    const wf = workflowOf(`version: v1
name: rules1
type: workflow
workflow:
  timeout: 30m
  dag:${step('a')}${step('b', '\n      dependencies: [a]\n      runIf: anyFailed\n      handles: [a]')}
  finally:${step('c')}
`)
    expect(wf.dag[1]).toMatchObject({ runIf: 'anyFailed', handles: ['a'], depends: ['a'] })
    expect(wf.finally!.map((s) => s.name)).toEqual(['c'])
    expect(wf.timeoutSeconds).toBe(1800)
  })

  it('a CEL condition may read workflow.status', () => {
    workflowOf(v2(step('a'), `\n  finally:${step('only-on-failure', "\n      when: \"workflow.status == 'Failed'\"")}`))
  })
})

describe('failure handling: lint', () => {
  it('handles without runIf: anyFailed, of an unknown step, of a non-dependency: located', () => {
    expect(problems(v2(step('a') + step('b') + step('c', '\n      depends: [a]\n      handles: [a]') + step('d', '\n      depends: [a]\n      runIf: anyFailed\n      handles: [zz, b]')))).toEqual([
      'w.yaml:16:7  step "c" has handles but runIf is allSucceeded (the default): only a runIf: anyFailed step runs on a failure, so only it can handle one (spec.dag[2].handles)',
      'w.yaml:23:17  unknown step "zz" in handles (spec.dag[3].handles[0])',
      'w.yaml:23:21  step "d" handles "b", which is not one of its depends: a step can only handle the failure of a step it waits for (add "b" to depends) (spec.dag[3].handles[1])',
    ])
  })

  it('an unknown runIf is a schema error naming the rules', () => {
    expect(problems(v2(step('a', '\n      runIf: sometimes'))).join('\n')).toMatch(/allSucceeded, allDone, always, anyFailed, noneFailed \(spec\.dag\[0\]\.runIf\)/)
  })

  it('finally and the DAG do not depend on each other; names are unique across both; finally steps are checked like DAG steps', () => {
    expect(problems(v2(step('a') + step('b', '\n      depends: [fin]'), `\n  finally:${step('fin', '\n      depends: [a]')}${step('b')}${step('x', '\n      depends: [nope]', 'echo {{.params.missing}}')}`))).toEqual([
      'w.yaml:7:17  finally step "fin" cannot depend on DAG step "a": finally steps run once the whole DAG ended (they depend only on other finally steps) (spec.finally[0].depends[0])',
      'w.yaml:11:7  finally step "b" has the name of a DAG step (step names are unique across dag and finally) (spec.finally[1].name)',
      'w.yaml:16:17  unknown step "nope" in depends (spec.finally[2].depends[0])',
      'w.yaml:19:38  unknown param "missing" (the workflow declares no params) (spec.finally[2].spec.stackSpec.script)',
      'w.yaml:26:17  "fin" is a finally step: finally steps run after the whole DAG, so a DAG step cannot depend on one (spec.dag[1].depends[0])',
    ])
  })

  it('timeout and finallyTimeout use the one duration grammar and their bounds', () => {
    expect(problems(v2(step('a'), '\n  timeout: 2 hours\n  finallyTimeout: 3d')).join('\n')).toMatch(/spec\.timeout[\s\S]*spec\.finallyTimeout/)
  })
})
