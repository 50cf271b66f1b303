// Builds the local runtime's native helpers where a C compiler exists on Linux; without one each has a complete
// fallback, so a missing compiler or a failed compile is a note, never a failure of the build:
// - the step host's spawner (src/runtime/local/spawner.c, with the launcher below compiled in) into
//   dist/native/ctl-spawner; without it the host starts steps with Node's spawn (see spawn-client.mjs);
// - the sandbox launcher (src/runtime/local/sandbox-launcher.c) into dist/native/ctl-sandbox; without it bwrap runs
//   the sandboxes (see sandbox.ts). Linked statically when the libc allows it: a static binary skips the dynamic
//   loader, which is a measurable part of a sandbox's start.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const native = join(root, 'dist', 'native')
const spawnerOut = join(native, 'ctl-spawner')
const launcherOut = join(native, 'ctl-sandbox')
// Never a stale binary beside a newer host or runtime, whatever happens below. The launcher is replaced at the end
// (built beside it, renamed over it): a control plane running meanwhile execs it for every step it starts.
rmSync(spawnerOut, { force: true })
const cc = process.env.CC || 'cc'
const FLAGS = ['-O2', '-Wall', '-Wextra']
const source = (name) => join(root, 'src', 'runtime', 'local', name)

if (process.platform !== 'linux') {
  rmSync(launcherOut, { force: true })
  console.log('spawner: not Linux, steps start with Node\'s spawn')
  console.log('sandbox launcher: not Linux, not built')
} else if (spawnSync(cc, ['--version'], { stdio: 'ignore' }).status !== 0) {
  rmSync(launcherOut, { force: true })
  console.log(`spawner: no C compiler (${cc}), steps start with Node's spawn`)
  console.log(`sandbox launcher: no C compiler (${cc}), bwrap runs the sandboxes`)
} else {
  mkdirSync(native, { recursive: true })
  // The launcher is compiled into the spawner too (F_SANDBOX in spawner.c: a step's sandbox without an exec).
  // Bound at start (-z now): a lazy binding in a child saves the vector registers, with whatever libc left in them.
  const spawner = spawnSync(cc, [...FLAGS, '-DCTL_SANDBOX_IN_SPAWNER', '-Wl,-z,now', '-o', spawnerOut, source('spawner.c'), source('sandbox-launcher.c')], { stdio: 'inherit' })
  // A compiler without the Linux headers it needs (old or foreign libc): the fallback is complete, say so and go on.
  if (spawner.status !== 0) console.log(`spawner: ${cc} failed (exit ${spawner.status}), steps start with Node's spawn`)
  buildLauncher()
}

function buildLauncher() {
  const src = source('sandbox-launcher.c')
  const tmp = `${launcherOut}.${process.pid}.tmp`
  const built = () => renameSync(tmp, launcherOut)
  const none = (why) => {
    rmSync(tmp, { force: true })
    rmSync(launcherOut, { force: true })
    console.log(`sandbox launcher: ${why}, bwrap runs the sandboxes`)
  }
  if (!existsSync(src)) return none('src/runtime/local/sandbox-launcher.c is missing')
  // Static first, quietly: without a static libc (libc.a) it fails at link time, and the dynamic build below says
  // what a real error in the source is.
  const stat = spawnSync(cc, [...FLAGS, '-static', '-o', tmp, src], { stdio: ['ignore', 'pipe', 'pipe'] })
  if (stat.status === 0) {
    process.stderr.write(stat.stderr) // its warnings, if any
    return built()
  }
  rmSync(tmp, { force: true })
  const dyn = spawnSync(cc, [...FLAGS, '-o', tmp, src], { stdio: 'inherit' })
  if (dyn.status !== 0) return none(`${cc} failed (exit ${dyn.status})`)
  built()
  console.log('sandbox launcher: static link failed (no static libc?), built dynamically')
}
