// The attempt folder's files and the liveness checks the control plane makes
// on them. The supervisor writes them (supervisor.mjs); everything here only reads,
// except the Lost / Killed exits written on behalf of a supervisor that is gone.

import fs from 'node:fs'
import path from 'node:path'
import type { ExitReason, RuntimeHandle, StepExit } from '../types.js'
import { isPidAlive } from '../../liveness.js'

export const LOG_FILE = 'log.ndjson'
export const EXIT_FILE = 'exit.json'
export const KILL_FILE = 'kill.json'
/**
 * The handle start() returned (no secrets), so it can be recovered if the engine lost it. The
 * step host writes it as the first record of log.ndjson (`{"h":...}`) before it confirms a start;
 * this file only holds it for a step that could not start, and for attempts of older hosts.
 */
export const HANDLE_FILE = 'handle.json'
/** How a log record holding the handle begins; log readers skip such records. */
export const HANDLE_RECORD_PREFIX = '{"h":'

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

const isHandleShape = (v: unknown): v is RuntimeHandle =>
  typeof v === 'object' && v !== null && typeof (v as RuntimeHandle).id === 'string' && typeof (v as RuntimeHandle).data === 'object'

/** The handle record at the head of log.ndjson, if the host wrote one. */
function handleFromLog(attemptDir: string): RuntimeHandle | undefined {
  let fd: number
  try {
    fd = fs.openSync(path.join(attemptDir, LOG_FILE), 'r')
  } catch {
    return undefined
  }
  try {
    const buf = Buffer.alloc(64 * 1024)
    const n = fs.readSync(fd, buf, 0, buf.length, 0)
    const nl = buf.subarray(0, n).indexOf(10)
    if (nl < 0) return undefined // not written yet
    const first = buf.toString('utf8', 0, nl)
    if (!first.startsWith(HANDLE_RECORD_PREFIX)) return undefined
    const v = (JSON.parse(first) as { h?: unknown }).h
    return isHandleShape(v) ? v : undefined
  } catch {
    return undefined
  } finally {
    fs.closeSync(fd)
  }
}

/** The handle of an attempt folder, if one was written: in the log (current hosts), else in handle.json. */
export function readHandle(attemptDir: string): RuntimeHandle | undefined {
  const fromLog = handleFromLog(attemptDir)
  if (fromLog) return fromLog
  try {
    const v = JSON.parse(fs.readFileSync(path.join(attemptDir, HANDLE_FILE), 'utf8')) as unknown
    return isHandleShape(v) ? v : undefined
  } catch {
    return undefined
  }
}

const REASONS: readonly ExitReason[] = ['Completed', 'Error', 'DeadlineExceeded', 'Killed', 'StartError', 'Lost']

export function readExit(attemptDir: string): StepExit | undefined {
  const file = path.join(attemptDir, EXIT_FILE)
  // Usually asked before the step ended (every follow looks once first): a miss without a thrown error is far cheaper.
  if (!fs.existsSync(file)) return undefined
  let v: unknown
  try {
    // Written in place (one create, no rename): a file that does not parse yet is not written yet.
    v = JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch {
    return undefined
  }
  return toExit(v)
}

/** An exit as the step host wrote (or sent) it, checked field by field; undefined when it is not one. */
export function toExit(value: unknown): StepExit | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const v = value as Record<string, unknown>
  const reason = REASONS.includes(v.reason as ExitReason) ? (v.reason as ExitReason) : 'Error'
  const out: StepExit = {
    exitCode: typeof v.exitCode === 'number' ? v.exitCode : null,
    reason,
    finishedAt: typeof v.finishedAt === 'string' ? v.finishedAt : new Date().toISOString(),
  }
  if (typeof v.message === 'string') out.message = v.message
  const outputs = v.outputs
  if (typeof outputs === 'object' && outputs !== null && !Array.isArray(outputs)) {
    const entries = Object.entries(outputs).filter((e): e is [string, string] => typeof e[1] === 'string')
    if (entries.length > 0) out.outputs = Object.fromEntries(entries)
  }
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

/** Whether the process still runs and is the one we started (not a zombie, not a reused pid). */
export function isAlive(pid: number, start: string | null): boolean {
  return isPidAlive(pid, start ?? undefined)
}

export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}
