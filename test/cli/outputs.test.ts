// `ctl resource runtime get --node STEP` shows what the step wrote to $CTL_OUTPUTS; `-o json` carries every byte.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli, type CliResult } from './helpers.js'

const home = mkdtempSync(join(tmpdir(), 'ctl-cli-outputs-'))
const env = { CTL_HOME: home, CTL_PORT: '0', CTL_APIKEY: '' }
const ctl = (args: string[]): Promise<CliResult> => runCli(args, { env, timeoutMs: 120_000 })

afterAll(async () => {
  await ctl(['server', 'stop'])
  rmSync(home, { recursive: true, force: true })
})

describe('step outputs in the CLI', () => {
  it('runtime get --node shows them, -o json holds them whole', async () => {
    const file = join(home, 'outputs.yaml')
    writeFileSync(
      file,
      [
        'version: v2alpha',
        'name: outputs-demo',
        'type: workflow',
        'spec:',
        '  dag:',
        '    - name: build',
        '      spec:',
        '        stack: script',
        '        stackSpec:',
        '          interpreter: sh',
        '          script: |',
        '            echo "artifact=app-1.2.3.tar" >> "$CTL_OUTPUTS"',
        `            printf 'notes<<EOF\\nfirst\\nsecond\\nEOF\\n' >> "$CTL_OUTPUTS"`,
        `            printf 'esc=\\033[31mred\\n' >> "$CTL_OUTPUTS"`,
        '',
      ].join('\n'),
    )
    const applied = await ctl(['resource', 'apply', '-f', file, '--wait'])
    expect(applied.stderr + applied.stdout).toMatch(/succeeded/)
    expect(applied.code).toBe(0)
    const node = await ctl(['runtime', 'get', '-n', 'outputs-demo', '--node', 'build'])
    expect(node.code).toBe(0)
    const rows = node.stdout.split('\n').filter((l) => l.startsWith('build-1 '))
    expect(rows).toContainEqual(expect.stringMatching(/^build-1\s+\| artifact\s+\| app-1\.2\.3\.tar$/))
    expect(rows).toContainEqual(expect.stringMatching(/^build-1\s+\| notes\s+\| "first\\nsecond"$/))
    // A step's control characters never reach the terminal as they are.
    expect(rows).toContainEqual(expect.stringMatching(/^build-1\s+\| esc\s+\| "\\u001b\[31mred"$/))
    expect(node.stdout).not.toContain('\u001b')
    const json = await ctl(['runtime', 'get', '-n', 'outputs-demo', '-o', 'json'])
    expect(json.code).toBe(0)
    const value = JSON.parse(json.stdout) as { run: { steps: { step: string; outputs?: Record<string, string> }[] } }
    expect(value.run.steps.find((s) => s.step === 'build')?.outputs).toEqual({ artifact: 'app-1.2.3.tar', notes: 'first\nsecond', esc: '\u001b[31mred' })
  })
})
