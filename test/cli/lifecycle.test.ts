// The lifecycle through the real CLI, as a new user meets it: the embedded
// control plane starts by itself, runs the quick-start workflow, and apply /
// get / runtime / log / diff / delete behave as dataos-ctl and kubectl users expect.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, type CliResult } from './helpers.js'

const home = mkdtempSync(join(tmpdir(), 'ctl-cli-'))
const env = { CTL_HOME: home, CTL_PORT: '0', CTL_APIKEY: '' }
const ctl = (args: string[], extra: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<CliResult> => runCli(args, { env: { ...env, ...extra.env }, input: extra.input })

function manifestFile(name: string, text: string): string {
  const file = join(home, name)
  writeFileSync(file, text)
  return file
}

const failing = `
version: v2alpha
name: flaky-pipeline
type: workflow
spec:
  dag:
    - name: prepare
      spec:
        stack: container
        stackSpec: {image: alpine, command: [sh, -c, "echo preparing"]}
    - name: crunch
      depends: [prepare]
      spec:
        stack: script
        stackSpec:
          interpreter: sh
          script: |
            echo "crunching"
            if [ ! -f /tmp/never-there ]; then echo "input missing" >&2; exit 3; fi
    - name: report
      depends: [crunch]
      spec:
        stack: container
        stackSpec: {image: alpine, command: [echo, report]}
`

beforeAll(() => undefined)
afterAll(async () => {
  await ctl(['server', 'stop'])
  rmSync(home, { recursive: true, force: true })
})

describe('the quick start on the embedded default', () => {
  it('applies and runs examples/customer-batch-pipeline.yaml with --wait, starting the control plane by itself', async () => {
    const r = await ctl(['resource', 'apply', '-f', 'examples/customer-batch-pipeline.yaml', '--wait'])
    expect(r.stderr).toMatch(/^started the embedded control plane at http:\/\/127\.0\.0\.1:\d+/)
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('applying(public) customer-data:v1:volume...created')
    expect(r.stdout).toContain('applying(public) customer-batch-pipeline:v2alpha:workflow...created')
    expect(r.stdout).toMatch(/run r-\S+ of customer-batch-pipeline succeeded in [\d.]+s \(3 succeeded, 0 failed, 0 skipped of 3 steps\)/)
  })

  it('shows only the extract step\'s output with --container extract, and publish read what extract wrote', async () => {
    const extract = await ctl(['resource', 'log', '-t', 'workflow', '-n', 'customer-batch-pipeline', '--container', 'extract'])
    expect(extract.code).toBe(0)
    expect(extract.stdout).toMatch(/NODE NAME\s+\| CONTAINER NAME \| ERROR/)
    expect(extract.stdout).toContain('extract-1 | extract')
    expect(extract.stdout).toContain('-------------------LOGS-------------------')
    expect(extract.stdout).toContain('extracted 18 bytes')
    expect(extract.stdout).not.toContain('validation passed')
    expect(extract.stdout).not.toContain('publish complete')
    const publish = await ctl(['log', '-n', 'customer-batch-pipeline', '-c', 'publish'])
    expect(publish.stdout).toContain('published: {"customers": 42}')
    expect(publish.stdout).not.toContain('extracted')
  })

  it('lists it with get, as NAME | VERSION | TYPE | WORKSPACE | STATUS | RUNTIME | OWNER', async () => {
    const r = await ctl(['get'])
    expect(r.code).toBe(0)
    expect(r.stdout.split('\n')[0]).toMatch(/^NAME\s+\| VERSION \| TYPE\s+\| WORKSPACE \| STATUS \| RUNTIME\s+\| OWNER$/)
    expect(r.stdout).toMatch(/customer-batch-pipeline \| v2alpha \| workflow \| public\s+\| active \| succeeded \| admin/)
    const json = JSON.parse((await ctl(['get', '-t', 'workflow', '-o', 'json'])).stdout) as { name: string; runtime: string }[]
    expect(json.map((x) => x.name)).toEqual(['customer-batch-pipeline'])
  })

  it('answers unchanged to the same apply, and diff exits 0 / 1 / >1 like kubectl', async () => {
    const again = await ctl(['apply', '-f', 'examples/customer-batch-pipeline.yaml'])
    expect(again.stdout).toContain('customer-batch-pipeline:v2alpha:workflow...unchanged')
    const same = await ctl(['resource', 'diff', '-f', 'examples/customer-batch-pipeline.yaml'])
    expect(same.code).toBe(0)
    expect(same.stdout.trim()).toBe('')
    const changed = manifestFile('changed.yaml', (await import('node:fs')).readFileSync('examples/daily-report.yaml', 'utf8'))
    const created = await ctl(['resource', 'diff', '-f', changed])
    expect(created.code).toBe(1)
    expect(created.stdout).toContain('+++ applied workflow/daily-report (public)')
    const broken = manifestFile('broken.yaml', 'version: v2alpha\nname: Bad_Name\ntype: workflow\nspec: {dag: []}\n')
    const error = await ctl(['resource', 'diff', '-f', broken])
    expect(error.code).toBeGreaterThan(1)
  })

  it('keeps old revisions when the content changes, and --dry-run=server stores nothing', async () => {
    const text = (await import('node:fs')).readFileSync('examples/daily-report.yaml', 'utf8')
    const file = manifestFile('daily.yaml', text)
    expect((await ctl(['apply', '-f', file, '--wait'])).code).toBe(0)
    const dry = await ctl(['apply', '-f', manifestFile('daily-dry.yaml', text.replace('Generating report', 'Dry report')), '--dry-run=server'])
    expect(dry.stdout).toContain('daily-report:v2alpha:workflow...would be updated (server dry run)')
    let revisions = await ctl(['get', '-t', 'workflow', '-n', 'daily-report', '--revisions'])
    expect(revisions.stdout).toMatch(/^1\s+\|/m)
    expect(revisions.stdout).not.toMatch(/^2\s+\|/m)
    expect((await ctl(['apply', '-f', manifestFile('daily2.yaml', text.replace('Generating report', 'Generating the report')), '--wait'])).code).toBe(0)
    revisions = await ctl(['get', '-t', 'workflow', '-n', 'daily-report', '--revisions'])
    expect(revisions.stdout).toMatch(/^1\s+\|/m)
    expect(revisions.stdout).toMatch(/^2\s+\|/m)
    const log = await ctl(['log', '-n', 'daily-report'])
    expect(log.stdout).toContain('Generating the report')
  })
})

describe('runs', () => {
  it('runs now, shows the runtime tables, and a node in detail', async () => {
    const run = await ctl(['resource', 'runtime', 'run', '-t', 'workflow', '-n', 'customer-batch-pipeline', '--wait'])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/run r-\S+ of customer-batch-pipeline started \(trigger manual\)/)
    const get = await ctl(['runtime', 'get', '-n', 'customer-batch-pipeline'])
    expect(get.code).toBe(0)
    expect(get.stdout).toMatch(/JOB NAME \| STACK\s+\| JOB TITLE\s+\| JOB DEPENDENCIES/)
    expect(get.stdout).toMatch(/validate \| container \| Validate extracted data\s+\| extract/)
    expect(get.stdout).toMatch(/RUN ID\s+\| TRIGGER \| RUNTIME\s+\| PROGRESS\s+\| STARTED/)
    expect(get.stdout).toMatch(/\| manual\s+\| succeeded \| 3 succeeded, 0 failed, 0 skipped of 3 steps/)
    expect(get.stdout).toMatch(/NODE NAME\s+\| JOB NAME \| POD NAME/)
    expect(get.stdout).toMatch(/RECENT RUNS/)
    expect(get.stdout).toMatch(/runtime: local \((bubblewrap sandbox|plain processes: bubblewrap is not installed)\)/)
    const node = await ctl(['runtime', 'get', '-n', 'customer-batch-pipeline', '--node', 'extract'])
    expect(node.stdout).toMatch(/extract-1 \| extract/)
    expect(node.stdout).toMatch(/CONTAINER NAME \| IMAGE/)
  })

  it('fails a run when a step fails, skips its dependents, exits 1, and shows the error in the log header', async () => {
    const file = manifestFile('flaky.yaml', failing)
    const r = await ctl(['apply', '-f', file, '--wait'])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/crunch-1 failed \S+: exit code 3/)
    expect(r.stdout).toMatch(/report skipped/)
    expect(r.stdout).toMatch(/run r-\S+ of flaky-pipeline failed/)
    expect(r.stderr).toContain('see the logs: ctl resource log -t workflow -n flaky-pipeline')
    const log = await ctl(['log', '-n', 'flaky-pipeline', '--container', 'crunch'])
    expect(log.stdout).toMatch(/crunch-1\s+\| crunch\s+\| .*exit code 3|crunch-1\s+\| crunch\s+\| Error/)
    expect(log.stdout).toContain('input missing')
    const retry = await ctl(['resource', 'runtime', 'retry', '-n', 'flaky-pipeline', '--wait'])
    expect(retry.code).toBe(1)
    expect(retry.stdout).toMatch(/retrying the failed and skipped steps/)
  })

  it('stops a running run: it ends killed', async () => {
    const file = manifestFile('slow.yaml', 'version: v2alpha\nname: slow-one\ntype: workflow\nspec:\n  dag:\n    - name: nap\n      spec:\n        stack: container\n        stackSpec: {image: alpine, command: [sleep, "30"]}\n')
    expect((await ctl(['apply', '-f', file])).code).toBe(0)
    for (let i = 0; i < 50; i++) {
      const row = JSON.parse((await ctl(['get', '-t', 'workflow', '-n', 'slow-one', '-o', 'json'])).stdout) as { runtime: string }[]
      if (row[0]?.runtime === 'running') break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const stop = await ctl(['runtime', 'stop', '-n', 'slow-one'])
    expect(stop.code).toBe(0)
    expect(stop.stdout).toMatch(/run r-\S+ of slow-one killed/)
  })
})

