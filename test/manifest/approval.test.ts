// `approval:` on a step (issue 12): normalized into the model in both workflow versions, and each of its
// fields linted where it stands: `required` in CEL like `when`, approvers' syntax, timeout, message template.
import { describe, expect, it } from 'vitest'
import { offlineManifestContext } from '../../src/cli/offline.js'
import { formatIssue } from '../../src/errors.js'
import { lintSources } from '../../src/manifest/index.js'
import type { WorkflowResource } from '../../src/manifest/model.js'

const ctx = offlineManifestContext()
const lintText = (text: string) => lintSources([{ file: 'w.yaml', text }], ctx, { interpolate: false, env: {} })
const problems = (text: string) => lintText(text).issues.map(formatIssue)

const v2 = (approval: string[]) => [
  'name: release', 'version: v2alpha', 'type: workflow', 'spec:',
  '  params:', '    - {name: environment, type: string, default: staging}', '    - {name: version, type: string, default: "1.0"}',
  '  dag:',
  '    - name: build', '      spec: {stack: script, stackSpec: {script: "echo build"}}',
  '    - name: deploy', '      depends: [build]',
  '      approval:', ...approval.map((l) => `        ${l}`),
  '      spec: {stack: script, stackSpec: {script: "echo deploy"}}',
].join('\n')

describe('approval in the manifest', () => {
  it('the issue example normalizes into StepModel.approval', () => {
    const r = lintText(v2([
      `required: "params.environment == 'production'"`,
      'approvers: [roles:id:operator, users:id:alice]',
      'timeout: 24h',
      'message: "Deploy {{.params.version}} to production?"',
    ]))
    expect(r.issues.map(formatIssue)).toEqual([])
    const deploy = (r.documents[0]!.resource as WorkflowResource).workflow.dag[1]!
    expect(deploy.approval).toEqual({
      required: "params.environment == 'production'",
      approvers: ['roles:id:operator', 'users:id:alice'],
      timeoutMs: 86_400_000,
      message: 'Deploy {{.params.version}} to production?',
    })
  })

  it('v1 takes it under workflow:, required defaults to true', () => {
    const text = [
      'version: v1', 'name: r1', 'type: workflow', 'workflow:', '  dag:',
      '    - name: a', '      approval: {timeout: 1h}', '      spec: {stack: script, stackSpec: {script: "echo a"}}',
    ].join('\n')
    const r = lintText(text)
    expect(r.issues.map(formatIssue)).toEqual([])
    expect((r.documents[0]!.resource as WorkflowResource).workflow.dag[0]!.approval).toEqual({ required: true, approvers: [], timeoutMs: 3_600_000 })
  })

  it('a CEL error in required is located like a when', () => {
    const out = problems(v2([`required: "params.nope == 'x'"`]))
    expect(out.join('\n')).toMatch(/w\.yaml:14:\d+ .*nope.*approval\.required/)
  })

  it('a required that is not a bool is refused', () => {
    expect(problems(v2(['required: "params.version"'])).join('\n')).toMatch(/approval\.required/)
  })

  it('approvers must be roles:id:ROLE or users:id:ID', () => {
    const out = problems(v2(['approvers: [roles:id:boss, alice]'])).join('\n')
    expect(out).toMatch(/approval\.approvers/)
    expect(out).toMatch(/line 13|w\.yaml:14/)
  })

  it('a bad timeout names the field', () => {
    expect(problems(v2(['timeout: soon'])).join('\n')).toMatch(/approval\.timeout/)
    expect(problems(v2(['timeout: 90d'])).join('\n')).toMatch(/approval\.timeout.*too long/)
  })

  it('the message is a template checked against the step scope', () => {
    const out = problems(v2(['message: "Deploy {{.params.nope}}?"'])).join('\n')
    expect(out).toMatch(/w\.yaml:14:\d+ .*nope.*approval\.message/)
    expect(problems(v2(['message: "after {{.steps.build.outputs.x}}"']))).toEqual([])
  })

  it('the approval of a finally step is linted too', () => {
    const text = [
      'name: fin', 'version: v2alpha', 'type: workflow', 'spec:', '  dag:',
      '    - name: a', '      spec: {stack: script, stackSpec: {script: "echo a"}}',
      '  finally:',
      '    - name: notify', '      approval: {approvers: [bob]}', '      spec: {stack: script, stackSpec: {script: "echo n"}}',
    ].join('\n')
    expect(problems(text).join('\n')).toMatch(/w\.yaml:10:\d+ +approver "bob" must be roles:id:ROLE or users:id:ID.*finally\[0\]\.approval\.approvers\[0\]/)
  })
})
