// CPU accounting, for judging a change on a busy machine where wall times are noise (not a benchmark: run.mjs
// picks up *.bench.mjs only). Process CPU of each part, per step:
//   plane    the control plane (its own process, bench/plane.mjs: process.cpuUsage())
//   host     the step host (utime + stime of supervisor.mjs, from /proc/PID/stat), with its spawner (ctl-spawner,
//            a long-lived child of the host that starts the steps, when there is one)
//   sandbox  what the step host's (or its spawner's) reaped children used (cutime + cstime): the sandbox launcher
//            (ctl-sandbox, or bwrap), its init, the step's process, and the forked copy of the host (or the spawner)
//            before it became the launcher
// Shapes (the two speed targets of issue 10):
//   dag    the 200-step layered DAG of dag.bench.mjs (10 × 20, full layer dependencies), applied and watched
//          (GET .../watch, what `apply --wait` follows), RUNS times after a warm-up run
//   runs   COUNT single-step runs (throughput.bench.mjs's workflow) over 20 workflows, 100 requests open at a time,
//          one warm-up round then CPU_ROUNDS (default and at least 3) measured rounds; the median is reported
// With --syscalls (needs strace): one more measured round with strace -c attached to every thread of the host and
// the plane, reported as system calls per step (deterministic where CPU times are not: it shows a file operation
// saved or added whatever the load).
// Usage: node bench/cpu.mjs dag [RUNS=4] [--syscalls] | node bench/cpu.mjs runs [COUNT=600] [--syscalls]
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { startPlaneProcess } from './plane.mjs'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const { CtlClient } = await import(pathToFileURL(path.join(root, 'dist', 'src', 'client', 'client.js')).href)
const args = process.argv.slice(2)
const shape = args[0] ?? 'dag'
const count = Number(args.find((a, i) => i > 0 && /^\d+$/.test(a)) ?? (shape === 'dag' ? 4 : 600))
const syscalls = args.includes('--syscalls')
/** Measured rounds of the runs shape (after a warm-up round); the median of them is reported. */
const ROUNDS = Math.max(3, Number(process.env.CPU_ROUNDS ?? 3))
if (shape !== 'dag' && shape !== 'runs') throw new Error('usage: node bench/cpu.mjs dag [RUNS] [--syscalls] | runs [COUNT] [--syscalls]')
const HZ = 100 // USER_HZ of /proc/PID/stat on Linux
const ENDED = new Set(['succeeded', 'failed', 'cancelled', 'killed'])

function procCpu(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
  return { self: ((Number(f[11]) + Number(f[12])) * 1000) / HZ, children: ((Number(f[13]) + Number(f[14])) * 1000) / HZ }
}

/** The host's CPU with its spawner's (found among its children by name): both start steps. */
function hostCpu(pid) {
  const own = { ...procCpu(pid), spawner: 0 }
  for (const c of fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean)) {
    try {
      if (fs.readFileSync(`/proc/${c}/comm`, 'utf8').trim() !== 'ctl-spawner') continue
      const s = procCpu(c)
      own.spawner = s.self
      own.self += s.self
      own.children += s.children
    } catch {}
  }
  return own
}

/** The host's spawner, when it has one. */
function spawnerPid(pid) {
  return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).find((c) => {
    try {
      return fs.readFileSync(`/proc/${c}/comm`, 'utf8').trim() === 'ctl-spawner'
    } catch {
      return false
    }
  })
}

function hostPid(dataDir) {
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8')
      if (cmd.includes('supervisor.mjs') && cmd.includes(dataDir)) return Number(p)
    } catch {}
  }
  throw new Error('no step host found')
}

