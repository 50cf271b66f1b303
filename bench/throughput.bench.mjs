// Throughput as capacity: single-step workflow runs through the API, offered faster than the
// control plane can take them. A real control plane runs in its own process (local runtime,
// bubblewrap when installed); this process is the client side: CLIENTS concurrent clients ask
// for runs (`runtime run`, POST .../runs) on a fixed schedule, spread over WORKFLOWS single-step
// workflows (the `container` stack running `true`), each client with at most INFLIGHT requests
// open (a client that has that many waits: then the rate actually offered is below the
// schedule, and the record says so). After a warm-up at the capacity phase's rate for WARM_SECONDS
// (BENCH_WARM_SECONDS, default 3; not counted), two phases, each on its own workflows, each drained
// before the next:
//   capacity  OVER_RATE runs/s for OVER_SECONDS (above what completes)
//     completedPerMinute  completed runs / (last run finished − first request) × 60 s
//   at 12,000/min  200 runs/s for LOAD_SECONDS
//     delay p99
// Delay: step started − run created (a single step has no dependencies), p50 / p99, as the
// bench always measured it; requestToStartMs adds the HTTP wait in front (client request sent
// → step started; same machine, same clock).
// Targets (issue 10): ≥ 20,000 completed runs/min; p99 delay < 250 ms at 12,000/min offered.
// Beside it: the minimal bubblewrap sandbox alone, started by xargs 2 and 4 at a time with no control plane at
// all (bench/sandbox-baseline.mjs), measured before the phases on the same machine: what bwrap's sandboxes alone allow
// here. Every run starts one sandbox, but ctl's launcher (ctl-sandbox) sets up ctl's larger sandbox for less CPU than
// bwrap its minimal one, so ctl's rate may pass this figure.
// Bounded: a phase that has not drained DRAIN_SECONDS after its last request counts what
// completed and reports the rest as unfinished.
import { startPlaneProcess } from './plane.mjs'
import { BWRAP, sandboxesPerMinute } from './sandbox-baseline.mjs'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const dist = (rel) => pathToFileURL(path.join(root, 'dist', rel)).href
const OVER_RATE = Number(process.env.BENCH_OVER_RATE ?? 450) // 27,000 per minute
const OVER_SECONDS = Number(process.env.BENCH_OVER_SECONDS ?? 6)
const LOAD_RATE = 200 // 12,000 per minute
const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 12)
const DRAIN_SECONDS = Number(process.env.BENCH_DRAIN_SECONDS ?? 30)
const WARM_SECONDS = Number(process.env.BENCH_WARM_SECONDS ?? 3)
const WORKFLOWS = Number(process.env.BENCH_WORKFLOWS ?? 20)
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8)
const INFLIGHT = Number(process.env.BENCH_INFLIGHT ?? 64)
const ENDED = new Set(['succeeded', 'failed', 'cancelled', 'killed'])

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const quantile = (xs, q) => {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]
}

export const manifest = (name) => ({
  version: 'v2alpha',
  name,
  type: 'workflow',
  spec: { dag: [{ name: 'only', spec: { stack: 'container', stackSpec: { image: 'docker.io/library/alpine:3.20', command: ['true'] } } }] },
})

/** `n` items through `fn`, `width` at a time. */
async function pool(items, width, fn) {
  const out = new Array(items.length)
  let next = 0
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i])
    }
  }))
  return out
}

/** Waits (polling only after the last request) until every run of `refs` ended or the drain deadline passes. */
export async function drain(client, refs, expected, deadline) {
  for (;;) {
    const lists = await pool(refs, 4, (ref) => client.runs(ref, { limit: 1000 }))
    const runs = lists.flat()
    const ended = runs.filter((r) => ENDED.has(r.state))
    if (ended.length >= expected || Date.now() > deadline) return runs
    await sleep(1000)
  }
}

