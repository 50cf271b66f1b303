// kill() over a connection the control plane already holds, to a step host that then stops answering (stopped with
// SIGSTOP, as a hung host would be). Before, the request waited for its reply for ever; now the host must show it
// lives (it is asked, every START_TIMEOUT_MS) or the request fails, and kill() takes the path of a host that gives no
// answer: the host is ended before Killed is written. A host that is alive but answers late, because the step
// ignores SIGTERM and is killed only after its grace period, is not taken for a hung one. Driven, not timed.
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import { isAlive, readExit } from '../../src/runtime/local/files.js'
import { collect, groupExists, hasBwrap, launch, shPod, startedUp, stoppedHostsCleanup, tempDir, texts, until } from './helpers.js'

const modes = hasBwrap ? (['bubblewrap', 'none'] as const) : (['none'] as const)
const { dirs, hosts } = stoppedHostsCleanup()

async function started(mode: 'bubblewrap' | 'none', script: string, grace?: number) {
  const stateDir = tempDir()
  dirs.push(stateDir)
  const rt = createLocalRuntime({ stateDir, sandbox: mode })
  return { rt, ...(await startedUp(rt, shPod(script, grace === undefined ? {} : { grace }), hosts)) }
}

describe.each(modes)('kill() over an open connection, sandbox %s', (mode) => {
  it('ends a host that stopped answering, and the step ends Killed', async () => {
    const { rt, handle, host, log } = await started(mode, 'echo up; sleep 60')
    process.kill(host.pid, 'SIGSTOP')
    // The same runtime: the connection its start opened is still open (the host lives, with a step).
    await rt.kill(handle, 'stopped by bob')
    expect(isAlive(host.pid, host.start)).toBe(false)
    expect(readExit(log)).toMatchObject({ reason: 'Killed', exitCode: null, message: 'stopped by bob' })
    await until(() => !groupExists(handle.data.stepPid as number), 'the step to be gone with its host')
  }, 60_000)
})

it(`waits for a host that answers only after the step's grace period, longer than the bound (sandbox ${modes[0]})`, async () => {
  // SIGTERM is ignored by the shell and (inherited) by its sleep: the host ends the step with SIGKILL after 20 s.
  const { rt, handle, host, log } = await started(modes[0], "trap '' TERM; echo up; while :; do sleep 1; done", 20)
  await rt.kill(handle, 'stopped by bob')
  expect(readExit(log)).toMatchObject({ reason: 'Killed', exitCode: 137, message: 'stopped by bob' })
  // Answered by the host itself: it still runs.
  expect(isAlive(host.pid, host.start)).toBe(true)
}, 60_000)

// The watch fails its own request, not every request on the connection: before, the whole connection was dropped,
// and a start waiting on it failed as "the step host went away before answering" although the host, once it went on,
// read that start from the socket and ran the step (the engine then records StartError for a step that runs). Here the
// killed attempt's handle names no host (find()'s host-less handle), so kill() ends no host.
it(`fails only the unanswered kill: a start waiting on the same host is answered once it goes on (sandbox ${modes[0]})`, async () => {
  const { rt, handle, host, log } = await started(modes[0], 'echo up; sleep 60')
  process.kill(host.pid, 'SIGSTOP')
  let startSettled = false
  const late = rt.start(launch(shPod('echo late')))
  late.then(
    () => (startSettled = true),
    () => (startSettled = true),
  )
  const runDir = path.dirname(handle.data.attemptDir as string)
  const hostless = { ...handle, id: 'hostless', data: { ...handle.data, attemptDir: path.join(runDir, 'other.0'), supervisorPid: null, supervisorStart: null, stepPid: null } }
  await rt.kill(hostless, 'stopped by bob')
  await new Promise((r) => setImmediate(r))
  expect(startSettled).toBe(false)
  // Not ended: the host of the running step goes on, and answers the start.
  expect(isAlive(host.pid, host.start)).toBe(true)
  process.kill(host.pid, 'SIGCONT')
  const lateHandle = await late
  expect(lateHandle.data.supervisorPid).toBe(host.pid)
  expect(texts((await collect(rt, lateHandle)).lines)).toEqual(['late'])
  // The next request goes over a new connection to the same host.
  await rt.kill(handle, 'done')
  expect(readExit(log)).toMatchObject({ reason: 'Killed', message: 'done' })
}, 60_000)
