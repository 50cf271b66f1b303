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
