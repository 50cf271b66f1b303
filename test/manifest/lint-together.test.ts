// One lint run reports schema and semantic problems together, each once, located at the
// offending key; unknown stacks get a "did you mean"; a missing file says so plainly.
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { describe, expect, it } from 'vitest'
import { formatIssue } from '../../src/errors.js'
import { lintFiles, lintSources, lintValue } from '../../src/manifest/index.js'
import { offlineManifestContext } from '../../src/cli/offline.js'

const opts = { interpolate: false, env: {} }
const lint = (text: string): string[] => lintSources([{ file: 'w.yaml', text }], offlineManifestContext(), opts).issues.map(formatIssue)

describe('schema and semantic problems in one run', () => {
  it('reports the cron, the zone, the stack and the dependency next to the schema errors', () => {
    const text = `version: v2alpha
name: mixed
type: workflow
spec:
  schedule:
    crons: ["61 * * * *"]
    timezone: Mars/Olympus_Mons
  dag:
    - name: extract
      colour: blue
      spec:
        stack: scirpt
        stackSpec: {script: "echo hi"}
    - name: load
      depends: [extrakt]
      spec:
        stack: container
        stackSpec: {image: alpine}
`
    expect(lint(text)).toEqual([
      'w.yaml:6:13  invalid cron expression "61 * * * *": Constraint error, got value 61 expected range 0-59 (spec.schedule.crons[0])',
      'w.yaml:7:5  unknown time zone "Mars/Olympus_Mons"; use an IANA name such as UTC or Europe/Berlin (spec.schedule.timezone)',
      'w.yaml:10:7  unknown field "colour" (spec.dag[0].colour)',
      'w.yaml:12:9  unknown stack "scirpt"; did you mean "script"? (spec.dag[0].spec.stack)',
      'w.yaml:15:17  unknown step "extrakt" in depends; did you mean "extract"? (spec.dag[1].depends[0])',
    ])
  })

  it('says nothing more where the schema has spoken: one message per place', () => {
    // A name of the wrong type is a schema error; the name check must not repeat it.
    const issues = lint('version: v2alpha\nname: [Not, A, Name]\ntype: workflow\nspec:\n  dag:\n    - name: a\n      spec: {stack: container, stackSpec: {image: x}}\n')
    expect(issues).toEqual(['w.yaml:2:1  must be a string (name)'])
  })

  it('a document with schema errors is never among the valid documents', () => {
    const result = lintSources([{ file: 'w.yaml', text: 'version: v1\nname: v\ntype: volume\nvolume: {size: 1Gi, accessMode: ReadWriteOnce, type: temp, extra: 1}\n' }], offlineManifestContext(), opts)
    expect(result.issues).toHaveLength(1)
    expect(result.documents).toEqual([])
  })

  it('a request value with the wrong shape everywhere still lints without throwing', () => {
    const value = { version: 'v2alpha', name: 'x', type: 'workflow', spec: { schedule: 7, dag: [{ name: 3, depends: 'a', spec: { stack: 9 } }] } }
    const result = lintValue(value, offlineManifestContext())
    expect(result.issues.length).toBeGreaterThan(0)
    expect(result.documents).toEqual([])
  })
})

describe('columns point at the key', () => {
  it('of a wrong value and of an unknown key alike', () => {
    const text = 'version: v2alpha\nname: cols\ntype: workflow\nspec:\n  dag:\n    - name: a\n      retry: {count: many, strategy: Always, extra: 1}\n      spec: {stack: container, stackSpec: {image: x}}\n'
    expect(lint(text)).toEqual([
      // `      retry: {count: many, ...}`: count starts at column 15, extra at 46.
      'w.yaml:7:15  must be an integer (spec.dag[0].retry.count)',
      'w.yaml:7:46  unknown field "extra" (spec.dag[0].retry.extra)',
    ])
  })
})

describe('files', () => {
  it('a missing file says no such file: PATH, without an invented position', async () => {
    const missing = join(tmpdir(), 'ctl-surely-missing', 'none.yaml')
    const result = await lintFiles([missing], offlineManifestContext(), opts)
    expect(result.issues.map(formatIssue)).toEqual([`no such file: ${missing}`])
  })
})
