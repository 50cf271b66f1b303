// kill() of a step whose host is alive but does not answer (here: stopped with SIGSTOP, as a hung host
// would be): the Killed exit the control plane writes must hold. Before, the host could come back,
// append the step's remaining output and its own exit after ours, and readers (who take the exit
// records that end the log) then saw the step succeed. The order is driven, not timed: the step ends
// on its own while its host is stopped, a new runtime (a restarted control plane) kills it, and only
// then is the host let go on.
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import { isAlive, readExit } from '../../src/runtime/local/files.js'
import { collect, groupExists, hasBwrap, shPod, startedUp, stoppedHostsCleanup, tempDir, texts, until } from './helpers.js'

const modes = hasBwrap ? (['bubblewrap', 'none'] as const) : (['none'] as const)
const { dirs, hosts } = stoppedHostsCleanup()

describe.each(modes)('kill() with a step host that does not answer, sandbox %s', (mode) => {
  it('ends the host before writing Killed, so a step that finished meanwhile still ends Killed', async () => {
    const stateDir = tempDir()
    const volDir = tempDir('ctl-vol-')
    dirs.push(stateDir, volDir)
    const rt = createLocalRuntime({ stateDir, sandbox: mode })
    const p = shPod('echo up; while [ ! -e /v/go ]; do sleep 0.02; done; echo done', {
      volumes: [{ name: 'v', persistentVolumeClaim: { claimName: 'shared' } }],
      container: { volumeMounts: [{ name: 'v', mountPath: '/v' }] },
    })
    const { handle, log, host } = await startedUp(rt, p, hosts, { volumeDirs: { shared: volDir } })
    const { pid: hostPid, start: hostStart } = host

    process.kill(hostPid, 'SIGSTOP')
    fs.writeFileSync(path.join(volDir, 'go'), '')
    // The step exits 0 (its spawner reaps it); the stopped host has not seen it.
    await until(() => !groupExists(handle.data.stepPid as number), 'the step to end')
    expect(readExit(log)).toBeUndefined()

    // A restarted control plane: its connection gets no handshake from the stopped host.
    const again = createLocalRuntime({ stateDir, sandbox: mode })
    await again.kill(handle, 'stopped by bob')
    expect(isAlive(hostPid, hostStart)).toBe(false)
    expect(readExit(log)).toMatchObject({ reason: 'Killed', exitCode: null, message: 'stopped by bob' })

    // Let the host go on, if it still could: whatever it would write comes before we look again.
    try {
      process.kill(hostPid, 'SIGCONT')
    } catch {}
    await until(() => !isAlive(hostPid, hostStart) || readExit(log)?.reason !== 'Killed', 'the host to end or write')
    const r = await collect(again, handle)
    expect(r.exit).toMatchObject({ reason: 'Killed', message: 'stopped by bob' })
    expect(texts(r.lines)).toEqual(['up'])
  }, 60_000)
})
