// Builds the step host's native spawner (src/runtime/local/spawner.c) into dist/native/ctl-spawner, where a C
// compiler exists on Linux. Without one the host starts steps with Node's spawn (see spawn-client.mjs): a note, no failure.
import { spawnSync } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = join(root, 'dist', 'native', 'ctl-spawner')
rmSync(out, { force: true }) // never a stale binary beside a newer host
const cc = process.env.CC || 'cc'
if (process.platform !== 'linux') {
  console.log('spawner: not Linux, steps start with Node\'s spawn')
} else if (spawnSync(cc, ['--version'], { stdio: 'ignore' }).status !== 0) {
  console.log(`spawner: no C compiler (${cc}), steps start with Node's spawn`)
} else {
  mkdirSync(dirname(out), { recursive: true })
  const r = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-o', out, join(root, 'src', 'runtime', 'local', 'spawner.c')], { stdio: 'inherit' })
  // A compiler without the Linux headers it needs (old or foreign libc): the fallback is complete, say so and go on.
  if (r.status !== 0) console.log(`spawner: ${cc} failed (exit ${r.status}), steps start with Node's spawn`)
}
