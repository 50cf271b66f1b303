// The server config file and how it layers with flags, CTL_* variables and defaults: real files in a temp
// folder, resolveServerSettings called as the command calls it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { DEFAULT_LOCAL_PORT } from '../../src/cli/connect.js'
import { CtlError, ExitCode, ManifestError, formatIssue } from '../../src/errors.js'
import { SERVER_CONFIG_FILE, SERVER_DEFAULTS, resolveServerSettings, type ServerStartFlags } from '../../src/controlplane/config-file.js'

const root = mkdtempSync(join(tmpdir(), 'ctl-server-config-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

let count = 0
/** A fresh folder holding `server.yaml` with this text (when given). */
function folder(text?: string): string {
  const dir = join(root, `case-${++count}`)
  mkdirSync(dir)
  if (text !== undefined) writeFileSync(join(dir, SERVER_CONFIG_FILE), text)
  return dir
}

const FULL = `# every setting
port: 8081
host: 0.0.0.0
maxParallelSteps: 4
maxStepsPerWorkflow: 200
maxForEachItems: 50
logRetention: 12h
runtime: kubernetes
kubernetes:
  kubeconfig: kube/config
  context: kind-ctl
  namespacePrefix: team-
  manageNamespaces: true
  imagePullGrace: 90s
  gcWhenComplete: false
  podTtl: 10m
  storageClass: fast
`

/** The message the CLI prints for a ManifestError, one line per problem. */
async function problems(text: string, flags: ServerStartFlags = {}): Promise<string[]> {
  const dataDir = folder(text)
  const err = await resolveServerSettings({ flags, env: {}, dataDir }).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(ManifestError)
  expect((err as ManifestError).exitCode).toBe(ExitCode.invalid)
  // Paths relative to the data dir, so that the expectations read like the .expected files.
  return (err as ManifestError).issues.map((issue) => formatIssue({ ...issue, file: issue.file.slice(dataDir.length + 1) }))
}

describe('resolveServerSettings', () => {
  it('uses the built-in defaults without flags, variables or file', async () => {
    const r = await resolveServerSettings({ flags: {}, env: {}, dataDir: folder() })
    expect(r.options).toEqual({ port: 7419, host: '127.0.0.1', maxParallelSteps: 32, maxStepsPerWorkflow: 5000, maxForEachItems: 1000, logRetentionMs: 30 * 86_400_000, runtime: 'local' })
    expect(r.source.file).toBeUndefined()
    expect(r.source.settings.port).toBe('default')
    // The embedded control plane is looked for on this same port.
    expect(SERVER_DEFAULTS.port).toBe(DEFAULT_LOCAL_PORT)
  })

  it('reads <data-dir>/server.yaml, with a relative kubeconfig relative to the file', async () => {
    const dataDir = folder(FULL)
    const r = await resolveServerSettings({ flags: {}, env: {}, dataDir })
    expect(r.source.file).toBe(join(dataDir, SERVER_CONFIG_FILE))
    expect(r.options).toEqual({
      port: 8081, host: '0.0.0.0', maxParallelSteps: 4, maxStepsPerWorkflow: 200, maxForEachItems: 50, logRetentionMs: 12 * 3_600_000, runtime: 'kubernetes',
      kubernetes: {
        kubeconfigPath: join(dataDir, 'kube', 'config'), context: 'kind-ctl', namespacePrefix: 'team-', manageNamespaces: true,
        imagePullGraceSeconds: 90, gcWhenComplete: false, podTtlSeconds: 600, defaultStorageClass: 'fast',
      },
    })
    expect(new Set(Object.values(r.source.settings))).toEqual(new Set(['file']))
  })

  it('lets a flag outrank its variable, and both outrank the file', async () => {
    const dataDir = folder(FULL)
    const env = { CTL_MAX_PARALLEL_STEPS: '8', CTL_POD_TTL: '1h', CTL_NAMESPACE_PREFIX: 'env-', CTL_GC_WHEN_COMPLETE: 'yes' }
    const flags: ServerStartFlags = { port: 9000, 'pod-ttl': '30s', 'manage-namespaces': false, runtime: 'kubernetes' }
    const r = await resolveServerSettings({ flags, env, dataDir })
    expect(r.options).toMatchObject({ port: 9000, host: '0.0.0.0', maxParallelSteps: 8, runtime: 'kubernetes' })
    expect(r.options.kubernetes).toMatchObject({ podTtlSeconds: 30, namespacePrefix: 'env-', gcWhenComplete: true, manageNamespaces: false, context: 'kind-ctl' })
    expect(r.source.settings).toMatchObject({
      port: 'flag', host: 'file', maxParallelSteps: 'env', 'kubernetes.podTtl': 'flag', 'kubernetes.namespacePrefix': 'env',
      'kubernetes.gcWhenComplete': 'env', 'kubernetes.manageNamespaces': 'flag', 'kubernetes.context': 'file',
    })
  })

  it('reads --config (or CTL_SERVER_CONFIG) instead of the data dir\'s file; flag paths stay relative to the working folder', async () => {
    const dataDir = folder('port: 1111\n')
    const other = folder('port: 2222\nkubernetes:\n  kubeconfig: /etc/kube/config\n')
    const viaFlag = await resolveServerSettings({ flags: { config: join(other, SERVER_CONFIG_FILE) }, env: { CTL_SERVER_CONFIG: join(dataDir, SERVER_CONFIG_FILE) }, dataDir })
    expect(viaFlag.options.port).toBe(2222)
    const viaEnv = await resolveServerSettings({ flags: { runtime: 'kubernetes', kubeconfig: 'my/kubeconfig' }, env: { CTL_SERVER_CONFIG: join(other, SERVER_CONFIG_FILE) }, dataDir })
    expect(viaEnv.options.port).toBe(2222)
    expect(viaEnv.source.file).toBe(join(other, SERVER_CONFIG_FILE))
    expect(viaEnv.options.kubernetes?.kubeconfigPath).toBe(resolve('my/kubeconfig'))
    const home = await resolveServerSettings({ flags: { runtime: 'kubernetes' }, env: {}, dataDir: folder('kubernetes:\n  kubeconfig: ~/.kube/other\n') })
    expect(home.options.kubernetes?.kubeconfigPath).toBe(join(homedir(), '.kube', 'other'))
  })

  it('gives a detached child every effective setting as CTL_* variables, paths absolute', async () => {
    const dataDir = folder(FULL)
    const r = await resolveServerSettings({ flags: { 'log-retention': '0' }, env: {}, dataDir })
    expect(r.childEnv).toEqual({
      CTL_SERVER_CONFIG: join(dataDir, SERVER_CONFIG_FILE),
      CTL_RUNTIME: 'kubernetes',
      CTL_MAX_PARALLEL_STEPS: '4',
      CTL_MAX_STEPS_PER_WORKFLOW: '200',
      CTL_MAX_FOREACH_ITEMS: '50',
      CTL_LOG_RETENTION: '0',
      CTL_KUBECONFIG: join(dataDir, 'kube', 'config'),
      CTL_KUBE_CONTEXT: 'kind-ctl',
      CTL_NAMESPACE_PREFIX: 'team-',
      CTL_MANAGE_NAMESPACES: 'true',
      CTL_IMAGE_PULL_GRACE: '90s',
      CTL_GC_WHEN_COMPLETE: 'false',
      CTL_POD_TTL: '10m',
      CTL_STORAGE_CLASS: 'fast',
    })
    // Read back as variables, they give the same settings without the file.
    const child = await resolveServerSettings({ flags: { port: r.options.port, host: r.options.host }, env: { ...r.childEnv, CTL_SERVER_CONFIG: undefined }, dataDir: folder() })
    expect(child.options).toEqual({ ...r.options, logRetentionMs: 0 })
  })

  it('accepts numbers as seconds for durations and 0 for log retention, and an empty file', async () => {
    const r = await resolveServerSettings({ flags: {}, env: {}, dataDir: folder('runtime: kubernetes\nlogRetention: 0\nkubernetes:\n  podTtl: 90\n  imagePullGrace: 0\n') })
    expect(r.options).toMatchObject({ logRetentionMs: 0, kubernetes: { podTtlSeconds: 90, imagePullGraceSeconds: 0 } })
    const empty = await resolveServerSettings({ flags: {}, env: {}, dataDir: folder('# nothing yet\n') })
    expect(empty.options.port).toBe(7419)
    expect(empty.source.file).toBeDefined()
  })
})

describe('server config file errors: file, line, column and field', () => {
  it('names a missing --config file', async () => {
    const missing = join(root, 'nowhere.yaml')
    const err = await resolveServerSettings({ flags: { config: missing }, env: {}, dataDir: folder() }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ManifestError)
    expect((err as ManifestError).message).toBe(`cannot read the server config file (no such file or directory): ${missing}`)
    expect((err as ManifestError).code).toBe('E_FILE')
  })

  it('reports bad YAML where it is', async () => {
    expect(await problems('port: 8080\nkubernetes:\n  context: a\n podTtl: 1m\n')).toEqual([
      'server.yaml:4:1  YAML syntax error: All mapping items must start at the same column',
    ])
    expect(await problems('port: 1\nport: 2\n')).toEqual(['server.yaml:2:1  duplicate key "port"'])
  })

  it('refuses unknown keys, with a did-you-mean', async () => {
    expect(await problems('port: 8080\nmaxParalelSteps: 3\nkubernetes:\n  namespacePrefx: x-\n  ttl: 1m\n')).toEqual([
      'server.yaml:2:1  unknown field "maxParalelSteps"; did you mean "maxParallelSteps"? (maxParalelSteps)',
      'server.yaml:4:3  unknown field "namespacePrefx"; did you mean "namespacePrefix"? (kubernetes.namespacePrefx)',
      'server.yaml:5:3  unknown field "ttl" (kubernetes.ttl)',
    ])
    // The data dir is not a setting of the file: the file may live in it.
    expect(await problems('dataDir: /var/lib/ctl\n')).toEqual(['server.yaml:1:1  unknown field "dataDir" (dataDir)'])
  })

  it('refuses wrong types and values', async () => {
    expect(await problems('port: "eighty"\nhost: 127.0.0.1\nmaxParallelSteps: 0\nruntime: docker\nkubernetes:\n  manageNamespaces: "yes"\n  podTtl: [1]\n')).toEqual([
      'server.yaml:1:1  must be an integer (port)',
      'server.yaml:3:1  must be at least 1 (maxParallelSteps)',
      'server.yaml:4:1  must be one of local, kubernetes (runtime)',
      'server.yaml:6:3  must be true or false (kubernetes.manageNamespaces)',
      'server.yaml:7:3  must be a string or an integer (kubernetes.podTtl)',
    ])
    expect(await problems('port: 70000\n')).toEqual(['server.yaml:1:1  must be at most 65535 (port)'])
    expect(await problems('- port: 1\n')).toEqual(['server.yaml:1:1  must be a mapping'])
    expect(await problems('port: 1\n---\nport: 2\n')).toEqual(['server.yaml:3:1  a server config file holds one YAML document; remove the "---" and what follows'])
  })

  it('refuses durations it cannot read', async () => {
    expect(await problems('logRetention: 30\nkubernetes:\n  imagePullGrace: 2 minutes\n  podTtl: soon\n')).toEqual([
      'server.yaml:1:1  logRetention 30 is not a duration (a unit is missing); write for example 500ms, 30s, 1m30s, 2h, 1d, 1w or PT1H (logRetention)',
      'server.yaml:3:3  imagePullGrace "2 minutes" is not a duration (a unit follows its number without a space); write for example 90 (seconds), 500ms, 30s, 1m30s, 2h, 1d or PT1H (kubernetes.imagePullGrace)',
      'server.yaml:4:3  podTtl "soon" is not a duration (a duration starts with a number); write for example 90 (seconds), 500ms, 30s, 1m30s, 2h, 1d or PT1H (kubernetes.podTtl)',
    ])
  })

  it('reports schema and duration problems together, in line order', async () => {
    expect(await problems('kubernetes:\n  podTtl: -5\n  namespacePrefx: a\nport: x\n')).toEqual([
      'server.yaml:2:3  podTtl -5 is not a duration; write for example 90 (seconds), 500ms, 30s, 1m30s, 2h, 1d or PT1H (kubernetes.podTtl)',
      'server.yaml:3:3  unknown field "namespacePrefx"; did you mean "namespacePrefix"? (kubernetes.namespacePrefx)',
      'server.yaml:4:1  must be an integer (port)',
    ])
  })

  it('checks the file even where a flag overrides it', async () => {
    expect(await problems('kubernetes:\n  podTtl: soon\n', { 'pod-ttl': '1m' })).toEqual([
      'server.yaml:2:3  podTtl "soon" is not a duration (a duration starts with a number); write for example 90 (seconds), 500ms, 30s, 1m30s, 2h, 1d or PT1H (kubernetes.podTtl)',
    ])
  })

  it('names the flag for a bad flag or variable value (usage errors)', async () => {
    const bad = async (flags: ServerStartFlags, env: Record<string, string>): Promise<CtlError> =>
      (await resolveServerSettings({ flags, env, dataDir: folder() }).catch((e: unknown) => e)) as CtlError
    const ttl = await bad({ 'pod-ttl': 'soon' }, {})
    expect(ttl).toBeInstanceOf(CtlError)
    expect([ttl.code, ttl.message]).toEqual(['E_USAGE', '--pod-ttl "soon" is not a duration (a duration starts with a number); write for example 90 (seconds), 500ms, 30s, 1m30s, 2h, 1d or PT1H'])
    const runtime = await bad({}, { CTL_RUNTIME: 'docker' })
    expect([runtime.code, runtime.message]).toEqual(['E_USAGE', 'runtime "docker" is not one of local, kubernetes'])
    // A Pod TTL is a Node timer: past 2^31-1 ms it would fire at once.
    const ttlBound = await bad({ 'pod-ttl': '25d' }, {})
    expect([ttlBound.code, ttlBound.message]).toEqual(['E_USAGE', '--pod-ttl "25d" is too long: at most 24d is allowed'])
    const bound = await bad({}, { CTL_MAX_STEPS_PER_WORKFLOW: '1000000' })
    expect([bound.code, bound.message]).toEqual(['E_USAGE', 'max steps per workflow 1000000 must be a whole number from 1 to 100000'])
    const fromEnv = await resolveServerSettings({ flags: {}, env: { CTL_MAX_STEPS_PER_WORKFLOW: '20' }, dataDir: folder() })
    expect([fromEnv.options.maxStepsPerWorkflow, fromEnv.source.settings.maxStepsPerWorkflow]).toEqual([20, 'env'])
    const items = await resolveServerSettings({ flags: { 'max-foreach-items': 5000 }, env: {}, dataDir: folder() })
    expect([items.options.maxForEachItems, items.source.settings.maxForEachItems]).toEqual([5000, 'flag'])
    const itemsBound = await bad({}, { CTL_MAX_FOREACH_ITEMS: '0' })
    expect([itemsBound.code, itemsBound.message]).toEqual(['E_USAGE', 'max forEach items 0 must be a whole number from 1 to 100000'])
    const steps = await bad({}, { CTL_MAX_PARALLEL_STEPS: 'many' })
    expect([steps.code, steps.message]).toEqual(['E_USAGE', 'CTL_MAX_PARALLEL_STEPS "many" is not a whole number'])
    const retention = await bad({ 'log-retention': 'long' }, {})
    expect([retention.code, retention.message]).toEqual(['E_USAGE', 'log retention "long" is not a duration (a duration starts with a number); write for example 500ms, 30s, 1m30s, 2h, 1d, 1w or PT1H'])
  })
})

describe('advertiseUrl (CTL_SERVER in every step)', () => {
  it('comes from the flag, its variable or the file, without a trailing slash, and reaches a detached child', async () => {
    const fromFile = await resolveServerSettings({ flags: {}, env: {}, dataDir: folder('advertiseUrl: http://ctl-control-plane.ctl-system.svc:7419/\n') })
    expect(fromFile.options.advertiseUrl).toBe('http://ctl-control-plane.ctl-system.svc:7419')
    expect(fromFile.source.settings.advertiseUrl).toBe('file')
    expect(fromFile.childEnv.CTL_ADVERTISE_URL).toBe('http://ctl-control-plane.ctl-system.svc:7419')
    const fromEnv = await resolveServerSettings({ flags: {}, env: { CTL_ADVERTISE_URL: 'https://ctl.example.com' }, dataDir: folder('advertiseUrl: http://other:1\n') })
    expect(fromEnv.options.advertiseUrl).toBe('https://ctl.example.com')
    const none = await resolveServerSettings({ flags: {}, env: {}, dataDir: folder() })
    expect(none.options).not.toHaveProperty('advertiseUrl')
  })

  it('refuses what is not an http(s) URL, in a flag or in the file', async () => {
    await expect(resolveServerSettings({ flags: { 'advertise-url': 'ctl.example.com' }, env: {}, dataDir: folder() })).rejects.toMatchObject({
      code: 'E_USAGE', message: expect.stringContaining('advertise URL "ctl.example.com" is not a URL'),
    })
    expect((await problems('advertiseUrl: ftp://x\n')).join('\n')).toContain('(advertiseUrl)')
  })
})

describe('adminKeyFile', () => {
  it('comes from the flag, CTL_ADMIN_KEY_FILE or the file (relative to the file), absolute, and reaches a detached child', async () => {
    const dir = folder('adminKeyFile: secret/key\n')
    const fromFile = await resolveServerSettings({ flags: {}, env: {}, dataDir: dir })
    expect([fromFile.options.adminKeyFile, fromFile.source.settings.adminKeyFile]).toEqual([join(dir, 'secret', 'key'), 'file'])
    expect(fromFile.childEnv.CTL_ADMIN_KEY_FILE).toBe(join(dir, 'secret', 'key'))
    const fromEnv = await resolveServerSettings({ flags: {}, env: { CTL_ADMIN_KEY_FILE: '/etc/ctl/admin/key' }, dataDir: dir })
    expect([fromEnv.options.adminKeyFile, fromEnv.source.settings.adminKeyFile]).toEqual(['/etc/ctl/admin/key', 'env'])
    const none = await resolveServerSettings({ flags: {}, env: {}, dataDir: folder() })
    expect(none.options).not.toHaveProperty('adminKeyFile')
  })
})

describe('masterKeyFile', () => {
  it('comes from the flag, CTL_MASTER_KEY_FILE or the file (relative to the file), absolute, and reaches a detached child', async () => {
    const dir = folder('masterKeyFile: keys/ctl.key\n')
    const fromFile = await resolveServerSettings({ flags: {}, env: {}, dataDir: dir })
    expect(fromFile.options.masterKeyFile).toBe(join(dir, 'keys', 'ctl.key'))
    expect(fromFile.source.settings.masterKeyFile).toBe('file')
    expect(fromFile.childEnv.CTL_MASTER_KEY_FILE).toBe(join(dir, 'keys', 'ctl.key'))
    const fromEnv = await resolveServerSettings({ flags: {}, env: { CTL_MASTER_KEY_FILE: '/etc/ctl/env.key' }, dataDir: dir })
    expect([fromEnv.options.masterKeyFile, fromEnv.source.settings.masterKeyFile]).toEqual(['/etc/ctl/env.key', 'env'])
    const fromFlag = await resolveServerSettings({ flags: { 'master-key-file': 'flag.key' }, env: { CTL_MASTER_KEY_FILE: '/etc/ctl/env.key' }, dataDir: dir })
    expect([fromFlag.options.masterKeyFile, fromFlag.source.settings.masterKeyFile]).toEqual([resolve('flag.key'), 'flag'])
    // Unset: the default outside the data folder is chosen at start (defaultMasterKeyFile).
    const none = await resolveServerSettings({ flags: {}, env: {}, dataDir: folder() })
    expect(none.options).not.toHaveProperty('masterKeyFile')
    expect(none.childEnv).not.toHaveProperty('CTL_MASTER_KEY_FILE')
  })

  it('is located in the file when it is not a path', async () => {
    expect(await problems('port: 1\nmasterKeyFile: 42\n')).toEqual(['server.yaml:2:1  must be a string (masterKeyFile)'])
  })
})

describe('allowUnsandboxed (local runtime without bubblewrap)', () => {
  it('comes from --allow-unsandboxed, CTL_ALLOW_UNSANDBOXED or the file, and reaches a detached child', async () => {
    const dir = folder('allowUnsandboxed: true\n')
    const fromFile = await resolveServerSettings({ flags: {}, env: {}, dataDir: dir })
    expect(fromFile.options.allowUnsandboxed).toBe(true)
    expect(fromFile.source.settings).toMatchObject({ allowUnsandboxed: 'file' })
    expect(fromFile.childEnv).toMatchObject({ CTL_ALLOW_UNSANDBOXED: 'true' })
    const fromEnv = await resolveServerSettings({ flags: {}, env: { CTL_ALLOW_UNSANDBOXED: 'no' }, dataDir: dir })
    expect(fromEnv.options.allowUnsandboxed).toBe(false)
    expect(fromEnv.source.settings).toMatchObject({ allowUnsandboxed: 'env' })
    const fromFlag = await resolveServerSettings({ flags: { 'allow-unsandboxed': true }, env: { CTL_ALLOW_UNSANDBOXED: 'no' }, dataDir: folder() })
    expect(fromFlag.options.allowUnsandboxed).toBe(true)
    const child = await resolveServerSettings({ flags: {}, env: fromFlag.childEnv, dataDir: folder() })
    expect(child.options.allowUnsandboxed).toBe(true)
    const none = await resolveServerSettings({ flags: {}, env: {}, dataDir: folder() })
    expect(none.options).not.toHaveProperty('allowUnsandboxed')
    expect(none.childEnv).not.toHaveProperty('CTL_ALLOW_UNSANDBOXED')
  })

  it('is a boolean in the file, located', async () => {
    expect(await problems('port: 1\nallowUnsandboxed: sure\n')).toEqual(['server.yaml:2:1  must be true or false (allowUnsandboxed)'])
  })
})

describe('step user and cgroup parent (local runtime)', () => {
  it('come from the flag, their CTL_* variable or the file, and reach a detached child', async () => {
    const dir = folder('stepUid: 990\nstepGid: 991\ncgroupParent: /sys/fs/cgroup/ctl.slice\n')
    const fromFile = await resolveServerSettings({ flags: {}, env: {}, dataDir: dir })
    expect(fromFile.options).toMatchObject({ stepUid: 990, stepGid: 991, cgroupParent: '/sys/fs/cgroup/ctl.slice' })
    expect(fromFile.source.settings).toMatchObject({ stepUid: 'file', stepGid: 'file', cgroupParent: 'file' })
    expect(fromFile.childEnv).toMatchObject({ CTL_STEP_UID: '990', CTL_STEP_GID: '991', CTL_CGROUP_PARENT: '/sys/fs/cgroup/ctl.slice' })

    const env = { CTL_STEP_UID: '2000', CTL_STEP_GID: '2001', CTL_CGROUP_PARENT: '/sys/fs/cgroup/env.slice' }
    const fromEnv = await resolveServerSettings({ flags: {}, env, dataDir: dir })
    expect(fromEnv.options).toMatchObject({ stepUid: 2000, stepGid: 2001, cgroupParent: '/sys/fs/cgroup/env.slice' })
    expect(fromEnv.source.settings).toMatchObject({ stepUid: 'env', stepGid: 'env', cgroupParent: 'env' })

    const flags: ServerStartFlags = { 'step-uid': 65533, 'step-gid': 2147483647, 'cgroup-parent': '/sys/fs/cgroup/flag.slice/' }
    const fromFlag = await resolveServerSettings({ flags, env, dataDir: dir })
    expect(fromFlag.options).toMatchObject({ stepUid: 65533, stepGid: 2147483647, cgroupParent: '/sys/fs/cgroup/flag.slice' })
    expect(fromFlag.source.settings).toMatchObject({ stepUid: 'flag', stepGid: 'flag', cgroupParent: 'flag' })
    // Read back as variables, they give the same settings without the file.
    const child = await resolveServerSettings({ flags: { port: fromFlag.options.port, host: fromFlag.options.host }, env: fromFlag.childEnv, dataDir: folder() })
    expect(child.options).toEqual(fromFlag.options)

    // Unset: the local runtime's defaults (65534, the control plane's own cgroup), chosen at start.
    const none = await resolveServerSettings({ flags: {}, env: {}, dataDir: folder() })
    for (const key of ['stepUid', 'stepGid', 'cgroupParent']) expect(none.options).not.toHaveProperty(key)
    for (const key of ['CTL_STEP_UID', 'CTL_STEP_GID', 'CTL_CGROUP_PARENT']) expect(none.childEnv).not.toHaveProperty(key)
  })

  it('refuses root, ids out of range and a relative cgroup parent in the file, located, with the reason', async () => {
    expect(await problems('stepUid: 0\nstepGid: 2147483648\ncgroupParent: ctl.slice\n')).toEqual([
      'server.yaml:1:1  stepUid 0 is root: a root control plane never runs a step as root; give an unprivileged uid from 1 to 2147483647 (default 65534) (stepUid)',
      'server.yaml:2:1  stepGid 2147483648 must be a whole number from 1 to 2147483647 (default 65534) (stepGid)',
      'server.yaml:3:1  cgroupParent "ctl.slice" must be an absolute path, such as /sys/fs/cgroup/ctl.slice (cgroupParent)',
    ])
    expect(await problems('port: 1\nstepGid: 0\nstepUid: -5\n')).toEqual([
      'server.yaml:2:1  stepGid 0 is root: a root control plane never runs a step as root; give an unprivileged gid from 1 to 2147483647 (default 65534) (stepGid)',
      'server.yaml:3:1  stepUid -5 must be a whole number from 1 to 2147483647 (default 65534) (stepUid)',
    ])
    expect(await problems('stepUid: nobody\nstepGid: 1.5\ncgroupParent: ""\n')).toEqual([
      'server.yaml:1:1  must be an integer (stepUid)',
      'server.yaml:2:1  must be an integer (stepGid)',
      'server.yaml:3:1  must not be empty (cgroupParent)',
    ])
    // A flag does not hide a bad value in the file.
    expect(await problems('stepUid: 0\n', { 'step-uid': 990 })).toHaveLength(1)
  })

  it('refuses the same in a flag or variable, naming it (usage errors)', async () => {
    const bad = async (flags: ServerStartFlags, env: Record<string, string>): Promise<CtlError> =>
      (await resolveServerSettings({ flags, env, dataDir: folder() }).catch((e: unknown) => e)) as CtlError
    const root0 = await bad({ 'step-uid': 0 }, {})
    expect(root0).toBeInstanceOf(CtlError)
    expect([root0.code, root0.message]).toEqual(['E_USAGE', '--step-uid 0 is root: a root control plane never runs a step as root; give an unprivileged uid from 1 to 2147483647 (default 65534)'])
    const big = await bad({}, { CTL_STEP_GID: '4294967295' })
    expect([big.code, big.message]).toEqual(['E_USAGE', 'CTL_STEP_GID 4294967295 must be a whole number from 1 to 2147483647 (default 65534)'])
    const negative = await bad({}, { CTL_STEP_UID: '-1' })
    expect([negative.code, negative.message]).toEqual(['E_USAGE', 'CTL_STEP_UID "-1" is not a whole number'])
    const relative = await bad({ 'cgroup-parent': 'ctl.slice' }, {})
    expect([relative.code, relative.message]).toEqual(['E_USAGE', '--cgroup-parent "ctl.slice" must be an absolute path, such as /sys/fs/cgroup/ctl.slice'])
  })
})

describe('maxLogBytes (local runtime: the cap on a step attempt\'s stored log)', () => {
  it('comes from --max-log-bytes, CTL_MAX_LOG_BYTES or the file, and reaches a detached child', async () => {
    const dir = folder('maxLogBytes: 1048576\n')
    const fromFile = await resolveServerSettings({ flags: {}, env: {}, dataDir: dir })
    expect(fromFile.options.maxLogBytes).toBe(1048576)
    expect(fromFile.source.settings).toMatchObject({ maxLogBytes: 'file' })
    expect(fromFile.childEnv).toMatchObject({ CTL_MAX_LOG_BYTES: '1048576' })
    const fromEnv = await resolveServerSettings({ flags: {}, env: { CTL_MAX_LOG_BYTES: '2097152' }, dataDir: dir })
    expect(fromEnv.options.maxLogBytes).toBe(2097152)
    const fromFlag = await resolveServerSettings({ flags: { 'max-log-bytes': 65536 }, env: { CTL_MAX_LOG_BYTES: '2097152' }, dataDir: dir })
    expect(fromFlag.options.maxLogBytes).toBe(65536)
    const child = await resolveServerSettings({ flags: {}, env: fromFlag.childEnv, dataDir: folder() })
    expect(child.options.maxLogBytes).toBe(65536)
    // Unset: the runtime's default (64 MiB), chosen at start.
    const none = await resolveServerSettings({ flags: {}, env: {}, dataDir: folder() })
    expect(none.options).not.toHaveProperty('maxLogBytes')
    expect(none.childEnv).not.toHaveProperty('CTL_MAX_LOG_BYTES')
  })

  it('refuses a cap out of its range, in the file (located) and in a flag or variable (usage errors)', async () => {
    expect(await problems('port: 1\nmaxLogBytes: 1024\n')).toEqual([
      'server.yaml:2:1  maxLogBytes 1024 must be a whole number of bytes from 65536 (64 KiB) to 1099511627776 (1 TiB) (maxLogBytes)',
    ])
    expect(await problems('maxLogBytes: 64MiB\n')).toEqual(['server.yaml:1:1  must be an integer (maxLogBytes)'])
    const bad = async (flags: ServerStartFlags, env: Record<string, string>): Promise<CtlError> =>
      (await resolveServerSettings({ flags, env, dataDir: folder() }).catch((e: unknown) => e)) as CtlError
    const zero = await bad({ 'max-log-bytes': 0 }, {})
    expect([zero.code, zero.message]).toEqual(['E_USAGE', '--max-log-bytes 0 must be a whole number of bytes from 65536 (64 KiB) to 1099511627776 (1 TiB)'])
    const huge = await bad({}, { CTL_MAX_LOG_BYTES: String(2 ** 41) })
    expect([huge.code, huge.message]).toEqual(['E_USAGE', `CTL_MAX_LOG_BYTES ${2 ** 41} must be a whole number of bytes from 65536 (64 KiB) to 1099511627776 (1 TiB)`])
  })
})
