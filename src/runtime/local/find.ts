// Attempts the engine has no handle of: it crashed between start() and storing the handle. find() looks for what a
// host left (the handle heads the attempt's log) or claims the attempt itself, so that a start still on its way can
// no longer run it; forget() removes what a start cut short left (its attempt folder) once the engine recorded the
// attempt as never started. The claim itself stays: it is the fence that keeps a start still on its way (a replica
// that stalled past the launch grace) from running a step already recorded Lost.

import fs from 'node:fs'
import path from 'node:path'
import type { RuntimeHandle, StepKey } from '../types.js'
import { LOG_FILE, NOT_STARTED, besideLogOf, createExclusive, logFileOf, logHead, readExit, readHandle, type LocalHandleData, type LogPlace } from './files.js'
import type { AttemptDirRemover } from './remove.js'

/** How long find() waits for a host that is starting the attempt right now. */
const FIND_WAIT_MS = 15_000

export interface FinderContext {
  /** The attempt's folder name from its key, checked (a key must not name a path outside its run). */
  attemptDirOf(key: StepKey): string
  handleOf(key: StepKey, data: LocalHandleData): RuntimeHandle
  mode: LocalHandleData['mode']
  removals: AttemptDirRemover
}

export function attemptFinder(ctx: FinderContext) {
  const { attemptDirOf, handleOf, mode, removals } = ctx

  /**
   * The attempt of `key`, when one was started: from its handle, the first record of its log (written by the host
   * before it confirms a start). A log without one is being started right now (the host claimed it: wait for the
   * handle); no log means the start was never handed to a host, or is still on its way: then the log is created
   * here, the claim that a start still on its way can no longer make, and the attempt reported as not started. That
   * claim says so in its first record, so a later look (the next orphan check) tells it from a host's claim, empty
   * until the host writes the handle, and answers "not started" again at once.
   *
   * A step host of the last version claims beside the attempt folder instead (besideLogOf), and may still run after an
   * upgrade, serving this runtime's starts: its claim counts as a host's claim, and find() fences it too, beside the
   * folder, before it claims in the logs folder. That fence (and the run folder it lies in) stays with the claim.
   */
  async function find(key: StepKey): Promise<RuntimeHandle | undefined> {
    const attemptDir = attemptDirOf(key)
    const log = logFileOf(attemptDir)
    const beside = besideLogOf(attemptDir)
    const deadline = Date.now() + FIND_WAIT_MS
    // Started by a runtime from before the log moved out of the attempt folder: found where it was put.
    const older = readHandle(path.join(attemptDir, LOG_FILE))
    if (older) return older
    for (;;) {
      const head = logHead(log)
      if (head.handle) return head.handle
      if (head.notStarted) return undefined // claimed by a find() before: still not started
      const lastVersion = logHead(beside)
      if (lastVersion.handle) return lastVersion.handle
      // No claim in the logs folder yet: fenced beside already (a find() before us), or fenced now, then claimed there.
      // (A claim there already is a host's: no fence then, it would stay with its run folder for nothing.)
      if (!fs.existsSync(log) && (lastVersion.notStarted || createdExclusive(beside))) {
        if (createdExclusive(log)) return undefined // claimed by us: no host will start it now
      }
      // Claimed by a host (of this version in the logs folder, else of the last one beside the folder).
      const claim = fs.existsSync(log) ? log : beside
      if (readExit(claim) || Date.now() > deadline) {
        // Claimed by a host that never wrote the handle (it died): follow reports the outcome (Lost).
        return handleOf(key, { ...emptyData(attemptDir, claim === log ? 'logs' : 'beside'), supervisorPid: null })
      }
      await sleep(20)
    }
  }

  /** find()'s claim at `file`: false when it is taken. */
  function createdExclusive(file: string): boolean {
    try {
      createExclusive(file, NOT_STARTED)
      return true
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      return false
    }
  }

  /**
   * Removes the attempt folder a start cut short by a crash may have made (its config files, which may hold projected
   * secrets) once the engine has recorded the attempt as not started. find()'s claim stays, in the logs folder:
   * without it, a start still on its way (a replica stalled past the launch grace between its lease check and its
   * start) would run a step already recorded Lost. So does its fence beside the attempt folder (against a host of the
   * last version), and with it the run folder: two 11-byte files per interrupted launch are the price. The path comes
   * from the key alone (attemptDirOf checks it), and nothing is done unless the log is find()'s own claim: a host's
   * attempt goes with its handle (cleanup).
   */
  async function forget(key: StepKey): Promise<void> {
    const attemptDir = attemptDirOf(key)
    if (!logHead(logFileOf(attemptDir)).notStarted || !fs.existsSync(attemptDir)) return
    // As a folder of an older runtime: the folder goes (with a log inside it, which there is not), the claim stays.
    await removals.add({ attemptDir, logAt: 'inside', folder: true })
  }

  function emptyData(attemptDir: string, logAt: LogPlace): LocalHandleData {
    // Whether a folder was made is not known here: cleanup looks.
    return { attemptDir, logAt, folder: true, mode, host: true, supervisorPid: null, supervisorStart: null, stepPid: null, shmDir: null, image: null, notes: [] }
  }

  return { find, forget }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
