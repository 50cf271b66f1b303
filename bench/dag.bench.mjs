// A 200-step layered DAG (10 layers × 20 steps, each step the `container` stack running
// `true`) end to end THROUGH THE CLI, as a user pays for it: the wall time of
// `ctl resource apply -f dag.yaml --wait` (the built bin/run.js, CLI start included) against
// a control plane started beforehand in its own process. Each run applies a fresh workflow
// name, so every apply starts a run. Against it: a shell script running the same 200 `true`
// processes under a minimal bubblewrap (read-only /usr /bin /lib /lib64 /etc, --dev /dev
// --proc /proc --tmpfs /tmp --unshare-pid), two at a time (the machine has two cores),
// layer by layer. Medians of a few alternating runs; target: ratio ≤ 2.
//
// Dependencies: every step of layer k depends on ALL 20 steps of layer k-1 (a full
// barrier, 3,600 edges), which is what the script's per-layer `xargs` does.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startPlaneProcess } from './plane.mjs'
import { BWRAP, minimalBwrap } from './sandbox-baseline.mjs'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const LAYERS = Number(process.env.BENCH_LAYERS ?? 10)
const WIDTH = Number(process.env.BENCH_WIDTH ?? 20)
const REPEAT = Number(process.env.BENCH_RUNS ?? 5)

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** The DAG as a user writes it (JSON is YAML). */
function manifest(name) {
  const dag = []
  for (let l = 0; l < LAYERS; l++) {
    for (let i = 0; i < WIDTH; i++) {
      const step = {
        name: `l${l}-s${i}`,
        spec: { stack: 'container', stackSpec: { image: 'docker.io/library/alpine:3.20', command: ['true'] } },
      }
      if (l > 0) step.depends = Array.from({ length: WIDTH }, (_, j) => `l${l - 1}-s${j}`)
      dag.push(step)
    }
  }
  return { version: 'v2alpha', name, type: 'workflow', spec: { parallelism: WIDTH, dag } }
}

function time(cmd, args, env) {
  const start = process.hrtime.bigint()
  const r = spawnSync(cmd, args, { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return Number(process.hrtime.bigint() - start) / 1e6
}

export default async function dag() {
  if (!fs.existsSync(BWRAP)) throw new Error(`this benchmark needs bubblewrap (${BWRAP})`)
  const loadAverage = os.loadavg().map((x) => +x.toFixed(2))
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-bench-dag-'))
  const sandbox = minimalBwrap()
  const probe = spawnSync('sh', ['-c', sandbox], { encoding: 'utf8' })
  if (probe.status !== 0) throw new Error(`the baseline's bwrap command fails: ${probe.stderr}`)
  const script = path.join(dir, 'layers.sh')
  // xargs -P 2 keeps two sandboxes running; each layer waits for the previous one to end.
  fs.writeFileSync(script, `for l in $(seq ${LAYERS}); do\n  seq ${WIDTH} | xargs -P 2 -I{} ${sandbox}\ndone\n`)
  const shellEnv = { PATH: process.env.PATH }

  const plane = await startPlaneProcess({ dataDir: path.join(dir, 'data') })
  try {
    const cliEnv = { PATH: process.env.PATH, HOME: dir, CTL_HOME: path.join(dir, 'home'), CTL_SERVER: plane.url, CTL_APIKEY: plane.token }
    const ctlRun = (name) => {
      const file = path.join(dir, `${name}.yaml`)
      fs.writeFileSync(file, JSON.stringify(manifest(name), null, 1))
      return time(process.execPath, [path.join(root, 'bin', 'run.js'), 'resource', 'apply', '-f', file, '--wait'], cliEnv)
    }
    time('sh', [script], shellEnv) // warm-up of both sides (page cache, first SQLite pages)
    ctlRun('warm-up')
    const shell = []
    const ctl = []
    for (let i = 0; i < REPEAT; i++) {
      shell.push(time('sh', [script], shellEnv))
      ctl.push(ctlRun(`layers-${i}`))
    }
    const ratio = median(ctl) / median(shell)
    return {
      // Other work on the machine (1, 5, 15 min) when the bench began: it slows both sides, not alike.
      loadAverageAtStart: loadAverage,
      steps: LAYERS * WIDTH,
      layers: LAYERS,
      width: WIDTH,
      dependencies: 'every step of layer k depends on all steps of layer k-1',
      ctl: 'node bin/run.js resource apply -f dag.yaml --wait (fresh workflow name per run), control plane started beforehand',
      shell: `per layer: seq ${WIDTH} | xargs -P 2 ${sandbox}`,
      runs: REPEAT,
      shellMedianMs: +median(shell).toFixed(0),
      ctlMedianMs: +median(ctl).toFixed(0),
      shellMs: shell.map((x) => +x.toFixed(0)),
      ctlMs: ctl.map((x) => +x.toFixed(0)),
      targets: { ratio: { value: +ratio.toFixed(2), target: '<= 2', met: ratio <= 2 } },
    }
  } finally {
    await plane.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
