import { describe, expect, it } from 'vitest'
import { formatIssue } from '../../src/errors.js'
import { lintSources } from '../../src/manifest/index.js'
import { testContext } from './helpers.js'

const lint = (text: string): string[] => lintSources([{ file: 'w.yaml', text }], testContext(), { interpolate: false, env: {} }).issues.map(formatIssue)

const scheduled = (params: string) => `version: v2alpha
name: wf
type: workflow
spec:
  schedule: {crons: ["0 * * * *"]}
  params:
${params}  dag:
    - name: a
      spec: {stack: container, stackSpec: {image: x}}
`

describe('params of a scheduled workflow', () => {
  it('a required param without a default is a located lint error: scheduled runs use the defaults', () => {
    expect(lint(scheduled('    - {name: version, type: string, required: true}\n    - {name: env, type: string, default: staging}\n'))).toEqual([
      'w.yaml:7:37  param "version" is required without a default, but the workflow is scheduled and scheduled runs use the defaults; give it a default (spec.params[0].required)',
    ])
  })

  it('defaults are fine', () => {
    expect(lint(scheduled('    - {name: env, type: string, default: staging}\n'))).toEqual([])
  })
})
