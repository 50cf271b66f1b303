// `ctl server start` with a server config file, through the built CLI: a bad file ends the command with its
// located problems and the invalid-input exit code; a good one selects the Kubernetes runtime (the fake API
// server) for a detached control plane, with a flag outranking the file.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { ExitCode } from '../../src/errors.js'
import { stopServer } from '../../src/server/process.js'
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.js'
import { doc, waitFor, waitForRunEnd, workflow } from '../server/helpers.js'
import { runCli } from './helpers.js'

const tmp = mkdtempSync(join(tmpdir(), 'ctl-cli-server-config-'))
const dataDirs: string[] = []
const env = { CTL_HOME: join(tmp, 'home') }

afterAll(async () => {
  for (const dir of dataDirs) await stopServer(dir, 5000).catch(() => undefined)
  rmSync(tmp, { recursive: true, force: true })
})

function dataDir(name: string): string {
  const dir = join(tmp, name)
  dataDirs.push(dir)
  return dir
}

describe('ctl server start with a bad server config file', () => {
  it('prints every located problem of --config, no stack trace, and exits 1', async () => {
    writeFileSync(join(tmp, 'bad.yaml'), 'port: 8080\nruntime: kubernetes\nkubernetes:\n  podTtl: soon\n  namespacePrefx: team-\n')
    const r = await runCli(['server', 'start', '--config', 'bad.yaml', '--data-dir', dataDir('bad-data')], { env, cwd: tmp })
    expect(r.code).toBe(ExitCode.invalid)
    expect(r.stdout).toBe('')
    expect(r.stderr).toBe([
      'bad.yaml:4:3  podTtl "soon" is not a duration (a duration starts with a number); write for example 90 (seconds), 500ms, 30s, 1m30s, 2h, 1d or PT1H (kubernetes.podTtl)',
      'bad.yaml:5:3  unknown field "namespacePrefx"; did you mean "namespacePrefix"? (kubernetes.namespacePrefx)',
      'error: 2 problems found',
      '',
    ].join('\n'))
  })

  it('reads <data-dir>/server.yaml without --config, and names a missing --config file', async () => {
    const data = dataDir('default-data')
    mkdirSync(data)
    writeFileSync(join(data, 'server.yaml'), 'maxParallelSteps: many\n')
    const r = await runCli(['server', 'start', '--data-dir', data], { env })
    expect(r.code).toBe(ExitCode.invalid)
    expect(r.stderr).toBe(`${join(data, 'server.yaml')}:1:1  must be an integer (maxParallelSteps)\nerror: 1 problem found\n`)

    const missing = await runCli(['server', 'start', '--data-dir', data, '--detach'], { env: { ...env, CTL_SERVER_CONFIG: 'nowhere.yaml' }, cwd: tmp })
    expect(missing.code).toBe(ExitCode.invalid)
    expect(missing.stderr).toBe('nowhere.yaml:0:0  cannot read the server config file: no such file or directory\nerror: 1 problem found\n')
  })
})

describe('ctl server start --detach with a config file selecting the Kubernetes runtime', () => {
  let fake: FakeKube

  beforeAll(async () => {
    fake = await startFakeKube()
  })

  afterAll(async () => {
    await fake?.close()
  })

  it('runs steps as Pods on the file\'s cluster, with a flag outranking the file', async () => {
    // The kubeconfig path in the file is relative to the file.
    const confDir = join(tmp, 'conf')
    mkdirSync(join(confDir, 'kube'), { recursive: true })
    copyFileSync(fake.kubeconfigPath, join(confDir, 'kube', 'config'))
    writeFileSync(join(confDir, 'server.yaml'), [
      'port: 0',
      'runtime: kubernetes',
      'kubernetes:',
      '  kubeconfig: kube/config',
      '  context: fake',
      '  namespacePrefix: from-file-',
      '  manageNamespaces: true',
      '',
    ].join('\n'))
    const data = dataDir('kube-data')
    const started = await runCli(['server', 'start', '--detach', '--config', join(confDir, 'server.yaml'), '--data-dir', data, '--namespace-prefix', 'flag-'], { env })
    // A first start says where it put the data folder's new master key, and nothing else.
    expect(started.stderr).toMatch(/^(created the master key \S+ \(0600\): back it up apart from the data folder[^\n]*\n)?$/)
    expect(started.code).toBe(0)
    expect(started.stdout).toContain(`settings from ${join(confDir, 'server.yaml')}`)
    const url = /running at (http:\S+)/.exec(started.stdout)![1]!

    const client = new CtlClient({ baseUrl: url, apiKey: readFileSync(join(data, 'admin.apikey'), 'utf8').trim() })
    const info = await client.info()
    expect(info.runtime.name).toBe('kubernetes')
    expect(info.runtime.detail).toContain(`Pods on ${fake.url}`)
    expect(info.runtime.detail).toContain('(context fake), namespaces flag-<workspace>')

    // manageNamespaces from the file: the control plane creates the workspace's namespace itself.
    await client.apply('public', [doc(workflow('hello', { main: 'echo from the cluster' }))])
    const runs = await waitFor('a run', () => client.runs({ workspace: 'public', type: 'workflow', name: 'hello' }), (r) => r.length > 0)
    const end = await waitForRunEnd(client, runs[0]!.id)
    expect(end.run.state).toBe('succeeded')
    expect(fake.get('namespaces', undefined, 'flag-public')).toBeDefined()

    const stopped = await runCli(['server', 'stop', '--data-dir', data], { env })
    expect(stopped.code, stopped.stderr).toBe(0)
  }, 60_000)
})
