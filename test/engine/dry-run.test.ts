// What a dry run shows of the issue's example workflow (examples/data-flow.yaml), without a server:
// steps rendered with the params, one example instance per fanned-out step, placeholders for what
// only exists at run time, secret params never shown.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { lintSources } from '../../src/manifest/index.js'
import type { WorkflowResource } from '../../src/manifest/model.js'
import { offlineManifestContext } from '../../src/cli/offline.js'
import { dryRunParams, dryRunSteps } from '../../src/engine/dry-run.js'
import { fileURLToPath } from 'node:url'

const repoRoot = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..')

function load(text: string): WorkflowResource {
  const r = lintSources([{ file: 'wf.yaml', text }], offlineManifestContext(), { interpolate: false, env: {} })
  expect(r.issues).toEqual([])
  return r.documents[0]!.resource as WorkflowResource
}

const example = load(readFileSync(join(repoRoot, 'examples', 'data-flow.yaml'), 'utf8'))
const script = (s: { step: { spec: { stackSpec: Record<string, unknown> } } }) => s.step.spec.stackSpec.script

describe('dry run of a workflow with params and fan-out', () => {
  it('renders params, names one example instance per fanned step, and says what is a placeholder', () => {
    const { values, missing } = dryRunParams(example.workflow.params, { version: '1.2.3', environment: 'production' })
    expect(missing).toEqual([])
    const [build, shard, test, deploy] = dryRunSteps(example, values, 'public')
    expect(script(build!)).toContain('echo "artifact=app-1.2.3.tar"')
    expect(build!.note).toBeUndefined()
    expect(shard!.step.name).toBe('shard-0')
    expect(script(shard!)).toBe('echo "<item of steps.build.outputs.files> #0"')
    expect(shard!.note).toContain("come from another step's outputs, which do not exist at dry run")
    expect(test!.step.name).toBe('test-debian-3.11')
    expect(script(test!)).toBe('echo "debian 3.11"')
    expect(test!.note).toBe('example instance 1 of 4 (matrix {"os":"debian","py":"3.11"})')
    expect(script(deploy!)).toBe('echo deploy <steps.build.outputs.artifact>')
    expect(deploy!.note).toContain("runs only when params.environment == 'production'")
  })

  it('a required param not given reads <param:NAME>; a secret one is never shown', () => {
    const wf = load(`version: v2alpha
name: wf
type: workflow
spec:
  params:
    - {name: version, type: string, required: true}
    - {name: token, type: string, secret: true, default: x}
    - {name: regions, type: array, default: [eu, us]}
  dag:
    - name: per-region
      forEach: {items: params.regions}
      spec: {stack: script, stackSpec: {interpreter: sh, script: 'echo {{.params.version}} {{.params.token}} {{.item}}'}}
    - name: literal
      forEach: {items: [7, 8]}
      spec: {stack: script, stackSpec: {interpreter: sh, script: 'echo {{.item}} {{.index}}'}}
`)
    const { values, missing } = dryRunParams(wf.workflow.params, { token: 'real-secret' })
    expect(missing).toEqual(['version'])
    const [perRegion, literal] = dryRunSteps(wf, values, 'public')
    expect(script(perRegion!)).toBe('echo <param:version> <secret:params/token> eu')
    expect(perRegion!.note).toBe('example instance 1 of 2 (item "eu")')
    expect(script(literal!)).toBe('echo 7 0')
    expect(JSON.stringify([perRegion, literal])).not.toContain('real-secret')
  })

  it('given params that do not resolve are refused, naming the param', () => {
    expect(() => dryRunParams(example.workflow.params, { environment: 'qa' })).toThrow(/param "environment"/)
  })
})

describe('dry run of a workflow with finally steps', () => {
  it('shows the finally steps after the DAG, rendered as after a DAG that succeeded', () => {
    const wf = load(`version: v2alpha
name: fin
type: workflow
spec:
  dag:
    - name: a
      spec: {stack: script, stackSpec: {interpreter: sh, script: "echo {{.workflow.name}} is {{.workflow.status}}"}}
  finally:
    - name: report
      spec: {stack: script, stackSpec: {interpreter: sh, script: "echo {{.workflow.status}}"}}
`)
    const [a, report] = dryRunSteps(wf, {}, 'public')
    expect([script(a!), a!.note]).toEqual(['echo fin is Running', undefined])
    expect([report!.declared.name, script(report!), report!.note]).toEqual(['report', 'echo Succeeded', 'finally: runs after the DAG (shown as if it succeeded)'])
  })
})
