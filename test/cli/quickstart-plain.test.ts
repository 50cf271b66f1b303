// The README's quick start on a machine without bubblewrap (CTL_BWRAP names a binary that is not
// there): the steps run as plain processes, the volume at /workspace is the volume's host folder with
// the path rewritten, and the embedded start says once what isolation the steps get.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli, type CliResult } from './helpers.js'

const home = mkdtempSync(join(tmpdir(), 'ctl-cli-plain-'))
const env = { CTL_HOME: home, CTL_PORT: '0', CTL_APIKEY: '', CTL_BWRAP: join(home, 'no-bwrap-here') }
const ctl = (args: string[]): Promise<CliResult> => runCli(args, { env, timeoutMs: 120_000 })

afterAll(async () => {
  await ctl(['server', 'stop'])
  rmSync(home, { recursive: true, force: true })
})

describe('the quick start without bubblewrap', () => {
  it('runs `ctl resource apply -f examples/customer-batch-pipeline.yaml --wait` from a fresh CTL_HOME', async () => {
    const r = await ctl(['resource', 'apply', '-f', 'examples/customer-batch-pipeline.yaml', '--wait'])
    expect(r.stderr).toMatch(/^started the embedded control plane at http:\/\/127\.0\.0\.1:\d+/)
    const notices = r.stderr.split('\n').filter((l) => l.startsWith('local steps run as plain processes'))
    expect(notices).toEqual([
      expect.stringMatching(/^local steps run as plain processes \(bubblewrap not installed\): no isolation, .*; volumes are host folders; only steps of workflows owned by "admin" \(others need --allow-unsandboxed\) run$/),
    ])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/run r-\S+ of customer-batch-pipeline succeeded in [\d.]+s \(3 succeeded, 0 failed, 0 skipped of 3 steps\)/)
  })

  it('publish read what extract wrote, and each step notes the isolation it got', async () => {
    const publish = await ctl(['log', '-n', 'customer-batch-pipeline', '-c', 'publish'])
    expect(publish.code).toBe(0)
    expect(publish.stdout).toContain('published: {"customers": 42}')
    const node = await ctl(['runtime', 'get', '-n', 'customer-batch-pipeline', '--node', 'extract'])
    expect(node.code).toBe(0)
    expect(node.stdout).toContain('plain process, no sandbox (bubblewrap not installed)')
    expect(node.stdout).toMatch(/volume "\S+" at \/workspace is the host folder \S+ \(\/workspace rewritten/)
    const get = await ctl(['runtime', 'get', '-n', 'customer-batch-pipeline'])
    expect(get.stdout).toMatch(/runtime: local \(plain processes: bubblewrap is not installed\)/)
  })
})

describe('interpolation leaves scripts to their shell', () => {
  it('applies a bash script with ${#x} and ${x:0:3} as written (no unset-variable error), and the script prints the right values', async () => {
    const file = join(home, 'bash-script.yaml')
    writeFileSync(
      file,
      [
        'version: v2alpha',
        'name: bash-expansions',
        'type: workflow',
        'description: "made by ${WHO_APPLIES}"',
        'spec:',
        '  dag:',
        '    - name: count',
        '      spec:',
        '        stack: script',
        '        stackSpec:',
        '          interpreter: bash',
        '          script: |',
        '            x=abcdef',
        '            echo "len=${#x} head=${x:0:3} unset=[${NOT_SET_ANYWHERE}] default=${ALSO_UNSET:-dflt}"',
        '',
      ].join('\n'),
    )
    const r = await runCli(['resource', 'apply', '-f', file, '--wait'], { env: { ...env, WHO_APPLIES: 'ana', NOT_SET_ANYWHERE: undefined }, timeoutMs: 120_000 })
    expect(r.stderr).not.toContain('NOT_SET_ANYWHERE')
    expect(r.code).toBe(0)
    const log = await ctl(['log', '-n', 'bash-expansions'])
    expect(log.stdout).toContain('len=6 head=abc unset=[] default=dflt')
  })
})
