// Webhook triggers in the manifest: the same shape in v1 and v2alpha, normalized into the model, and each lint
// error (duplicate name, bad name, unknown param, CEL that names what a hook cannot read, a required param no
// mapping fills) located at file, line and column.
import { describe, expect, it } from 'vitest'
import { offlineManifestContext } from '../../src/cli/offline.js'
import { formatIssue } from '../../src/errors.js'
import { lintSources } from '../../src/manifest/index.js'
import type { WorkflowResource } from '../../src/manifest/model.js'

const ctx = offlineManifestContext()
const lintText = (text: string) => lintSources([{ file: 'w.yaml', text }], ctx, { interpolate: false, env: {} })
const problems = (text: string) => lintText(text).issues.map(formatIssue)

const v2 = (triggers: string) => `name: deploy
version: v2alpha
type: workflow
spec:
  params:
    - name: version
      type: string
      required: true
    - name: count
      type: integer
      default: 1
  triggers:
${triggers}
  dag:
    - name: main
      spec:
        stack: script
        stackSpec:
          script: echo {{.params.version}}
`

describe('spec.triggers', () => {
  it('normalizes the issue example (v2alpha) and the v1 form under workflow:', () => {
    const r = lintText(v2(`    - name: on-release
      webhook:
        secret: release-hook
        params:
          version: "body.release.tag_name"
          count: "size(body.assets) + int(headers['x-extra'])"`))
    expect(r.issues.map(formatIssue)).toEqual([])
    const wf = (r.documents[0]!.resource as WorkflowResource).workflow
    expect(wf.triggers).toEqual([{
      name: 'on-release', path: ['spec', 'triggers', 0],
      webhook: { secret: 'release-hook', params: { version: 'body.release.tag_name', count: "size(body.assets) + int(headers['x-extra'])" } },
    }])
    const v1 = lintText(`name: old
version: v1
type: workflow
workflow:
  triggers:
    - name: go
      webhook:
        secret: hook
  dag:
    - name: main
      spec:
        stack: script
        stackSpec:
          script: echo hi
`)
    expect(v1.issues.map(formatIssue)).toEqual([])
    expect((v1.documents[0]!.resource as WorkflowResource).workflow.triggers).toEqual([{ name: 'go', path: ['workflow', 'triggers', 0], webhook: { secret: 'hook', params: {} } }])
  })

  it('a workflow without triggers keeps no triggers field (its content hash stays)', () => {
    const wf = (lintText(v2('    []')).documents[0]!.resource as WorkflowResource).workflow
    expect(wf.triggers).toEqual([])
    const plain = lintText(v2('    []').replace('  triggers:\n    []\n', ''))
    expect('triggers' in (plain.documents[0]!.resource as WorkflowResource).workflow).toBe(false)
  })

  it('duplicate and badly shaped names, a missing secret', () => {
    expect(problems(v2(`    - name: go
      webhook: { secret: s, params: { version: "body.v" } }
    - name: go
      webhook: { secret: s, params: { version: "body.v" } }
    - name: Bad_Name
      webhook: { params: { version: "body.v" } }`))).toEqual([
      'w.yaml:15:7  duplicate trigger name "go" (also spec.triggers[0]): each names its own hook URL (spec.triggers[1].name)',
      'w.yaml:17:7  must be lowercase letters, digits and -, at most 48 characters: the last part of the hook\'s URL (spec.triggers[2].name)',
      'w.yaml:18:7  missing required field "secret" (spec.triggers[2].webhook.secret)',
    ])
  })

  it('params map onto declared params; each CEL reads only body and headers; required params are filled', () => {
    expect(problems(v2(`    - name: go
      webhook:
        secret: s
        params:
          versoin: "body.v"
          count: "params.count + steps.x"
          version: "headers.foo + 1"`))).toEqual([
      'w.yaml:17:11  trigger "go" maps unknown param "versoin"; did you mean "version"? (declared: version, count) (spec.triggers[0].webhook.params.versoin)',
      'w.yaml:18:19  unknown variable "params" (a webhook param mapping reads only the request) Variables: body, headers (spec.triggers[0].webhook.params.count)',
      'w.yaml:18:34  unknown variable "steps" (a webhook param mapping reads only the request) Variables: body, headers (spec.triggers[0].webhook.params.count)',
      'w.yaml:19:33  "+" cannot combine a string with an integer (spec.triggers[0].webhook.params.version)',
    ])
    expect(problems(v2(`    - name: go
      webhook:
        secret: s
        params:
          count: "size(body)"`))).toEqual([
      'w.yaml:14:7  trigger "go" gives no value to required param "version"; map it under webhook.params (spec.triggers[0].webhook)',
    ])
  })
})
