// `ctl resource get -a` over 10,000 resources: the control plane runs in this process
// (ephemeral port, temp dataDir) holding 10,000 resources — mostly workflows in several
// workspaces, normalized from the examples by the real manifest core, some with runs,
// some scheduled — inserted through the Store API. The CLI runs in another process
// (stdout on /dev/null); before that command exists, the typed client's list() call.
// Once on the embedded SQLite file and once on a throwaway PostgreSQL (bench/postgres.mjs).
// Target: the whole `resource get -a` (process start to exit) under 300 ms, median, on both.
import { spawn } from 'node:child_process'
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = (p) => pathToFileURL(join(root, 'dist', p)).href
const RESOURCES = Number(process.env.BENCH_RESOURCES ?? 10_000)
const RUNS = Number(process.env.BENCH_RUNS ?? 11)
const WORKSPACES = ['public', 'analytics', 'sales', 'marketing', 'finance', 'ops', 'platform', 'research']
const EXAMPLES = ['customer-batch-pipeline.yaml', 'daily-report.yaml', 'parallel-batch-pipeline.yaml', 'v1-nightly-cleanup.yaml', 'script-inventory.yaml']

/** Normalized workflow models of the examples: what the server really stores. */
async function templates() {
  const { lintFiles } = await import(dist('src/manifest/index.js'))
  const { offlineManifestContext } = await import(dist('src/cli/offline.js'))
  const result = await lintFiles(EXAMPLES.map((f) => join(root, 'examples', f)), offlineManifestContext(), { interpolate: false, env: {} })
  const workflows = result.documents.map((d) => d.resource).filter((r) => r.meta.type === 'workflow')
  if (workflows.length === 0) throw new Error(`no example workflow normalized: ${JSON.stringify(result.issues.slice(0, 3))}`)
  return workflows
}

const clone = (v) => JSON.parse(JSON.stringify(v))

async function seed(storeUrl) {
  const workflows = await templates()
  const { openStore } = await import(dist('src/store/index.js'))
  const store = await openStore(storeUrl)
  const counts = { workflow: 0, secret: 0, volume: 0, compute: 0, withRuns: 0, scheduled: 0 }
  const t0 = process.hrtime.bigint()
  try {
    for (let i = 0; i < RESOURCES; i++) {
      const workspace = WORKSPACES[i % WORKSPACES.length]
      const owner = `user-${i % 23}`
      const kind = i % 20 === 0 ? 'secret' : i % 20 === 1 ? 'volume' : i % 200 === 2 ? 'compute' : 'workflow'
      const name = `${kind.slice(0, 3)}-${i.toString(36)}-${['etl', 'report', 'sync', 'cleanup'][i % 4]}`
      let manifest
      let version = 'v1'
      if (kind === 'workflow') {
        manifest = clone(workflows[i % workflows.length])
        version = manifest.meta.version
        manifest.meta = { ...manifest.meta, name, workspace, owner }
      } else if (kind === 'secret') {
        manifest = { meta: { name, version, type: 'secret', tags: [], layer: 'user', workspace, owner }, secret: { type: 'key-value', acl: 'r', data: { USER: 'svc', PASSWORD: 'x'.repeat(24) }, files: {} } }
      } else if (kind === 'volume') {
        manifest = { meta: { name, version, type: 'volume', tags: [], layer: 'user', workspace, owner }, volume: { size: '1Gi', accessMode: 'ReadWriteMany', type: 'persistent' } }
      } else {
        manifest = { meta: { name, version, type: 'compute', tags: [], layer: 'system', owner }, compute: { cpu: '2', memory: '4Gi' } }
      }
      const { resource } = await store.applyResource({ workspace: kind === 'compute' ? null : workspace, type: kind, name, version, manifest, owner })
      // Settled before the control plane starts, so its engine leaves them alone.
      await store.setResourceStatus(resource.id, 'active')
      counts[kind]++
      if (kind !== 'workflow') continue
      if (manifest.workflow?.schedule) {
        counts.scheduled++
        await store.putSchedule({ resourceId: resource.id, revision: resource.revision, nextFireAt: new Date(Date.now() + 86_400_000 + i * 1000).toISOString() })
      }
      if (i % 3 === 0) {
        const steps = (manifest.workflow?.dag ?? []).map((s) => s.name)
        const { run, steps: stepRuns } = await store.createRun({ resourceId: resource.id, revision: resource.revision, trigger: 'apply', steps })
        const state = i % 9 === 0 ? 'failed' : 'succeeded'
        for (const s of stepRuns) await store.updateStepRun(s.id, { state: state === 'failed' ? 'failed' : 'succeeded', finishedAt: new Date().toISOString() })
        await store.updateRun(run.id, { state, finishedAt: new Date().toISOString() })
        counts.withRuns++
      }
    }
  } finally {
    await store.close()
  }
  return { counts, seedSeconds: Number(process.hrtime.bigint() - t0) / 1e9 }
}

