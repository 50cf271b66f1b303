// A 200-step layered DAG (10 layers × 20 steps, each step the `container` stack
// running `true`) through a real control plane, from apply to `succeeded`, against
// a shell script that starts the same 200 sandboxes (the very bwrap arguments the
// runtime builds) 20 at a time, layer by layer. Target: ratio ≤ 2.
//
// Dependencies: every step of layer k depends on ALL 20 steps of layer k-1 (a full
// barrier, 3,600 edges), which is exactly what the script's `wait` between layers does.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const dist = (rel) => pathToFileURL(path.join(root, 'dist', rel)).href
const LAYERS = Number(process.env.BENCH_LAYERS ?? 10)
const WIDTH = Number(process.env.BENCH_WIDTH ?? 20)
const REPEAT = Number(process.env.BENCH_RUNS ?? 5)

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

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

/** The bwrap command line the local runtime builds for a `true` step, its seccomp filter on fd 4 from a file in `dir`. */
async function bwrapCommand(dir) {
  const { planStep } = await import(dist('src/runtime/local/pod.js'))
  const { bubblewrapLayout, describeSandboxHost } = await import(dist('src/runtime/local/bwrap.js'))
  const pod = { metadata: { name: 'bench-step' }, spec: { containers: [{ name: 'main', image: 'alpine', command: ['true'] }] } }
  const launch = { key: { runId: 'bench', step: 's', attempt: 1 }, pod, secretData: {}, configData: {}, volumeDirs: {} }
  const plan = planStep(launch, process.env.PATH, (n) => `/nonexistent/${n}`)
  const host = describeSandboxHost({ dataDir: '/nonexistent', stateDir: '/nonexistent/runs', ctlHome: '/nonexistent/.ctl' })
  const layout = bubblewrapLayout(plan, '/nonexistent', '/usr/bin/bwrap', host)
  const quote = (s) => `'${s.replace(/'/g, `'\\''`)}'`
  const filter = path.join(dir, 'seccomp.bpf')
  fs.writeFileSync(filter, Buffer.from(layout.spec.seccomp ?? '', 'base64'))
  return [layout.spec.command, ...layout.spec.args].map(quote).join(' ') + (layout.spec.seccomp ? ` 4<${quote(filter)}` : '')
}

function shellBaseline(cmd, dir) {
  const script = path.join(dir, 'layers.sh')
  fs.writeFileSync(
    script,
    `for l in $(seq ${LAYERS}); do\n  for i in $(seq ${WIDTH}); do ${cmd} 3>/dev/null >/dev/null 2>&1 & done\n  wait\ndone\n`,
  )
  const start = process.hrtime.bigint()
  const r = spawnSync('sh', [script], { stdio: 'inherit', env: { PATH: process.env.PATH } })
  if (r.status !== 0) throw new Error(`baseline script exited ${r.status}`)
  return Number(process.hrtime.bigint() - start) / 1e6
}

async function controlPlaneRun(client, name) {
  const start = process.hrtime.bigint()
  const applied = await client.apply('public', [{ manifest: manifest(name) }])
  if (applied.results?.some?.((r) => r.outcome === 'error')) throw new Error(JSON.stringify(applied))
  const ref = { workspace: 'public', type: 'workflow', name }
  let runId
  while (!runId) {
    runId = (await client.runs(ref, { limit: 1 }))[0]?.id
    if (!runId) await sleep(5)
  }
  // Poll the run record only (not its 200 step records): the measurement must not load
  // the 2-core machine it measures; the shell baseline is not polled at all.
  for (;;) {
    const run = (await client.runs(ref, { limit: 1 }))[0]
    if (run?.state === 'succeeded') break
    if (run && run.state !== 'pending' && run.state !== 'running') {
      const failed = (await client.run(runId)).steps.filter((s) => s.state === 'failed').map((s) => `${s.step}/${s.attempt} ${s.reason}: ${s.message ?? ''}`)
      throw new Error(`run ${runId} ended ${run.state}: ${failed.join('; ')}`)
    }
    await sleep(20)
  }
  return Number(process.hrtime.bigint() - start) / 1e6
}

export default async function dag() {
  if (!fs.existsSync('/usr/bin/bwrap')) throw new Error('this benchmark needs bubblewrap (/usr/bin/bwrap)')
  const { startControlPlane } = await import(dist('src/server/server.js'))
  const { CtlClient } = await import(dist('src/client/client.js'))
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-bench-dag-'))
  const cmd = await bwrapCommand(dir)
  // The baseline hides each sandbox's output: make sure first that it runs at all.
  const probe = spawnSync('sh', ['-c', `${cmd} 3>/dev/null`], { encoding: 'utf8' })
  if (probe.status !== 0) throw new Error(`the baseline's bwrap command fails: ${probe.stderr}`)
  const plane = await startControlPlane({ dataDir: path.join(dir, 'data'), maxParallelSteps: WIDTH })
  try {
    const client = new CtlClient({ baseUrl: plane.url, apiKey: plane.adminToken })
    shellBaseline(cmd, dir) // warm-up of both sides (page cache, first SQLite pages)
    await controlPlaneRun(client, 'warm-up')
    const shell = []
    const ctl = []
    for (let i = 0; i < REPEAT; i++) {
      shell.push(shellBaseline(cmd, dir))
      ctl.push(await controlPlaneRun(client, `layers-${i}`))
    }
    const ratio = median(ctl) / median(shell)
    return {
      steps: LAYERS * WIDTH,
      layers: LAYERS,
      width: WIDTH,
      dependencies: 'every step of layer k depends on all steps of layer k-1',
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
