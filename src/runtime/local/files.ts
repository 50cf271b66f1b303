// The attempt folder's files and the liveness checks the control plane makes
// on them. The supervisor writes them (supervisor.mjs); everything here only reads,
// except the Lost / Killed exits written on behalf of a supervisor that is gone.

import fs from 'node:fs'
import path from 'node:path'
import type { ExitReason, RuntimeHandle, StepExit } from '../types.js'

export const LOG_FILE = 'log.ndjson'
export const EXIT_FILE = 'exit.json'
export const KILL_FILE = 'kill.json'
/** The handle start() returned (no secrets), written by the step host before it confirms a start, so it can be recovered if the engine lost it. */
export const HANDLE_FILE = 'handle.json'

/** What the local runtime keeps in RuntimeHandle.data. */
export interface LocalHandleData {
  attemptDir: string
  mode: 'bubblewrap' | 'none'
  /** Run by the shared step host (false: a per-step supervisor of an older version; kill differs). */
  host: boolean
  /** The step host (or old per-step supervisor) watching the step; null when the step failed before one took it. */
  supervisorPid: number | null
  /** Start time of that process (clock ticks since boot, /proc/PID/stat field 22), to tell a reused pid apart. */
  supervisorStart: string | null
  /** The step's process group (plain) or the outer bwrap process. */
  stepPid: number | null
  shmDir: string | null
  image: string | null
  notes: string[]
}

export function handleData(handle: RuntimeHandle): LocalHandleData {
  const d = handle.data as Partial<LocalHandleData>
  if (handle.runtime !== 'local' || typeof d.attemptDir !== 'string') throw new Error(`not a local runtime handle: ${handle.id}`)
  return {
    attemptDir: d.attemptDir,
    mode: d.mode === 'bubblewrap' ? 'bubblewrap' : 'none',
    host: d.host === true,
    supervisorPid: typeof d.supervisorPid === 'number' ? d.supervisorPid : null,
    supervisorStart: typeof d.supervisorStart === 'string' ? d.supervisorStart : null,
    stepPid: typeof d.stepPid === 'number' ? d.stepPid : null,
    shmDir: typeof d.shmDir === 'string' ? d.shmDir : null,
    image: typeof d.image === 'string' ? d.image : null,
    notes: Array.isArray(d.notes) ? d.notes.filter((n): n is string => typeof n === 'string') : [],
  }
}

export function writeAtomic(file: string, content: string): void {
  const tmp = `${file}.tmp-${process.pid}`
  fs.writeFileSync(tmp, content)
  fs.renameSync(tmp, file)
}

/** The handle in an attempt folder, if one was written. */
export function readHandle(attemptDir: string): RuntimeHandle | undefined {
  try {
    const v = JSON.parse(fs.readFileSync(path.join(attemptDir, HANDLE_FILE), 'utf8')) as RuntimeHandle
    return v && typeof v.id === 'string' && typeof v.data === 'object' ? v : undefined
  } catch {
    return undefined
  }
}

const REASONS: readonly ExitReason[] = ['Completed', 'Error', 'DeadlineExceeded', 'Killed', 'StartError', 'Lost']

export function readExit(attemptDir: string): StepExit | undefined {
  let v: Record<string, unknown>
  try {
    // Written in place (one create, no rename): a file that does not parse yet is not written yet.
    v = JSON.parse(fs.readFileSync(path.join(attemptDir, EXIT_FILE), 'utf8')) as Record<string, unknown>
  } catch {
    return undefined
  }
  const reason = REASONS.includes(v.reason as ExitReason) ? (v.reason as ExitReason) : 'Error'
  const out: StepExit = {
    exitCode: typeof v.exitCode === 'number' ? v.exitCode : null,
    reason,
    finishedAt: typeof v.finishedAt === 'string' ? v.finishedAt : new Date().toISOString(),
  }
  if (typeof v.message === 'string') out.message = v.message
  return out
}

/** Writes exit.json unless the step host already did (exclusive create: the first writer wins); returns the exit that holds. */
export function writeExitOnce(attemptDir: string, exit: StepExit): StepExit {
  try {
    fs.writeFileSync(path.join(attemptDir, EXIT_FILE), JSON.stringify(exit) + '\n', { flag: 'wx' })
  } catch {
    // keep the one that is there
  }
  return readExit(attemptDir) ?? exit
}

/** Field 22 of /proc/PID/stat (start time), or null where /proc does not exist. */
export function processStart(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[19] ?? null
  } catch {
    return null
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')
  } catch {
    return false
  }
}

/** Whether the process still runs and is the one we started (not a reused pid). */
export function isAlive(pid: number, start: string | null): boolean {
  try {
    process.kill(pid, 0)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  if (isZombie(pid)) return false
  if (start !== null) {
    const now = processStart(pid)
    if (now !== null && now !== start) return false
  }
  return true
}

export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}
