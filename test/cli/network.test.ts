// `network: none` through the offline CLI: the schema shows the field and the dry run prints the
// Pod with the label and annotation the runtimes act on.
import { parseAllDocuments } from 'yaml'
import { describe, expect, it } from 'vitest'
import { runCli } from './helpers.js'

const manifest = `version: v2alpha
name: isolated
type: workflow
spec:
  network: none
  dag:
    - name: cut-off
      spec: {stack: container, stackSpec: {image: alpine, command: [sh, -c, "true"]}}
    - name: online
      depends: [cut-off]
      spec: {stack: container, network: default, stackSpec: {image: alpine, command: [sh, -c, "true"]}}
`

interface Meta { kind: string; metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> } }

describe('network: none', () => {
  it('the dry run labels and annotates only the Pods of steps without network', async () => {
    const r = await runCli(['resource', 'apply', '-f', '-', '--dry-run', '-o', 'yaml'], { input: manifest })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const pods = parseAllDocuments(r.stdout).map((d) => d.toJS() as Meta).filter((o) => o.kind === 'Pod')
    expect(pods.map((p) => [p.metadata.name, p.metadata.labels?.['ctl.dev/network'], p.metadata.annotations?.['ctl.dev/network']])).toEqual([
      ['isolated-cut-off-dryrun-1', 'none', 'none'],
      ['isolated-online-dryrun-1', undefined, undefined],
    ])
  })

  it('ctl develop schema get shows the field at workflow and step level, in v2alpha and v1', async () => {
    for (const [version, body] of [['v2alpha', 'spec'], ['v1', 'workflow']] as const) {
      const r = await runCli(['develop', 'schema', 'get', '-t', 'workflow', '-v', version])
      expect(r.code).toBe(0)
      const text = r.stdout
      const schema = JSON.parse(text) as { properties: Record<string, { properties?: Record<string, unknown> }> }
      expect(Object.keys(schema.properties[body]!.properties!)).toContain('network')
      expect(text.match(/"network"/g)?.length).toBeGreaterThanOrEqual(2)
      expect(text).toContain('"none"')
    }
  })

  it('lint refuses another value, located', async () => {
    const r = await runCli(['resource', 'lint', '-f', '-'], { input: manifest.replace('network: none', 'network: host') })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^<stdin>:5:\d+ .*\(spec\.network\)$/m)
  })
})
