// `resource log` of a step that wrote 100 MB, end to end: the control plane runs in
// this process (ephemeral port, temp dataDir), the reader in ANOTHER process with its
// stdout on /dev/null — the CLI (`ctl resource log`) once that command is built, else a
// small script over the typed client's logs(). The 100 MB go into the store through the
// Store API in big batches (realistic ~100-byte lines) so that seeding takes seconds.
// Figure: MB of log text / wall seconds of the reader process. Target: >= 50 MB/s.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = (p) => pathToFileURL(join(root, 'dist', p)).href
const TARGET_MB = Number(process.env.BENCH_LOG_MB ?? 100)
const BATCH_LINES = 10_000
const RUNS = Number(process.env.BENCH_RUNS ?? 3)

const LEVELS = ['INFO', 'INFO', 'INFO', 'DEBUG', 'WARN']
const WORDS = ['processed', 'flushed', 'fetched', 'wrote', 'merged', 'scanned']

/** A plausible ~100-byte application log line (varied, so nothing compresses into a trick). */
function line(i) {
  const text = `${LEVELS[i % 5]} worker-${i % 7} ${WORDS[i % 6]} batch ${i} of table sales_${i % 13} rows=${(i * 7919) % 100000} took=${i % 997}ms status=ok`
  return text.length >= 100 ? text.slice(0, 100) : text.padEnd(100, '.')
}

async function seed(dataDir) {
  const { openSqliteStore } = await import(dist('src/store/index.js'))
  const store = openSqliteStore(join(dataDir, 'ctl.db'))
  try {
    const manifest = {
      name: 'big-logs', version: 'v1', type: 'workflow',
      workflow: { dag: [{ name: 'dump', spec: { stack: 'alpha', stackSpec: {} } }] },
    }
    const { resource } = await store.applyResource({ workspace: 'public', type: 'workflow', name: 'big-logs', version: 'v1', manifest, owner: 'bench' })
    // Settled before the control plane starts, so its engine leaves the record alone.
    await store.setResourceStatus(resource.id, 'active')
    const { run, steps } = await store.createRun({ resourceId: resource.id, revision: resource.revision, trigger: 'apply', steps: ['dump'] })
    const start = new Date(Date.now() - 3_600_000)
    await store.updateRun(run.id, { state: 'running', startedAt: start.toISOString() })
    await store.updateStepRun(steps[0].id, { state: 'running', startedAt: start.toISOString() })

    const target = TARGET_MB * 1_000_000
    let bytes = 0
    let n = 0
    let offset = 0
    let appendNs = 0n
    while (bytes < target) {
      const batch = []
      for (let k = 0; k < BATCH_LINES && bytes < target; k++) {
        const text = line(n++)
        bytes += text.length
        offset += text.length + 1
        batch.push({ time: new Date(start.getTime() + n).toISOString(), stream: n % 50 === 0 ? 'stderr' : 'stdout', text })
      }
      const t0 = process.hrtime.bigint()
      await store.appendLogs(steps[0].id, batch, offset)
      appendNs += process.hrtime.bigint() - t0
    }
    const writeSeconds = Number(appendNs) / 1e9
    const end = new Date().toISOString()
    await store.updateStepRun(steps[0].id, { state: 'succeeded', exitCode: 0, finishedAt: end })
    await store.updateRun(run.id, { state: 'succeeded', finishedAt: end })
    return { runId: run.id, lines: n, bytes, writeSeconds }
  } finally {
    await store.close()
  }
}

/** The reader when the CLI command is not there yet: the typed client, text to stdout like `resource log` would. */
const CLIENT_READER = `
import { CtlClient } from ${JSON.stringify(dist('src/client/client.js'))}
const [baseUrl, apiKey, runId] = process.argv.slice(1)
const client = new CtlClient({ baseUrl, apiKey })
let lines = 0
let bytes = 0
const write = (s) => new Promise((resolve) => (process.stdout.write(s) ? resolve() : process.stdout.once('drain', resolve)))
for await (const batch of client.logs(runId, { step: 'dump' })) {
  let out = ''
  for (const l of batch) {
    out += l.text + '\\n'
    bytes += l.text.length
  }
  lines += batch.length
  await write(out)
}
process.stderr.write(JSON.stringify({ lines, bytes }) + '\\n')
`

