// Issue acceptance for the offline CLI: the examples lint clean, every broken
// manifest fails with exactly the located errors written next to it, and the
// dry run prints Pods that the Kubernetes OpenAPI schema accepts.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { ConfigMap, Pod, Secret } from 'kubernetes-models/v1'
import { describe, expect, it } from 'vitest'
import { repoRoot, runCli } from './helpers.js'

const invalidDir = join(repoRoot, 'examples', 'invalid')
const invalidFiles = readdirSync(invalidDir).filter((f) => f.endsWith('.yaml')).sort()

describe('ctl resource lint on examples/', () => {
  it('lints every example clean (exit 0), skipping examples/invalid through .ctlignore', async () => {
    const r = await runCli(['resource', 'lint', '-f', 'examples', '-R'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    for (const name of ['daily-report', 'customer-batch-pipeline', 'parallel-batch-pipeline', 'projected-workflow', 'nightly-cleanup', 'script-inventory', 'ctl-status-check']) {
      expect(r.stdout).toContain(` ${name}:`)
    }
    expect(r.stdout).toMatch(/lint\.\.\.complete \(\d+ resources valid\)/)
  })

  it('fails on examples/invalid with one located error per problem, naming every file (exit 1)', async () => {
    const r = await runCli(['resource', 'lint', '-f', 'examples/invalid'])
    expect(r.code).toBe(1)
    const expected = invalidFiles.map((f) => readFileSync(join(invalidDir, f.replace(/\.yaml$/, '.expected')), 'utf8').trimEnd()).join('\n')
    const errorLines = r.stderr.trimEnd().split('\n')
    expect(errorLines.at(-1)).toMatch(/^error: \d+ problems found$/)
    expect(errorLines.slice(0, -1).join('\n')).toBe(expected)
    for (const f of invalidFiles) expect(r.stderr).toContain(`examples/invalid/${f}:`)
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/) // no stack trace
  })

  it.each(invalidFiles)('%s fails with exactly the expected text', async (file) => {
    const r = await runCli(['resource', 'lint', '-f', `examples/invalid/${file}`])
    expect(r.code).toBe(1)
    const expected = readFileSync(join(invalidDir, file.replace(/\.yaml$/, '.expected')), 'utf8').trimEnd()
    expect(expected.length).toBeGreaterThan(0)
    expect(r.stderr.trimEnd().split('\n').slice(0, -1).join('\n')).toBe(expected)
  })

  it('reads a manifest from standard input', async () => {
    const text = readFileSync(join(repoRoot, 'examples', 'daily-report.yaml'), 'utf8')
    const r = await runCli(['resource', 'lint', '-f', '-'], { input: text })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('linting(public) daily-report:v2alpha:workflow...valid')
  })

  it('interpolates ${VAR} from the environment and names an unset one with file and line', async () => {
    const text = 'version: v1\nname: ${VOLUME_NAME}\ntype: volume\nvolume: {size: 1Gi, accessMode: ReadWriteOnce, type: temp}\n'
    const ok = await runCli(['resource', 'lint', '-f', '-'], { input: text, env: { VOLUME_NAME: 'scratch' } })
    expect(ok.stdout).toContain('linting(public) scratch:v1:volume...valid')
    const bad = await runCli(['resource', 'lint', '-f', '-'], { input: text, env: { VOLUME_NAME: undefined } })
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('<stdin>:2:7  environment variable VOLUME_NAME is not set')
    const literal = await runCli(['resource', 'lint', '-f', '-', '--disable-interpolation'], { input: text })
    expect(literal.code).toBe(1)
    expect(literal.stderr).toContain('invalid name "${VOLUME_NAME}"')
  })

  it('exits 2 on a usage mistake, with a one-line reason', async () => {
    const r = await runCli(['resource', 'lint'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('no manifest given')
    const unknown = await runCli(['resource', 'lint', '-f', 'examples', '--no-such-flag'])
    expect(unknown.code).toBe(2)
  })
})

describe('ctl resource apply --dry-run', () => {
  it('prints valid Kubernetes v1 Pods for projected-workflow.yaml, with no secret value', async () => {
    const r = await runCli(['resource', 'apply', '-f', 'examples/projected-workflow.yaml', '--dry-run', '-o', 'yaml'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const objects = parseAllDocuments(r.stdout).map((d) => d.toJS() as { kind: string; metadata: { name: string } })
    const pods = objects.filter((o) => o.kind === 'Pod')
    expect(pods).toHaveLength(1)
    for (const o of objects) {
      const Model = { Pod, ConfigMap, Secret }[o.kind as 'Pod' | 'ConfigMap' | 'Secret']
      expect(Model, `unexpected kind ${o.kind}`).toBeDefined()
      expect(() => new Model(o as never).validate()).not.toThrow()
    }
    const pod = pods[0] as unknown as { spec: { containers: { name: string; env: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[] }[] } }
    expect(pod.spec.containers[0]!.name).toBe('run-task')
    const token = pod.spec.containers[0]!.env.find((e) => e.name === 'API_TOKEN')!
    expect(token.value).toBeUndefined()
    expect(token.valueFrom?.secretKeyRef?.key).toBeTruthy()
    // The secret's value from examples/workflow-secret.yaml appears nowhere.
    const secretValue = 'demo-token-change-me'
    expect(readFileSync(join(repoRoot, 'examples', 'workflow-secret.yaml'), 'utf8')).toContain(secretValue)
    expect(r.stdout).not.toContain(secretValue)
    expect(r.stdout).not.toContain('report_reader')
  })

  it('prints a List in JSON and a step table by default', async () => {
    const json = await runCli(['resource', 'apply', '-f', 'examples/parallel-batch-pipeline.yaml', '--dry-run', '-o', 'json'])
    expect(json.code).toBe(0)
    const list = JSON.parse(json.stdout) as { kind: string; items: { metadata: { name: string } }[] }
    expect(list.kind).toBe('List')
    expect(list.items.map((i) => i.metadata.name)).toEqual([
      'parallel-batch-pipeline-fetch-customers-dryrun-1',
      'parallel-batch-pipeline-fetch-orders-dryrun-1',
      'parallel-batch-pipeline-merge-data-dryrun-1',
    ])
    const table = await runCli(['resource', 'apply', '-f', 'examples/parallel-batch-pipeline.yaml', '--dry-run'])
    expect(table.stdout).toContain('merge-data')
    expect(table.stdout).toContain('fetch-customers, fetch-orders')
  })

  it('lints only with --lint and refuses --lint with --dry-run', async () => {
    const lint = await runCli(['resource', 'apply', '-f', 'examples/daily-report.yaml', '--lint'])
    expect(lint.code).toBe(0)
    expect(lint.stdout).toContain('applying(public) daily-report:v2alpha:workflow...valid')
    const both = await runCli(['resource', 'apply', '-f', 'examples/daily-report.yaml', '--lint', '--dry-run'])
    expect(both.code).toBe(2)
  })
})

describe('ctl develop', () => {
  it('prints the JSON Schema of a type and version', async () => {
    const r = await runCli(['develop', 'schema', 'get', '-t', 'workflow', '-v', 'v2alpha'])
    expect(r.code).toBe(0)
    const schema = JSON.parse(r.stdout) as { properties: Record<string, unknown> }
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['name', 'version', 'type', 'spec']))
    const bad = await runCli(['develop', 'schema', 'get', '-t', 'workflow', '-v', 'v9'])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/v9/)
  })

  it('lists the built-in stacks', async () => {
    const r = await runCli(['develop', 'stack', 'list'])
    expect(r.code).toBe(0)
    for (const s of ['container', 'script', 'ctl']) expect(r.stdout).toMatch(new RegExp(`^${s}\\s`, 'm'))
  })

  it('prints its version', async () => {
    const r = await runCli(['version'])
    expect(r.stdout).toMatch(/^ctl \d+\.\d+\.\d+/)
  })
})
