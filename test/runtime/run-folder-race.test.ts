// The run folder of the local runtime is removed by the cleanup of a run's last finished attempt once it is
// empty, while the next layer of the same run may be creating attempts in it (a DAG between layers). Every
// side that creates an attempt's log or folder (the control plane's start and find, the step host's claim)
// must win that race. Here a real process removes the run folder in a tight loop while they are made.
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createExclusive, logFileOf, mkdirExclusive } from '../../src/runtime/local/files.js'
// @ts-expect-error: plain-JS module of the step host, without type declarations
import { Step } from '../../src/runtime/local/step.mjs'

let remover: ChildProcess | undefined
let dir: string | undefined
afterEach(() => {
  remover?.kill('SIGKILL')
  remover = undefined
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

/** A process that removes `runDir` whenever it is empty, as fast as it can. */
function startRemover(runDir: string): ChildProcess {
  return spawn('sh', ['-c', 'while :; do rmdir "$1" 2>/dev/null; done', 'sh', runDir], { stdio: 'ignore' })
}

const ROUNDS = 1500

/**
 * Makes and removes ROUNDS attempt folders with `attemptRound` in a run folder that a real process keeps removing;
 * returns how often the run folder was gone just before a round.
 */
async function raceTheRemover(attemptRound: (attempt: string) => Promise<void> | void): Promise<number> {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-race-'))
  const runDir = path.join(dir, 'runs', 'r1')
  remover = startRemover(runDir)
  let missing = 0
  for (let i = 0; i < ROUNDS; i++) {
    if (!fs.existsSync(runDir)) missing++
    await attemptRound(path.join(runDir, `s${i}`))
  }
  return missing
}

describe('attempt folders while the run folder comes and goes', () => {
  it('the control plane makes each one (mkdirExclusive)', async () => {
    const missing = await raceTheRemover((attempt) => {
      mkdirExclusive(attempt)
      expect(fs.statSync(attempt).isDirectory()).toBe(true)
      fs.rmdirSync(attempt)
    })
    // The remover really took the run folder away in between (the race was run, not skipped).
    expect(missing).toBeGreaterThan(0)
  })

  it('the control plane claims each log (createExclusive)', async () => {
    const missing = await raceTheRemover((attempt) => {
      createExclusive(logFileOf(attempt), '')
      expect(fs.statSync(logFileOf(attempt)).mode & 0o777).toBe(0o600)
      fs.unlinkSync(logFileOf(attempt))
    })
    expect(missing).toBeGreaterThan(0)
  })

  it('the step host claims each one (Step.claim)', async () => {
    const missing = await raceTheRemover(async (attempt) => {
      const step = new Step({ attemptDir: attempt }, () => {}) as { claim(): void; log: { fd: number } }
      step.claim()
      fs.closeSync(step.log.fd)
      fs.unlinkSync(logFileOf(attempt))
    })
    expect(missing).toBeGreaterThan(0)
  })
})
