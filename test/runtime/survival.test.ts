// A step outlives the runtime instance that started it: a new instance (as after a
// control-plane restart) resumes following from the stored offset.

import fs from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { createLocalRuntime } from '../../src/runtime/local/index.js'
import { attemptLog, handleData } from '../../src/runtime/local/files.js'
import type { LogLine, RuntimeHandle } from '../../src/runtime/types.js'
import { hasBwrap, launch, shPod, tempDir, texts } from './helpers.js'

const modes = hasBwrap ? (['bubblewrap', 'none'] as const) : (['none'] as const)
const dirs: string[] = []
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })))

describe.each(modes)('survival, sandbox %s', (mode) => {
  it('runs detached in its own session and is followed by a new runtime from the saved offset, each line once', async () => {
    const stateDir = tempDir()
    dirs.push(stateDir)
    const first = createLocalRuntime({ stateDir, sandbox: mode })
    const started = await first.start(launch(shPod('for i in 1 2 3 4 5 6; do echo line $i; sleep 0.05; done; exit 7')))
    // The engine stores the handle as JSON.
    const handle = JSON.parse(JSON.stringify(started)) as RuntimeHandle

    // The supervisor leads its own session: a signal to the control plane's group or terminal does not reach it.
    const supervisorPid = handle.data.supervisorPid as number
    const stat = fs.readFileSync(`/proc/${supervisorPid}/stat`, 'utf8')
    const sid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3])
    expect(sid).toBe(supervisorPid)

    const stored: LogLine[] = []
    let savedOffset = 0
    const abort = new AbortController()
    await expect(
      first.follow(
        handle,
        0,
        async (batch) => {
          stored.push(...batch.lines)
          savedOffset = batch.offset
          if (stored.length >= 2) abort.abort(new Error('control plane going down'))
        },
        abort.signal,
      ),
    ).rejects.toThrow('control plane going down')

    const second = createLocalRuntime({ stateDir, sandbox: mode })
    const rest: LogLine[] = []
    const exit = await second.follow(handle, savedOffset, async (batch) => {
      rest.push(...batch.lines)
    })
    expect(exit).toMatchObject({ exitCode: 7, reason: 'Error' })
    expect(texts([...stored, ...rest])).toEqual([1, 2, 3, 4, 5, 6].map((i) => `line ${i}`))

    // Following again from the end delivers nothing more and the same exit.
    const again: LogLine[] = []
    const size = fs.statSync(attemptLog(handleData(handle))).size
    expect(await second.follow(handle, size, async (b) => void again.push(...b.lines))).toEqual(exit)
    expect(again).toEqual([])
  })
})
