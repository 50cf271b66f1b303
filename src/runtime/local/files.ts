// An attempt's log and the liveness checks the control plane makes on it. The step host
// writes it (supervisor.mjs, step.mjs); everything here only reads, except the Lost /
// Killed / StartError exits recorded on behalf of a host that is gone or never ran the step,
// the exclusive creations that claim an attempt (createExclusive, mkdirExclusive, inRunFolder),
// and the logs folder they go in (makeLogsFolder).

import fs from 'node:fs'
import path from 'node:path'
import type { ExitReason, RuntimeHandle, StepExit } from '../types.js'
import { CtlError } from '../../errors.js'
import { isPidAlive } from '../../liveness.js'
import { EXIT_RECORD_PREFIX, LOGS_FOLDER, appendExitRecord, besideLogOf, inRunFolder, logFileOf } from './step-files.mjs'

export { inRunFolder }

export { EXIT_RECORD_PREFIX, LOGS_FOLDER, besideLogOf, exitRecord, logFileOf } from './step-files.mjs'
export const LOG_FILE = 'log.ndjson'
/** Where step hosts from before the exit became a log record wrote it; still read (see readExit). */
export const EXIT_FILE = 'exit.json'
export const KILL_FILE = 'kill.json'
/**
 * The handle start() returned (no secrets), so it can be recovered if the engine lost it. The
 * step host writes it as the first record of the log (`{"h":...}`) before it confirms a start;
 * this file only holds it for attempts of older hosts.
 */
export const HANDLE_FILE = 'handle.json'
/** How a log record holding the handle begins; log readers skip such records. */
export const HANDLE_RECORD_PREFIX = '{"h":'

/** What the local runtime keeps in RuntimeHandle.data. */
export interface LocalHandleData {
  /** `<state>/<run>/<step>.<attempt>`: the attempt's name on the state disk, and its folder when it has one. */
  attemptDir: string
  /**
   * Where the attempt's log lies, as the host that wrote it said: 'logs' in the state folder's logs folder
   * (logFileOf); 'beside' the attempt folder, in the run folder (besideLogOf: hosts of the last version, handle field
   * `logBeside`); 'inside' the attempt folder (older runtimes).
   */
  logAt: LogPlace
  /** The attempt folder exists (the step had config files or folders to mount); always for older handles. */
  folder: boolean
  mode: 'bubblewrap' | 'none'
  /** Run by the shared step host (false: a per-step supervisor of an older version; kill differs). */
  host: boolean
  /** The step host (or old per-step supervisor) watching the step; null when the step failed before one took it. */
  supervisorPid: number | null
  /** Start time of that process (clock ticks since boot, /proc/PID/stat field 22), to tell a reused pid apart. */
  supervisorStart: string | null
  /** The step's process group (plain) or the sandbox's outer process (bwrap or ctl-sandbox). */
  stepPid: number | null
  shmDir: string | null
  image: string | null
  notes: string[]
}

export type LogPlace = 'logs' | 'beside' | 'inside'

