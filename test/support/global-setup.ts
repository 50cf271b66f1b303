// Once per vitest run: marks the run so that every process it starts can be found afterwards, and
// after the last test asserts that none is left (bwrap sandboxes, step hosts, control planes, …).
// The marker: CTL_TEST_SUITE=<random id> in the environment (workers and their children inherit
// it) and a fresh folder of the run's own as TMPDIR (every temp folder of a test lands under it, so
// data folders, attempt folders and the step host's cwd and command line name it) and CTL_HOME (so
// no test writes to the real ~/.ctl, master keys included). See suite-processes.ts.
// Survivors are named (pid, parent, command line), killed so that CI does not hang, and fail the run.
import { randomBytes } from 'node:crypto'
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stopTestPostgres } from './postgres.js'
import { SUITE_ENV, describeProcesses, killAll, waitForSuiteProcesses, type SuiteMarker } from './suite-processes.js'

/** How long processes may take to exit after the last test (a control plane's graceful stop, a step's SIGTERM). */
const GRACE_MS = Number(process.env.CTL_TEST_TEARDOWN_GRACE_MS ?? 15_000)

export default function setup(): () => Promise<void> {
  const id = randomBytes(6).toString('hex')
  // Short: a socket path under it must stay within 108 bytes. realpath: /proc shows resolved paths.
  const root = realpathSync(mkdtempSync(join(tmpdir(), `ctls-${id.slice(0, 6)}-`)))
  const marker: SuiteMarker = { id, root }
  // Enterable by others (not listable), as /tmp is: under a root test process the sandbox's step
  // user (nobody) must reach the data and volume folders that tests make below it.
  chmodSync(root, 0o711)
  mkdirSync(join(root, 'tmp'), { mode: 0o711 })
  chmodSync(join(root, 'tmp'), 0o711)
  process.env[SUITE_ENV] = id
  process.env.TMPDIR = join(root, 'tmp')
  process.env.CTL_HOME = join(root, 'home')

  return async function teardown(): Promise<void> {
    // The run's PostgreSQL (started by the first test that wanted one) is ours to stop, not a leak.
    stopTestPostgres(root)
    if (process.platform !== 'linux') return
    const left = await waitForSuiteProcesses(marker, GRACE_MS)
    if (left.length === 0) {
      rmSync(root, { recursive: true, force: true })
      return
    }
    killAll(left)
    // Their children may have been started with the marker too and outlive them: a second sweep.
    killAll(await waitForSuiteProcesses(marker, 2_000))
    rmSync(root, { recursive: true, force: true })
    process.exitCode = 1
    console.error(`\nerror: ${left.length} process${left.length === 1 ? '' : 'es'} started by the test suite ${left.length === 1 ? 'was' : 'were'} still running `
      + `${GRACE_MS / 1000} s after the last test (killed now):\n${describeProcesses(left)}\n`)
  }
}