/** Timed with stdout on /dev/null; with `count`, stdout comes here instead (untimed check of what was printed). */
function runReader(args, env, count = false) {
  return new Promise((resolve, reject) => {
    const devnull = openSync('/dev/null', 'w')
    const start = process.hrtime.bigint()
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', count ? 'pipe' : devnull, 'pipe'] })
    closeSync(devnull)
    let stderr = ''
    let bytes = 0
    let newlines = 0
    child.stdout?.on('data', (d) => {
      bytes += d.length
      for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) newlines++
    })
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9
      if (code !== 0) reject(new Error(`reader exited ${code}: ${stderr.slice(-2000)}`))
      else resolve({ seconds, stderr, bytes, newlines })
    })
  })
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

export default async function logsBench() {
  const dataDir = mkdtempSync(join(tmpdir(), 'ctl-bench-logs-'))
  const home = mkdtempSync(join(tmpdir(), 'ctl-bench-home-'))
  let plane
  try {
    const seeded = await seed(dataDir)
    const { startControlPlane } = await import(dist('src/controlplane/control-plane.js'))
    plane = await startControlPlane({ dataDir })
    const apiKey = plane.adminToken
    const useCli = process.env.BENCH_LOG_READER !== 'client' && existsSync(join(root, 'dist', 'commands', 'resource', 'log.js'))
    let args
    const env = { ...process.env, CTL_HOME: home, CTL_APIKEY: apiKey }
    if (useCli) {
      // JSON is YAML: a context naming this control plane.
      writeFileSync(join(home, 'config.yaml'), JSON.stringify({
        currentContext: 'bench', contexts: [{ name: 'bench', server: plane.url, workspace: 'public' }],
      }))
      args = [join(root, 'bin', 'run.js'), 'resource', 'log', '-t', 'workflow', '-n', 'big-logs', '-w', 'public', '--run', seeded.runId, '-c', 'dump']
    } else {
      args = ['--input-type=module', '-e', CLIENT_READER, plane.url, apiKey, seeded.runId]
    }
    // Untimed: everything arrives (each line's text and newline, plus the node header).
    const check = await runReader(args, env, true)
    if (check.newlines < seeded.lines || check.bytes < seeded.bytes + seeded.lines || check.bytes > seeded.bytes + seeded.lines + 4096) {
      throw new Error(`reader printed ${check.newlines} lines / ${check.bytes} bytes for ${seeded.lines} lines / ${seeded.bytes} bytes of text`)
    }
    const times = []
    let checked
    for (let i = 0; i < RUNS; i++) {
      const r = await runReader(args, env)
      times.push(r.seconds)
      if (!useCli) {
        checked = JSON.parse(r.stderr.trim().split('\n').at(-1))
        if (checked.lines !== seeded.lines || checked.bytes !== seeded.bytes) {
          throw new Error(`reader got ${checked.lines} lines / ${checked.bytes} bytes, expected ${seeded.lines} / ${seeded.bytes}`)
        }
      }
    }
    const mb = seeded.bytes / 1e6
    const rate = mb / median(times)
    return {
      reader: useCli ? 'ctl resource log' : 'client logs() script',
      logMB: +mb.toFixed(1),
      lines: seeded.lines,
      runs: RUNS,
      readSecondsMedian: +median(times).toFixed(3),
      readSeconds: times.map((t) => +t.toFixed(3)),
      appendLogsMBps: +(mb / seeded.writeSeconds).toFixed(1),
      targets: { readMBps: { value: +rate.toFixed(1), target: '>= 50 MB/s', met: rate >= 50 } },
    }
  } finally {
    await plane?.close()
    rmSync(dataDir, { recursive: true, force: true })
    rmSync(home, { recursive: true, force: true })
  }
}