export function handleData(handle: RuntimeHandle): LocalHandleData {
  const d = handle.data as Partial<LocalHandleData> & { logBeside?: unknown }
  if (handle.runtime !== 'local' || typeof d.attemptDir !== 'string') throw new Error(`not a local runtime handle: ${handle.id}`)
  const logAt: LogPlace = d.logAt === 'logs' ? 'logs' : d.logBeside === true ? 'beside' : 'inside'
  return {
    attemptDir: d.attemptDir,
    logAt,
    folder: logAt !== 'inside' ? d.folder === true : true,
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

/** The log of an attempt where its handle says it lies (see LocalHandleData.logAt). */
export function attemptLog(d: Pick<LocalHandleData, 'attemptDir' | 'logAt'>): string {
  return d.logAt === 'logs' ? logFileOf(d.attemptDir) : d.logAt === 'beside' ? besideLogOf(d.attemptDir) : path.join(d.attemptDir, LOG_FILE)
}

/**
 * The state folder's logs folder (LOGS_FOLDER), made once by the runtime (the claims of logs make it again if it
 * goes): the owner's alone, as the logs in it, also when an older folder was there.
 */
export function makeLogsFolder(stateDir: string): void {
  const logsDir = path.join(stateDir, LOGS_FOLDER)
  fs.mkdirSync(logsDir, { recursive: true, mode: 0o700 })
  const st = fs.lstatSync(logsDir)
  if (!st.isDirectory()) {
    throw new CtlError('E_INTERNAL', `${logsDir} is ${st.isSymbolicLink() ? 'a link (not followed)' : 'not a folder'}: the local runtime keeps the steps' logs there, in a folder of its own`)
  }
  if ((st.mode & 0o077) !== 0) {
    try {
      fs.chmodSync(logsDir, 0o700)
    } catch (e) {
      throw new CtlError('E_INTERNAL', `cannot close ${logsDir} to others (the steps' logs are the owner's alone): ${(e as Error).message}`)
    }
  }
}

/** mkdir that fails with EEXIST: the claim of an attempt folder; the run folder is made only when missing (see inRunFolder). */
export function mkdirExclusive(dir: string): void {
  inRunFolder(dir, () => fs.mkdirSync(dir, { mode: 0o700 }))
}

/** Creates a file that must not exist yet (EEXIST otherwise: the exclusive claim of an attempt), see inRunFolder. */
export function createExclusive(file: string, content: string): void {
  inRunFolder(file, () => fs.writeFileSync(file, content, { flag: 'wx', mode: 0o600 }))
}

export function writeAtomic(file: string, content: string): void {
  const tmp = `${file}.tmp-${process.pid}`
  fs.writeFileSync(tmp, content)
  fs.renameSync(tmp, file)
}

const isHandleShape = (v: unknown): v is RuntimeHandle =>
  typeof v === 'object' && v !== null && typeof (v as RuntimeHandle).id === 'string' && typeof (v as RuntimeHandle).data === 'object'

/**
 * find()'s claim of an attempt never handed to a host: a handle record without a handle, which no host writes. Log
 * readers skip a handle record at the head (and find no handle in this one), so a runtime that does not know the mark
 * sees an empty claim.
 */
export const NOT_STARTED = '{"h":null}\n'

/**
 * The record at the head of an attempt's log: the handle the host wrote, or `notStarted` when find() claimed the
 * attempt (NOT_STARTED). Neither: nothing written yet.
 */
export function logHead(logFile: string): { handle?: RuntimeHandle; notStarted?: true } {
  let fd: number
  try {
    fd = fs.openSync(logFile, 'r')
  } catch {
    return {}
  }
  try {
    const buf = Buffer.alloc(64 * 1024)
    const n = fs.readSync(fd, buf, 0, buf.length, 0)
    const nl = buf.subarray(0, n).indexOf(10)
    if (nl < 0) return {} // not written yet
    const first = buf.toString('utf8', 0, nl)
    if (!first.startsWith(HANDLE_RECORD_PREFIX)) return {}
    const v = (JSON.parse(first) as { h?: unknown }).h
    if (v === null) return { notStarted: true }
    return isHandleShape(v) ? { handle: v } : {}
  } catch {
    return {}
  } finally {
    fs.closeSync(fd)
  }
}

/** The handle of an attempt, if one was written: in its log (current hosts), else in handle.json of older hosts. */
export function readHandle(logFile: string): RuntimeHandle | undefined {
  const fromLog = logHead(logFile).handle
  if (fromLog || path.basename(logFile) !== LOG_FILE) return fromLog
  try {
    const v = JSON.parse(fs.readFileSync(path.join(path.dirname(logFile), HANDLE_FILE), 'utf8')) as unknown
    return isHandleShape(v) ? v : undefined
  } catch {
    return undefined
  }
}

const REASONS: readonly ExitReason[] = ['Completed', 'Error', 'DeadlineExceeded', 'Killed', 'StartError', 'Lost']

/**
 * The exit recorded in an attempt's log: the first record of the exit records that end it (the host appends its own
 * after the step's last line; the control plane appends Lost / Killed only for a step no host runs any more, so a
 * later append finds the first one there and leaves it: the first writer wins). Read backwards from the end, never
 * the whole log. Attempts of older hosts have it in exit.json beside the log instead.
 */
export function readExit(logFile: string): StepExit | undefined {
  const fd = openLog(logFile)
  try {
    return readExitFd(fd, logFile)
  } finally {
    if (fd >= 0) fs.closeSync(fd)
  }
}

/** A descriptor to read the log, -1 when it cannot be opened (missing: not written yet, or already removed). */
export function openLog(file: string): number {
  try {
    return fs.openSync(file, 'r')
  } catch {
    return -1
  }
}

/** readExit through a descriptor the caller opened on `logFile` (-1: the log does not exist). */
export function readExitFd(fd: number, logFile: string): StepExit | undefined {
  if (fd < 0) return legacyExit(logFile)
  try {
    return exitAtEnd(fd) ?? legacyExit(logFile)
  } catch {
    return undefined
  }
}

/** Read backwards this much at a time: most logs end in a short line, most exit records are far shorter. */
const TAIL_CHUNK = 16 * 1024
const CLOSE_BRACE = 0x7d
const EXIT_PREFIX = Buffer.from(EXIT_RECORD_PREFIX)

/**
 * The first of the complete exit records that end the log. Bytes after the last newline are a line cut short (its
 * writer died mid-write, or is writing it now): skipped, and what is before it still counts. The scan stops at the
 * first line that is not an exit record; a record's line ends in `}}` while a step's line (`{"t":…,"x":"…"}`) ends
 * in `"}`, so a log whose last line is output is told from its last bytes, even when that line is long.
 */
function exitAtEnd(fd: number): StepExit | undefined {
  let pos = fs.fstatSync(fd).size
  let found: StepExit | undefined
  let rest = Buffer.alloc(0) // bytes from pos up to the end of the line being looked at
  let seenEnd = false // the log's last newline was found: every line before it is complete
  while (pos > 0) {
    // Doubling as a long line is read: a large exit record (outputs) is copied a few times, not once per chunk.
    const n = Math.min(Math.max(TAIL_CHUNK, rest.length), pos)
    const chunk = Buffer.allocUnsafe(n)
    pos -= n
    if (fs.readSync(fd, chunk, 0, n, pos) !== n) return found // truncated under us
    const data = rest.length > 0 ? Buffer.concat([chunk, rest]) : chunk
    let end = data.length
    for (;;) {
      // The line ending at `end` cannot be an exit record unless it ends in `}}`.
      if (seenEnd && end >= 2 && (data[end - 1] !== CLOSE_BRACE || data[end - 2] !== CLOSE_BRACE)) return found
      const nl = end > 0 ? data.lastIndexOf(10, end - 1) : -1
      if (nl < 0) break
      if (seenEnd) {
        const exit = exitOfLine(data.subarray(nl + 1, end))
        if (!exit) return found
        found = exit
      }
      seenEnd = true
      end = nl
    }
    rest = data.subarray(0, end)
  }
  return seenEnd ? (exitOfLine(rest) ?? found) : found
}

function exitOfLine(line: Buffer): StepExit | undefined {
  if (line.length < EXIT_PREFIX.length || line.compare(EXIT_PREFIX, 0, EXIT_PREFIX.length, 0, EXIT_PREFIX.length) !== 0) return undefined
  try {
    return toExit((JSON.parse(line.toString('utf8')) as { e?: unknown }).e)
  } catch {
    return undefined // a record cut short by a writer that died, completed into a line by a later append
  }
}

/** exit.json of an attempt of an older host, beside its log in the attempt folder; undefined when there is none. */
function legacyExit(logFile: string): StepExit | undefined {
  // Only a log inside an attempt folder can have one: no call at all for the logs of current hosts.
  if (path.basename(logFile) !== LOG_FILE) return undefined
  const file = path.join(path.dirname(logFile), EXIT_FILE)
  // A miss without a thrown error is far cheaper: most attempts never had one.
  if (!fs.existsSync(file)) return undefined
  try {
    return toExit(JSON.parse(fs.readFileSync(file, 'utf8')))
  } catch {
    return undefined // written in place by its host: not written yet
  }
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

/**
 * Appends an exit record to the log unless one ends it already; returns the exit that holds after the append (read
 * again: a host or another replica may have appended one meanwhile, and the first one holds).
 */
export function writeExitOnce(logFile: string, exit: StepExit): StepExit {
  const held = readExit(logFile)
  if (held) return held
  try {
    appendExitRecord(logFile, exit)
  } catch {
    // the log is gone (cleaned up): nobody is left to read it
  }
  return readExit(logFile) ?? exit
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
