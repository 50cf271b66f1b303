// Fan-out costs nothing extra: a `forEach` over 1,000 items, each instance the `container` stack
// running `true`, at parallelism 32 (the step's), against 1,000 independent steps declared one by
// one running the same `true` under the workflow's parallelism 32. Same engine, same control plane
// (started beforehand in its own process, 32 slots); each run is timed from the run's creation to
// its end as the control plane records them (createdAt → finishedAt), so the client and the apply
// are out of the figure. Alternating runs, medians; target: ratio forEach / steps ≤ 2.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { startPlaneProcess } from './plane.mjs'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const N = Number(process.env.BENCH_ITEMS ?? 1000)
const PARALLELISM = 32
const REPEAT = Number(process.env.BENCH_RUNS ?? 3)

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const spec = { stack: 'container', stackSpec: { image: 'docker.io/library/alpine:3.20', command: ['true'] } }

function fanned(name) {
  const items = Array.from({ length: N }, (_, i) => i)
  return { version: 'v2alpha', name, type: 'workflow', spec: { dag: [{ name: 'each', forEach: { items, parallelism: PARALLELISM }, spec }] } }
}

function declared(name) {
  const dag = Array.from({ length: N }, (_, i) => ({ name: `s${i}`, spec }))
  return { version: 'v2alpha', name, type: 'workflow', spec: { parallelism: PARALLELISM, dag } }
}

export default async function fanout() {
  const { CtlClient } = await import(pathToFileURL(path.join(root, 'dist', 'src', 'client', 'client.js')).href)
  const loadAverage = os.loadavg().map((x) => +x.toFixed(2))
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-bench-fanout-'))
  // A root control plane runs steps as an unprivileged user, who must be able to enter the data folder.
  fs.chmodSync(dir, 0o711)
  const plane = await startPlaneProcess({ dataDir: path.join(dir, 'data'), maxParallelSteps: PARALLELISM })
  const client = new CtlClient({ baseUrl: plane.url, apiKey: plane.token })
  /** Applies the manifest (which starts a run) and returns the run's createdAt → finishedAt in ms. */
  const timed = async (manifest) => {
    await client.apply('public', [{ source: { file: `${manifest.name}.json`, index: 0 }, manifest }])
    const ref = { workspace: 'public', type: 'workflow', name: manifest.name }
    for (;;) {
      const run = (await client.runs(ref, { limit: 1 }))[0]
      if (run?.finishedAt) {
        if (run.state !== 'succeeded') {
          const bad = (await client.run(run.id)).steps.find((s) => s.state === 'failed')
          throw new Error(`run ${run.id} of ${manifest.name} ended ${run.state}: ${bad ? `${bad.step} ${bad.reason}: ${bad.message}` : run.reason ?? ''}`)
        }
        return Date.parse(run.finishedAt) - Date.parse(run.createdAt)
      }
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  try {
    await timed(declared('warm-steps'))
    await timed(fanned('warm-each'))
    const steps = []
    const each = []
    for (let i = 0; i < REPEAT; i++) {
      steps.push(await timed(declared(`steps-${i}`)))
      each.push(await timed(fanned(`each-${i}`)))
    }
    const ratio = median(each) / median(steps)
    return {
      loadAverageAtStart: loadAverage,
      items: N,
      parallelism: PARALLELISM,
      forEach: `one step, forEach over ${N} literal items, parallelism ${PARALLELISM}; each instance: container stack, command true`,
      steps: `${N} independent steps declared one by one, workflow parallelism ${PARALLELISM}; each: container stack, command true`,
      measured: 'run createdAt → finishedAt as the control plane records them (server-side), control plane in its own process',
      runs: REPEAT,
      stepsMedianMs: median(steps),
      forEachMedianMs: median(each),
      stepsMs: steps,
      forEachMs: each,
      targets: { ratio: { value: +ratio.toFixed(2), target: '<= 2', met: ratio <= 2 } },
    }
  } finally {
    await plane.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