const step = (name, depends) => ({ name, ...(depends ? { depends } : {}), spec: { stack: 'container', stackSpec: { image: 'docker.io/library/alpine:3.20', command: ['true'] } } })
function dagManifest(name) {
  const dag = []
  for (let l = 0; l < 10; l++) for (let i = 0; i < 20; i++) dag.push(step(`l${l}-s${i}`, l > 0 ? Array.from({ length: 20 }, (_, j) => `l${l - 1}-s${j}`) : undefined))
  return { version: 'v2alpha', name, type: 'workflow', spec: { parallelism: 20, dag } }
}
const oneStep = (name) => ({ version: 'v2alpha', name, type: 'workflow', spec: { dag: [step('only')] } })

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-cpu-'))
fs.chmodSync(dir, 0o755)
const dataDir = path.join(dir, 'data')
const plane = await startPlaneProcess({ dataDir })
try {
  const client = new CtlClient({ baseUrl: plane.url, apiKey: plane.token })
  const refs = Array.from({ length: 20 }, (_, i) => ({ workspace: 'public', type: 'workflow', name: `w-${i}` }))
  const isEnded = (r) => ENDED.has(r.state)
  /**
   * Waits until the runs of `ids` (in creation order) ended, cheaply, so the plane's CPU is not the harness's: the newest
   * run (roughly the last to end) is asked for alone every 300 ms, then each workflow's newest runs are listed once
   * (its share of `ids`) to check them all. Listing every workflow's runs each time cost ~10 % of what was measured.
   */
  const waitEnded = async (ids) => {
    const perWorkflow = Math.ceil(ids.length / refs.length)
    for (;;) {
      while (!isEnded((await client.run(ids.at(-1))).run)) await new Promise((r) => setTimeout(r, 300))
      const seen = new Map((await Promise.all(refs.map((r) => client.runs(r, { limit: perWorkflow })))).flat().map((r) => [r.id, r]))
      if (ids.every((id) => seen.has(id) && isEnded(seen.get(id)))) return
      await new Promise((r) => setTimeout(r, 300))
    }
  }
  /** One measured unit: a watched DAG run, or `count` single-step runs. Returns the number of steps. */
  let round = 0
  const unit = async () => {
    round++
    if (shape === 'dag') {
      const ans = await client.apply('public', [{ manifest: dagManifest(`dag-${round}`) }])
      let last
      for await (const d of client.watchRun(ans.results[0].runId)) last = d
      if (last?.run.state !== 'succeeded') throw new Error(`run ${last?.run.state}`)
      return 200
    }
    let next = 0
    const ids = new Array(count)
    await Promise.all(Array.from({ length: 100 }, async () => {
      while (next < count) {
        const i = next++
        ids[i] = (await client.runNow(refs[i % refs.length])).id
      }
    }))
    await waitEnded(ids)
    return count
  }
  if (shape === 'runs') await client.apply('public', refs.map((r) => ({ manifest: oneStep(r.name) })))
  // A warm-up unit, not counted: the plane is fresh (its JIT compiles the hot paths during the first).
  await unit()
  const pid = hostPid(dataDir)
  const rows = []
  for (let i = 0; i < (shape === 'dag' ? count : ROUNDS); i++) {
    const p0 = await plane.usage()
    const h0 = hostCpu(pid)
    const steps = await unit()
    const p1 = await plane.usage()
    const h1 = hostCpu(pid)
    rows.push({ plane: (p1.cpuMs - p0.cpuMs) / steps, host: (h1.self - h0.self) / steps, sandbox: (h1.children - h0.children) / steps, spawner: (h1.spawner - h0.spawner) / steps })
  }
  const med = (k) => {
    const v = rows.map((r) => r[k]).sort((a, b) => a - b)
    const m = Math.floor(v.length / 2)
    return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2
  }
  const out = { shape, per: shape === 'dag' ? 'step' : 'run', rounds: rows.length, loadAverage: os.loadavg().map((x) => +x.toFixed(2)) }
  for (const k of ['plane', 'host', 'sandbox']) out[`${k}Ms`] = +med(k).toFixed(2)
  out.totalMs = +(out.planeMs + out.hostMs + out.sandboxMs).toFixed(2)
  out.spawnerMs = +med('spawner').toFixed(2) // part of hostMs
  out.roundsMs = rows.map((r) => ({ plane: +r.plane.toFixed(2), host: +r.host.toFixed(2), sandbox: +r.sandbox.toFixed(2) }))
  if (syscalls && spawnSync('strace', ['-V']).status === 0) {
    const spawner = spawnerPid(pid)
    const traced = [['host', pid], ['plane', plane.pid], ...(spawner ? [['spawner', spawner]] : [])].map(([name, p]) => {
      const file = path.join(dir, `strace-${name}.txt`)
      const tasks = fs.readdirSync(`/proc/${p}/task`).join(',')
      return { name, file, proc: spawn('strace', ['-c', '-o', file, '-p', tasks], { stdio: 'ignore' }) }
    })
    await new Promise((r) => setTimeout(r, 1500)) // attached
    const steps = await unit()
    for (const t of traced) t.proc.kill('SIGINT')
    await Promise.all(traced.map((t) => new Promise((r) => (t.proc.exitCode !== null ? r() : t.proc.once('exit', r)))))
    out.syscallsPerStep = {}
    for (const t of traced) {
      const calls = {}
      for (const line of fs.readFileSync(t.file, 'utf8').split('\n')) {
        const f = line.trim().split(/\s+/)
        if (f.length >= 5 && /^[\d.]+$/.test(f[0])) calls[f.at(-1)] = +(Number(f[3]) / steps).toFixed(2)
      }
      out.syscallsPerStep[t.name] = calls
    }
  }
  console.log(JSON.stringify(out, null, 2))
} finally {
  await plane.close()
  fs.rmSync(dir, { recursive: true, force: true })
}
