// `ctl server start` with a server config file, through the built CLI: a bad file ends the command with its
// located problems and the invalid-input exit code; a good one selects the Kubernetes runtime (the fake API
// server) for a detached control plane, with a flag outranking the file; --step-uid / --step-gid reach a detached
// control plane's steps (under root with bubblewrap: the owner of a file a step writes to a volume).
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { ExitCode } from '../../src/errors.js'
import { stopServer } from '../../src/controlplane/process.js'
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.js'
import { hasBwrap } from '../runtime/helpers.js'
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
    expect(missing.stderr).toBe('cannot read the server config file (no such file or directory): nowhere.yaml\nerror: 1 problem found\n')
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

/** A uid and gid no account uses (nobody is 65534): nothing is created on the machine for it. */
const STEP_ID = 65533
const isRoot = process.getuid?.() === 0
const stepUserSkip = !isRoot ? 'not root: steps run as the control plane\'s own user' : !hasBwrap ? 'bubblewrap is not installed' : undefined

/** Every file below `dir`. */
function filesBelow(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesBelow(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []))
}

describe('ctl server start --step-uid / --step-gid', () => {
  it('refuses root as the step user, saying why, from a flag or the file', async () => {
    const r = await runCli(['server', 'start', '--data-dir', dataDir('root-step-data'), '--step-uid', '0'], { env })
    expect(r.code).toBe(ExitCode.usage)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain('--step-uid 0 is root: a root control plane never runs a step as root; give an unprivileged uid from 1 to 2147483647')

    writeFileSync(join(tmp, 'root-step.yaml'), 'port: 0\nstepGid: 0\n')
    const file = await runCli(['server', 'start', '--config', 'root-step.yaml', '--data-dir', dataDir('root-step-file-data')], { env, cwd: tmp })
    expect(file.code).toBe(ExitCode.invalid)
    expect(file.stderr).toBe('root-step.yaml:2:1  stepGid 0 is root: a root control plane never runs a step as root; give an unprivileged gid from 1 to 2147483647 (default 65534) (stepGid)\nerror: 1 problem found\n')
  })

  it.skipIf(stepUserSkip !== undefined)(`a detached control plane runs its steps as that host user: what a step writes to a volume is theirs${stepUserSkip ? ` (skipped: ${stepUserSkip})` : ''}`, async () => {
    // Like /var/lib: the step user must be able to enter the data folder's parent to reach its volume.
    chmodSync(tmp, 0o711)
    const data = dataDir('step-user-data')
    const started = await runCli(['server', 'start', '--detach', '--data-dir', data, '--port', '0', '--step-uid', String(STEP_ID), '--step-gid', String(STEP_ID)], { env })
    expect(started.code, started.stderr).toBe(0)
    const url = /running at (http:\S+)/.exec(started.stdout)![1]!
    const client = new CtlClient({ baseUrl: url, apiKey: readFileSync(join(data, 'admin.apikey'), 'utf8').trim() })
    expect((await client.info()).runtime.detail).toContain(`steps run as host uid ${STEP_ID}:${STEP_ID}`)

    const volume = { name: 'shared', version: 'v1', type: 'volume', volume: { size: '1Gi', accessMode: 'ReadWriteMany', type: 'temp' } }
    const wf = {
      name: 'owner', version: 'v2alpha', type: 'workflow',
      spec: {
        dag: [{
          name: 'write',
          spec: {
            use: { volumes: [{ id: 'shared', directory: '/shared' }] },
            stack: 'script',
            stackSpec: { interpreter: 'sh', script: 'echo data > /shared/step-user-out.txt' },
          },
        }],
      },
    }
    await client.apply('public', [doc(volume, 'owner.yaml', 0), doc(wf, 'owner.yaml', 1)])
    const runs = await waitFor('a run', () => client.runs({ workspace: 'public', type: 'workflow', name: 'owner' }), (r) => r.length > 0)
    const end = await waitForRunEnd(client, runs[0]!.id)
    expect(end.run.state).toBe('succeeded')
    // Inside the sandbox the step sees its in-namespace uid; on the host its file belongs to the step user.
    const written = filesBelow(join(data, 'volumes')).filter((f) => f.endsWith('step-user-out.txt'))
    expect(written).toHaveLength(1)
    const st = statSync(written[0]!)
    expect([st.uid, st.gid]).toEqual([STEP_ID, STEP_ID])

    const stopped = await runCli(['server', 'stop', '--data-dir', data], { env })
    expect(stopped.code, stopped.stderr).toBe(0)
  }, 60_000)
})
