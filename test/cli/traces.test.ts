// Traces through the built CLI: the embedded control plane it starts inherits OTEL_EXPORTER_OTLP_ENDPOINT and
// exports to the in-test receiver; `runtime get` shows the run's trace id (table and -o json); `server stop`
// flushes every span before the process ends.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js'
import { runCli, type CliResult } from './helpers.js'

const home = mkdtempSync(join(tmpdir(), 'ctl-cli-traces-'))
let receiver: OtlpReceiver
const ctl = (args: string[]): Promise<CliResult> => runCli(args, { env: { CTL_HOME: home, CTL_PORT: '0', CTL_APIKEY: '', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint } })

beforeAll(async () => {
  receiver = await startOtlpReceiver()
})

afterAll(async () => {
  await ctl(['server', 'stop'])
  await receiver?.close()
  rmSync(home, { recursive: true, force: true })
})

describe('traces through the CLI', () => {
  it('runtime get shows the trace id; server stop exports the run\'s spans', async () => {
    const file = join(home, 'traced.yaml')
    writeFileSync(file, `
version: v2alpha
name: cli-traced
type: workflow
spec:
  dag:
    - name: hello
      spec: {stack: script, stackSpec: {interpreter: sh, script: "echo hello"}}
    - name: bye
      depends: [hello]
      spec: {stack: script, stackSpec: {interpreter: sh, script: "echo bye"}}
`)
    const applied = await ctl(['resource', 'apply', '-f', file, '--wait'])
    expect(applied.code, applied.stderr).toBe(0)
    const json = await ctl(['resource', 'runtime', 'get', '-t', 'workflow', '-n', 'cli-traced', '-o', 'json'])
    expect(json.code, json.stderr).toBe(0)
    const run = (JSON.parse(json.stdout) as { run: { run: { id: string; traceId?: string } } }).run.run
    expect(run.traceId).toMatch(/^[0-9a-f]{32}$/)
    const table = await ctl(['resource', 'runtime', 'get', '-t', 'workflow', '-n', 'cli-traced'])
    expect(table.stdout).toContain(`trace: ${run.traceId}`)

    expect((await ctl(['server', 'stop'])).stdout).toContain('control plane stopped')
    const spans = receiver.spans.filter((s) => s.traceId === run.traceId)
    expect(spans.map((s) => s.name).sort()).toEqual(['run cli-traced', 'step bye', 'step hello'])
    expect(spans.every((s) => s.attributes['ctl.run.id'] === run.id)).toBe(true)
  })
})
