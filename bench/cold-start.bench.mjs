// `ctl version` cold start against `node -e 0`, medians over the same number of
// alternating runs so that machine noise hits both alike. Target: ratio ≤ 2.5.
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const runs = Number(process.env.BENCH_RUNS ?? 21)

function time(args) {
  const start = process.hrtime.bigint()
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'ignore', env: { ...process.env, CTL_HOME: join(root, 'bench', '.home') } })
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`)
  return Number(process.hrtime.bigint() - start) / 1e6
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

export default async function coldStart() {
  const node = []
  const ctl = []
  time(['-e', '0'])
  time([join(root, 'bin', 'run.js'), 'version'])
  for (let i = 0; i < runs; i++) {
    node.push(time(['-e', '0']))
    ctl.push(time([join(root, 'bin', 'run.js'), 'version']))
  }
  const ratio = median(ctl) / median(node)
  return {
    runs,
    nodeMedianMs: +median(node).toFixed(1),
    ctlVersionMedianMs: +median(ctl).toFixed(1),
    targets: { ratio: { value: +ratio.toFixed(2), target: '<= 2.5', met: ratio <= 2.5 } },
  }
}