/** One phase (see the top); `clients` may point at several control planes: requests go round-robin, the first lists. */
export async function phase(clients, prefix, rate, seconds) {
  const admin = clients[0]
  const refs = Array.from({ length: WORKFLOWS }, (_, i) => ({ workspace: 'public', type: 'workflow', name: `${prefix}-${i}` }))
  await admin.apply('public', refs.map((r) => ({ manifest: manifest(r.name) })))
  // The apply runs are not counted: wait for them.
  await drain(admin, refs, WORKFLOWS, Date.now() + 30_000)
  const applyRuns = new Set((await pool(refs, 4, (ref) => admin.runs(ref, { limit: 5 }))).flat().map((r) => r.id))

  const total = Math.round(rate * seconds)
  const sent = new Map() // run id → client-side request time
  const open = new Array(clients.length).fill(0)
  const slots = clients.map(() => [])
  let rejected = 0
  const t0 = Date.now()
  const inflight = []
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate
    const wait = due - Date.now()
    if (wait > 0) await sleep(wait)
    const c = i % clients.length
    while (open[c] >= INFLIGHT) await new Promise((r) => slots[c].push(r))
    open[c]++
    const at = Date.now()
    inflight.push(
      clients[c]
        .runNow(refs[i % WORKFLOWS])
        .then((run) => sent.set(run.id, at), () => rejected++)
        .finally(() => {
          open[c]--
          slots[c].shift()?.()
        }),
    )
  }
  const offeredUntil = Date.now()
  await Promise.all(inflight)
  const runs = (await drain(admin, refs, sent.size + applyRuns.size, Date.now() + DRAIN_SECONDS * 1000)).filter((r) => sent.has(r.id))
  const ended = runs.filter((r) => ENDED.has(r.state))
  if (ended.length < runs.length) {
    // Not drained in time: stop what is left, so that it does not load the next phase.
    await pool(refs, 4, (ref) => admin.stop(ref))
    await drain(admin, refs, sent.size + applyRuns.size, Date.now() + 30_000)
  }
  const succeeded = ended.filter((r) => r.state === 'succeeded')
  // Step start times, read back once the control plane is idle (not measured).
  const details = await pool(succeeded, 8, (r) => admin.run(r.id))
  const delays = []
  const requestToStart = []
  for (const d of details) {
    const started = Date.parse(d.steps[0].startedAt)
    delays.push(started - Date.parse(d.run.createdAt))
    requestToStart.push(started - sent.get(d.run.id))
  }
  const lastFinish = Math.max(...ended.map((r) => Date.parse(r.finishedAt)))
  const completedPerMinute = ended.length > 0 ? (succeeded.length / (lastFinish - t0)) * 60_000 : 0
  return {
    scheduledPerMinute: rate * 60,
    offeredPerMinute: Math.round((total / (offeredUntil - t0)) * 60_000),
    offeredSeconds: +((offeredUntil - t0) / 1000).toFixed(1),
    requests: total,
    rejected,
    runs: sent.size,
    succeeded: succeeded.length,
    failed: ended.length - succeeded.length,
    unfinished: sent.size - ended.length,
    completedPerMinute: Math.round(completedPerMinute),
    drainedSeconds: ended.length > 0 ? +((lastFinish - t0) / 1000).toFixed(1) : null,
    delayMs: { p50: quantile(delays, 0.5), p90: quantile(delays, 0.9), p99: quantile(delays, 0.99), max: quantile(delays, 1) },
    requestToStartMs: { p50: quantile(requestToStart, 0.5), p99: quantile(requestToStart, 0.99), max: quantile(requestToStart, 1) },
  }
}

export default async function throughput() {
  const { CtlClient } = await import(dist('src/client/client.js'))
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-bench-tp-'))
  const plane = await startPlaneProcess({ dataDir: path.join(dir, 'data') })
  try {
    const loadAverage = os.loadavg().map((x) => +x.toFixed(2))
    const sandboxAlone = fs.existsSync(BWRAP) ? Math.max(sandboxesPerMinute(600, 2), sandboxesPerMinute(600, 4)) : null
    const clients = Array.from({ length: CLIENTS }, () => new CtlClient({ baseUrl: plane.url, apiKey: plane.token }))
    // A warm-up, not counted: the capacity phase's own load for WARM_SECONDS, so that the figures are those of a
    // running control plane, whose hot paths V8 has compiled, not of its first seconds (compiling them took ~5 % of
    // the machine during a 6-second phase after a 40-run warm-up).
    await phase(clients, 'tp-warm', OVER_RATE, WARM_SECONDS)

    const capacity = await phase(clients, 'tp-over', OVER_RATE, OVER_SECONDS)
    const at12k = await phase(clients, 'tp-12k', LOAD_RATE, LOAD_SECONDS)
    const perMinute = capacity.completedPerMinute
    const p99 = at12k.delayMs.p99
    const clean = (p) => p.failed === 0 && p.unfinished === 0 && p.rejected === 0
    return {
      // Other work on the machine (1, 5, 15 min) when the bench began: a busy machine lowers every figure.
      loadAverageAtStart: loadAverage,
      workflows: WORKFLOWS,
      clients: CLIENTS,
      inflightPerClient: INFLIGHT,
      warmupSeconds: WARM_SECONDS,
      step: 'container stack, true',
      capacity,
      at12000PerMinute: at12k,
      targets: {
        completedRunsPerMinute: { value: perMinute, target: '>= 20000', met: perMinute >= 20_000 && capacity.failed === 0 && capacity.rejected === 0 },
        // What the minimal bwrap sandbox alone completes per minute here (see the top).
        sandboxAlonePerMinute: { value: sandboxAlone, target: '(figure)', met: null },
        // Figures without a target of their own (met: null): the delay while overloaded.
        delayP50MsOverloaded: { value: capacity.delayMs.p50, target: '(figure)', met: null },
        delayP99MsOverloaded: { value: capacity.delayMs.p99, target: '(figure)', met: null },
        delayP99MsAt12000PerMinute: { value: p99, target: '< 250', met: p99 !== null && p99 < 250 && clean(at12k) },
      },
    }
  } finally {
    await plane.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
