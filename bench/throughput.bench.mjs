// Sustained single-step workflow runs through the API. A real control plane runs in its
// own process (local runtime, bubblewrap when installed); this process is the client: it
// applies WORKFLOWS single-step workflows (the `container` stack running `true`), then asks
// for runs (`runtime run`, POST .../runs) at a fixed rate for DURATION seconds, spread over
// the workflows, and finally reads every run back. Figures:
//   runsPerMinute  completed runs / (last run finished − first request), × 60 s
//   delay          step started − run created (a single step has no dependencies), p50 / p99
// Targets: ≥ 3,000 runs per minute with a p99 delay under 250 ms, at an offered rate above that.
import { startPlaneProcess } from './plane.mjs'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const dist = (rel) => pathToFileURL(path.join(root, 'dist', rel)).href
const RATE = Number(process.env.BENCH_RATE ?? 55) // runs per second offered (3,300 per minute)
const DURATION = Number(process.env.BENCH_SECONDS ?? 30)
const WORKFLOWS = Number(process.env.BENCH_WORKFLOWS ?? 20)

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]
}

const manifest = (name) => ({
  version: 'v2alpha',
  name,
  type: 'workflow',
  spec: { dag: [{ name: 'only', spec: { stack: 'container', stackSpec: { image: 'docker.io/library/alpine:3.20', command: ['true'] } } }] },
})

async function settle(client, ids) {
  const done = new Map()
  for (;;) {
    for (const id of ids) {
      if (done.has(id)) continue
      const d = await client.run(id)
      if (d.run.state !== 'pending' && d.run.state !== 'running') done.set(id, d)
    }
    if (done.size === ids.length) return [...done.values()]
    await sleep(200)
  }
}

export default async function throughput() {
  const { CtlClient } = await import(dist('src/client/client.js'))
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-bench-tp-'))
  const plane = await startPlaneProcess({ dataDir: path.join(dir, 'data') })
  try {
    const client = new CtlClient({ baseUrl: plane.url, apiKey: plane.token })
    const refs = Array.from({ length: WORKFLOWS }, (_, i) => ({ workspace: 'public', type: 'workflow', name: `tp-${i}` }))
    await client.apply('public', refs.map((r) => ({ manifest: manifest(r.name) })))
    // The apply runs, and a short warm-up, are not counted.
    const warm = []
    for (let i = 0; i < 40; i++) warm.push((await client.runNow(refs[i % WORKFLOWS])).id)
    await settle(client, warm)

    const ids = []
    const total = RATE * DURATION
    const t0 = Date.now()
    const inflight = []
    for (let i = 0; i < total; i++) {
      const due = t0 + (i * 1000) / RATE
      const wait = due - Date.now()
      if (wait > 0) await sleep(wait)
      inflight.push(client.runNow(refs[i % WORKFLOWS]).then((run) => ids.push(run.id)))
    }
    await Promise.all(inflight)
    const offeredSeconds = (Date.now() - t0) / 1000
    const details = await settle(client, ids)

    const failed = details.filter((d) => d.run.state !== 'succeeded').length
    const delays = details.map((d) => Date.parse(d.steps[0].startedAt) - Date.parse(d.run.createdAt))
    const lastFinish = Math.max(...details.map((d) => Date.parse(d.run.finishedAt)))
    const perMinute = (details.length / (lastFinish - t0)) * 60_000
    const p99 = quantile(delays, 0.99)
    return {
      workflows: WORKFLOWS,
      offeredPerMinute: RATE * 60,
      offeredSeconds: +offeredSeconds.toFixed(1),
      runs: details.length,
      failed,
      delayMs: { p50: quantile(delays, 0.5), p90: quantile(delays, 0.9), p99, max: Math.max(...delays) },
      runDurationMsP50: quantile(details.map((d) => Date.parse(d.run.finishedAt) - Date.parse(d.run.createdAt)), 0.5),
      targets: {
        runsPerMinute: { value: Math.round(perMinute), target: '>= 3000', met: perMinute >= 3000 && failed === 0 },
        delayP99Ms: { value: p99, target: '< 250', met: p99 < 250 },
      },
    }
  } finally {
    await plane.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