function timeProcess(args, env) {
  return new Promise((resolve, reject) => {
    const devnull = openSync('/dev/null', 'w')
    const start = process.hrtime.bigint()
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', devnull, 'pipe'] })
    closeSync(devnull)
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6
      if (code !== 0) reject(new Error(`${args.slice(1).join(' ')} exited ${code}: ${stderr.slice(-2000)}`))
      else resolve({ ms, stderr })
    })
  })
}

function captureStdout(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${args.slice(1).join(' ')} exited ${code}: ${stderr.slice(-2000)}`))))
  })
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** `get -a` of RESOURCES resources on one store: the embedded SQLite file, or `storeUrl`. */
async function listOn(storeUrl) {
  const dataDir = mkdtempSync(join(tmpdir(), 'ctl-bench-list-'))
  const home = mkdtempSync(join(tmpdir(), 'ctl-bench-home-'))
  let plane
  try {
    const url = storeUrl ?? join(dataDir, 'ctl.db')
    const seeded = await seed(url)
    const { startControlPlane } = await import(dist('src/controlplane/control-plane.js'))
    const { CtlClient } = await import(dist('src/client/client.js'))
    plane = await startControlPlane({ dataDir, storeUrl: url })
    const apiKey = plane.adminToken
    const client = new CtlClient({ baseUrl: plane.url, apiKey })

    // The HTTP list call alone, in this process (server and client share the CPU here).
    const rows = await client.list({ all: true })
    if (rows.length !== RESOURCES) throw new Error(`list returned ${rows.length} rows, expected ${RESOURCES}`)
    const http = []
    for (let i = 0; i < RUNS; i++) {
      const t = process.hrtime.bigint()
      await client.list({ all: true })
      http.push(Number(process.hrtime.bigint() - t) / 1e6)
    }

    const useCli = process.env.BENCH_LIST_READER !== 'client' && existsSync(join(root, 'dist', 'commands', 'resource', 'get.js'))
    const env = { ...process.env, CTL_HOME: home, CTL_APIKEY: apiKey }
    let args
    if (useCli) {
      // JSON is YAML: a context naming this control plane.
      writeFileSync(join(home, 'config.yaml'), JSON.stringify({
        currentContext: 'bench', contexts: [{ name: 'bench', server: plane.url, workspace: 'public' }],
      }))
      args = [join(root, 'bin', 'run.js'), 'resource', 'get', '-a']
    } else {
      args = ['--input-type=module', '-e', `
        import { CtlClient } from ${JSON.stringify(dist('src/client/client.js'))}
        const rows = await new CtlClient({ baseUrl: process.argv[1], apiKey: process.argv[2] }).list({ all: true })
        process.stdout.write(rows.map((r) => [r.name, r.version, r.type, r.workspace ?? '', r.status, r.runtime, r.owner].join('  ')).join('\\n') + '\\n')
      `, plane.url, apiKey]
    }
    // Warms the file cache, and checks that the CLI prints every row (header and rule, then one line each).
    const printed = await captureStdout(args, env)
    const lines = printed.split('\n').filter((l) => l !== '').length
    const expected = useCli ? RESOURCES + 2 : RESOURCES
    if (lines !== expected) throw new Error(`${args.slice(1).join(' ')} printed ${lines} lines, expected ${expected}`)
    const cli = []
    for (let i = 0; i < RUNS; i++) cli.push((await timeProcess(args, env)).ms)
    const versionMs = []
    if (useCli) for (let i = 0; i < 5; i++) versionMs.push((await timeProcess([join(root, 'bin', 'run.js'), 'version'], env)).ms)

    const value = median(cli)
    return {
      reader: useCli ? 'ctl resource get -a' : 'client list() script',
      resources: RESOURCES,
      ...seeded.counts,
      seedSeconds: +seeded.seedSeconds.toFixed(1),
      runs: RUNS,
      httpListMedianMs: +median(http).toFixed(1),
      ...(useCli ? { ctlVersionMedianMs: +median(versionMs).toFixed(1) } : {}),
      getAllMs: cli.map((t) => +t.toFixed(1)),
      medianMs: +value.toFixed(1),
    }
  } finally {
    await plane?.close()
    rmSync(dataDir, { recursive: true, force: true })
    rmSync(home, { recursive: true, force: true })
  }
}

export default async function listBench() {
  const loadAverageAtStart = (await import('node:os')).loadavg().map((x) => +x.toFixed(2))
  const sqlite = await listOn(undefined)
  const { startPostgres } = await import('./postgres.mjs')
  const pg = await startPostgres()
  let postgres
  try {
    postgres = { ...(await listOn(pg.url)), server: pg.version, settings: pg.settings }
  } finally {
    pg.stop()
  }
  return {
    loadAverageAtStart,
    sqlite,
    postgres,
    targets: {
      getAllMs: { value: sqlite.medianMs, target: '<= 300 ms', met: sqlite.medianMs <= 300 },
      getAllMsPostgres: { value: postgres.medianMs, target: '<= 300 ms', met: postgres.medianMs <= 300 },
    },
  }
}
