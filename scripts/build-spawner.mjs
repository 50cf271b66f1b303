// Builds the local runtime's native helpers where a C compiler exists on Linux; without one each has a complete
// fallback, so a missing compiler or a failed compile is a note, never a failure of the build:
// - the step host's spawner (src/runtime/local/spawner.c) into dist/native/ctl-spawner; without it the host starts
//   steps with Node's spawn (see spawn-client.mjs);
// - the sandbox launcher (src/runtime/local/sandbox-launcher.c) into dist/native/ctl-sandbox; without it bwrap runs
//   the sandboxes (see sandbox.ts). Linked statically when the libc allows it: a static binary skips the dynamic
//   loader, which is a measurable part of a sandbox's start.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const native = join(root, 'dist', 'native')
const spawnerOut = join(native, 'ctl-spawner')
const launcherOut = join(native, 'ctl-sandbox')
// Never a stale binary beside a newer host or runtime, whatever happens below.
rmSync(spawnerOut, { force: true })
rmSync(launcherOut, { force: true })
const cc = process.env.CC || 'cc'
const FLAGS = ['-O2', '-Wall', '-Wextra']
const source = (name) => join(root, 'src', 'runtime', 'local', name)

if (process.platform !== 'linux') {
  console.log('spawner: not Linux, steps start with Node\'s spawn')
  console.log('sandbox launcher: not Linux, not built')
} else if (spawnSync(cc, ['--version'], { stdio: 'ignore' }).status !== 0) {
  console.log(`spawner: no C compiler (${cc}), steps start with Node's spawn`)
  console.log(`sandbox launcher: no C compiler (${cc}), bwrap runs the sandboxes`)
} else {
  mkdirSync(native, { recursive: true })
  const spawner = spawnSync(cc, [...FLAGS, '-o', spawnerOut, source('spawner.c')], { stdio: 'inherit' })
  // A compiler without the Linux headers it needs (old or foreign libc): the fallback is complete, say so and go on.
  if (spawner.status !== 0) console.log(`spawner: ${cc} failed (exit ${spawner.status}), steps start with Node's spawn`)
  buildLauncher()
}

function buildLauncher() {
  const src = source('sandbox-launcher.c')
  if (!existsSync(src)) {
    console.log('sandbox launcher: src/runtime/local/sandbox-launcher.c is missing, bwrap runs the sandboxes')
    return
  }
  // Static first, quietly: without a static libc (libc.a) it fails at link time, and the dynamic build below says
  // what a real error in the source is.
  const stat = spawnSync(cc, [...FLAGS, '-static', '-o', launcherOut, src], { stdio: ['ignore', 'pipe', 'pipe'] })
  if (stat.status === 0) {
    process.stderr.write(stat.stderr) // its warnings, if any
    return
  }
  rmSync(launcherOut, { force: true })
  const dyn = spawnSync(cc, [...FLAGS, '-o', launcherOut, src], { stdio: 'inherit' })
  if (dyn.status === 0) console.log(`sandbox launcher: static link failed (no static libc?), built dynamically`)
  else {
    rmSync(launcherOut, { force: true })
    console.log(`sandbox launcher: ${cc} failed (exit ${dyn.status}), bwrap runs the sandboxes`)
  }
}