describe('every example on the embedded default', () => {
  it('runs every example workflow to succeeded (the scheduled one on demand)', async () => {
    const applied = await ctl(['apply', '-f', 'examples', '-R'])
    expect(applied.code).toBe(0)
    const names = ['heavy-aggregation', 'ctl-status-check', 'daily-report', 'parallel-batch-pipeline', 'projected-workflow', 'script-inventory']
    let rows: { name: string; runtime: string }[] = []
    for (let i = 0; i < 100; i++) {
      rows = JSON.parse((await ctl(['get', '-t', 'workflow', '-o', 'json'])).stdout) as typeof rows
      if (names.every((n) => ['succeeded', 'failed'].includes(rows.find((r) => r.name === n)?.runtime ?? ''))) break
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    for (const n of names) expect(`${n}: ${rows.find((r) => r.name === n)?.runtime}`).toBe(`${n}: succeeded`)
    expect(rows.find((r) => r.name === 'nightly-cleanup')?.runtime).toMatch(/^next:\d{4}-\d\d-\d\dT/)
    const nightly = await ctl(['runtime', 'run', '-n', 'nightly-cleanup', '--wait'])
    expect(nightly.code).toBe(0)
    const ctlStep = await ctl(['log', '-n', 'ctl-status-check'])
    expect(ctlStep.stdout).toContain('linting(public) embedded-hello:v2alpha:workflow...valid')
    const projected = await ctl(['log', '-n', 'projected-workflow'])
    expect(projected.stdout).toMatch(/Workflow: r-\S+, step run-task/)
  })
})

describe('delete and errors', () => {
  it('refuses to delete a volume a workflow uses, unless --force', async () => {
    const refused = await ctl(['delete', '-t', 'volume', '-n', 'customer-data'])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('customer-batch-pipeline')
    const wf = await ctl(['resource', 'delete', '-t', 'workflow', '-n', 'customer-batch-pipeline'])
    expect(wf.stdout).toContain('deleting(public) customer-batch-pipeline:v2alpha:workflow...deleted')
    const vol = await ctl(['delete', '-t', 'volume', '-n', 'customer-data'])
    expect(vol.code).toBe(0)
    // Gone from listings (exit 3 by name), while its stored manifest stays readable with -d.
    const missing = await ctl(['get', '-t', 'workflow', '-n', 'customer-batch-pipeline'])
    expect(missing.code).toBe(3)
    const kept = await ctl(['get', '-t', 'workflow', '-n', 'customer-batch-pipeline', '-d'])
    expect(kept.code).toBe(0)
    expect(kept.stdout).toMatch(/customer-batch-pipeline \| v2alpha \| workflow \| public\s+\| deleted/)
  })

  it('exits 4 with a wrong API key and 5 when the control plane cannot be reached', async () => {
    const denied = await ctl(['get'], { env: { CTL_APIKEY: 'ctl_wrong' } })
    expect(denied.code).toBe(4)
    expect(denied.stderr.trim().split('\n')).toHaveLength(1)
    await ctl(['context', 'add', 'nowhere', '--server', 'http://127.0.0.1:9'])
    const down = await ctl(['get', '--context', 'nowhere'])
    expect(down.code).toBe(5)
    expect(down.stderr).toContain('unreachable')
  })

  it('reports server status and stops', async () => {
    const status = await ctl(['server', 'status'])
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(/^running at http:\/\/127\.0\.0\.1:\d+/)
    expect((await ctl(['server', 'stop'])).stdout).toContain('control plane stopped')
    expect((await ctl(['server', 'status'])).code).toBe(5)
  })
})
