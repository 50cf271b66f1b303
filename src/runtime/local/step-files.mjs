// @ts-check
// What a step attempt leaves on disk (its log, in the logs folder) and what /proc says of its processes, for the step
// host (step.mjs): the exit record, output bytes cut into log records, a
// process's start time and children, the attempt's files in memory and its cgroup. Plain
// JavaScript like the host (see step.mjs).

import fs from 'node:fs'
import path from 'node:path'
import { parseOutputs } from './outputs.mjs'

/** @typedef {import('./step.mjs').StepExit} StepExit */

/** Field 22 of /proc/PID/stat (start time), or null when the process is gone. @param {number} pid */
export function processStart(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return null
  }
}

/** The children of a process (/proc/PID/task/PID/children). @param {number} pid @returns {number[]} */
export function childrenOf(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number)
  } catch {
    return []
  }
}

/**
 * How a log record holding the step's exit begins (`{"e":{...}}`): the last record of the log, appended with the
 * log's own fd as the step ends, so no file is created for it. The step's own lines are framed by the host as
 * `{"t":...}` (Step.line) and the handle as `{"h":...}`: no output of the step can begin a line with this.
 */
export const EXIT_RECORD_PREFIX = '{"e":'

/**
 * Makes `entry` (an attempt's log or folder) with `create`, and the folder it lies in (the logs' or the run's) when
 * that is missing.
 * Synchronous on purpose: the control plane's start() then reaches the host request without waiting for another
 * turn of the event loop, and the host's claim costs no thread-pool round trips. The run folder can vanish at any
 * moment (cleanup drops it once empty, e.g. between two layers of a DAG), which a recursive mkdir racing it reports
 * as ENOENT or even ENOTDIR: made again, and retried. `folderFirst`: make the folder before the first try (where it
 * is likely missing: a failed create costs a call and an error object).
 * @param {string} entry @param {() => void} create @param {boolean} [folderFirst]
 */
export function inRunFolder(entry, create, folderFirst = false) {
  for (let tries = 0; ; tries++) {
    if (folderFirst) {
      try {
        fs.mkdirSync(path.dirname(entry), { recursive: true, mode: 0o700 })
      } catch (e) {
        const code = /** @type {NodeJS.ErrnoException} */ (e).code
        if ((code !== 'ENOENT' && code !== 'ENOTDIR') || tries >= CREATE_TRIES) throw e
        continue
      }
    }
    try {
      create()
      return
    } catch (e) {
      if (/** @type {NodeJS.ErrnoException} */ (e).code !== 'ENOENT' || tries >= CREATE_TRIES) throw e
    }
    folderFirst = true
  }
}

/** Lost races with the removal of the run folder before giving up (each loss is one removal in between). */
const CREATE_TRIES = 20

/** The exit as a log record, with its newline. @param {StepExit} exit */
export function exitRecord(exit) {
  return JSON.stringify({ e: exit }) + '\n'
}

/**
 * Appends an exit record to a log the caller does not hold open (the host abandoning a step whose log it closed; the
 * control plane's Lost, Killed and StartError exits through files.ts):
 * never creates the log (a removed attempt has nobody left to read it), and starts a new line when the last one
 * was cut short (a writer killed mid-line), so the record is always a line of its own.
 * @param {string} file @param {StepExit} exit
 */
export function appendExitRecord(file, exit) {
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_APPEND)
  try {
    const size = fs.fstatSync(fd).size
    const last = Buffer.alloc(1)
    const lead = size > 0 && fs.readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 10 ? '\n' : ''
    fs.writeSync(fd, lead + exitRecord(exit))
  } finally {
    fs.closeSync(fd)
  }
}

/** The folder of every attempt's log, in the state folder (no run id can be named so: they begin with a letter or digit). */
export const LOGS_FOLDER = '.logs'

/**
 * The log of an attempt, `<state>/.logs/<run>+<step>.<attempt>.ndjson` (no run id or step name holds a `+`): one
 * place computes it, for the host and the control plane. Neither in the attempt's folder nor in its run's: most
 * steps need no folder (no config files, no folders to mount), and then their run makes none. Each folder and file
 * made and removed per run costs an inode; on ext4 without a journal, every new inode is searched for past those
 * freed in the last minutes, and a run folder per run cost ~5 % of the machine at 20,000 runs a minute.
 * @param {string} attemptDir `<state>/<run>/<step>.<attempt>`
 */
export function logFileOf(attemptDir) {
  const runDir = path.dirname(attemptDir)
  return path.join(path.dirname(runDir), LOGS_FOLDER, `${path.basename(runDir)}+${path.basename(attemptDir)}.ndjson`)
}

/** Where hosts of the last version put the log: beside the attempt folder, in the run folder. @param {string} attemptDir */
export function besideLogOf(attemptDir) {
  return `${attemptDir}.ndjson`
}

/**
 * The outputs file's text, read the way a hostile step cannot abuse: never through a link it put in its place
 * (O_NOFOLLOW), never blocking on a pipe (O_NONBLOCK, then only a regular file is read), and never more than
 * maxBytes + 1 bytes (one more tells the parser that it is too big). A missing file is no outputs.
 * @param {string} file @param {number} maxBytes @returns {{ text?: string, problem?: string }}
 */
export function readOutputsFile(file, maxBytes) {
  let fd
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK)
  } catch (e) {
    const code = /** @type {NodeJS.ErrnoException} */ (e).code
    if (code === 'ENOENT') return {}
    if (code === 'ELOOP') return { problem: '$CTL_OUTPUTS was replaced by a symbolic link; it was not followed' }
    return { problem: `cannot read $CTL_OUTPUTS: ${code ?? /** @type {Error} */ (e).message}` }
  }
  try {
    const st = fs.fstatSync(fd)
    if (!st.isFile()) return { problem: '$CTL_OUTPUTS was replaced by something other than a file' }
    // Sized by the file (most are empty), grown to the bound when it grew meanwhile; the parser tells a text over the bound.
    let buf = Buffer.allocUnsafe(Math.min(st.size, maxBytes) + 1)
    let n = 0
    for (;;) {
      const got = fs.readSync(fd, buf, n, buf.length - n, null)
      if (got === 0) break
      n += got
      if (n < buf.length) continue
      if (buf.length > maxBytes) break
      const bigger = Buffer.allocUnsafe(maxBytes + 1)
      buf.copy(bigger, 0, 0, n)
      buf = bigger
    }
    return { text: buf.subarray(0, n).toString('utf8') }
  } catch (e) {
    return { problem: `cannot read $CTL_OUTPUTS: ${/** @type {Error} */ (e).message}` }
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * The outputs a step left in its file, each value redacted, or why they cannot be read.
 * @param {{ path: string, maxBytes: number, maxKeys: number, maxKeyLength: number }} spec
 * @param {(text: string) => string} redact
 * @returns {{ outputs?: Record<string, string>, problem?: string }}
 */
export function takeOutputs(spec, redact) {
  const read = readOutputsFile(spec.path, spec.maxBytes)
  if (read.problem || read.text === undefined) return { problem: read.problem }
  const parsed = parseOutputs(read.text, spec)
  if (parsed.problems.length > 0) return { problem: parsed.problems.join('; ') }
  const keys = Object.keys(parsed.outputs)
  if (keys.length === 0) return {}
  /** @type {Record<string, string>} */
  const outputs = {}
  for (const k of keys) outputs[k] = redact(/** @type {string} */ (parsed.outputs[k]))
  return { outputs }
}

/** Splits a byte stream into log lines; a line longer than maxLineBytes is cut, the rest of it dropped. */
export class Splitter {
  /** @param {'stdout' | 'stderr'} stream @param {(stream: 'stdout' | 'stderr', time: string, buf: Buffer, truncated: boolean) => string} line */
  constructor(stream, line, maxLineBytes) {
    this.stream = stream
    this.line = line
    this.max = maxLineBytes
    /** @type {Buffer[]} */
    this.parts = []
    this.len = 0
    this.skipping = false
  }

  /** @param {Buffer} chunk @returns {string} the complete lines as NDJSON */
  push(chunk) {
    const time = new Date().toISOString()
    let out = ''
    let start = 0
    for (;;) {
      const nl = chunk.indexOf(10, start)
      const end = nl < 0 ? chunk.length : nl
      if (!this.skipping && end > start) {
        const room = this.max - this.len
        const piece = chunk.subarray(start, end)
        if (piece.length > room) {
          this.parts.push(piece.subarray(0, room))
          out += this.line(this.stream, time, Buffer.concat(this.parts), true)
          this.parts = []
          this.len = 0
          this.skipping = true
        } else {
          // A line's unfinished tail is copied: a view would keep the whole read buffer alive (the spawner's carries
          // every step's output of a turn), so a step printing a byte at a time could pin gigabytes outside the heap.
          this.parts.push(nl < 0 ? Buffer.from(piece) : piece)
          this.len += piece.length
        }
      }
      if (nl < 0) break
      if (this.skipping) this.skipping = false
      else out += this.line(this.stream, time, Buffer.concat(this.parts), false)
      this.parts = []
      this.len = 0
      start = nl + 1
    }
    return out
  }

  flush() {
    const out = !this.skipping && this.len > 0 ? this.line(this.stream, new Date().toISOString(), Buffer.concat(this.parts), false) : ''
    this.parts = []
    this.len = 0
    return out
  }
}


/**
 * The attempt's folder in memory and its files (a plain step's secret files, any step's outputs file), made as
 * the step's user when one is given: it reads and writes them; nobody else may.
 * @param {{ shm?: { dir: string, files: { path: string, content: string, mode: number }[] }, uid?: number, gid?: number }} spec
 */
export function writeMemoryFiles(spec) {
  const shm = spec.shm
  if (!shm) return
  const { uid, gid } = spec
  const own = (/** @type {string} */ p) => uid !== undefined && gid !== undefined && fs.chownSync(p, uid, gid)
  fs.mkdirSync(shm.dir, { mode: 0o700 })
  own(shm.dir)
  for (const f of shm.files) {
    // Most files (the outputs file) lie right in the folder just made: no mkdir call for them.
    const parent = path.dirname(f.path)
    const first = parent === shm.dir ? undefined : fs.mkdirSync(parent, { recursive: true, mode: 0o700 })
    if (first) for (let p = parent; p.length >= first.length; p = path.dirname(p)) own(p)
    fs.writeFileSync(f.path, f.content, { mode: f.mode & 0o777 })
    own(f.path)
  }
}

/**
 * Removes what writeMemoryFiles wrote. The files we wrote, then the folder: no tree walk for the usual folder (the
 * outputs file alone). Anything else in it (nested files, what a plain step added) makes the rmdir fail, and the
 * recursive remove takes it all.
 * @param {{ dir: string, files: { path: string }[] }} shm
 */
export function removeMemoryFiles(shm) {
  try {
    for (const f of shm.files) {
      try {
        fs.unlinkSync(f.path)
      } catch (e) {
        if (/** @type {NodeJS.ErrnoException} */ (e).code !== 'ENOENT') throw e
      }
    }
    fs.rmdirSync(shm.dir)
  } catch {
    fs.rmSync(shm.dir, { recursive: true, force: true })
  }
}

/** The step's own cgroup with its limit files. @param {{ dir: string, files: Record<string, string> }} cg */
export function makeCgroupDir(cg) {
  fs.mkdirSync(cg.dir)
  for (const [file, value] of Object.entries(cg.files)) fs.writeFileSync(path.join(cg.dir, file), value)
}

/** @param {{ dir: string }} cg */
export function removeCgroupDir(cg) {
  try {
    fs.rmdirSync(cg.dir)
  } catch (e) {
    // Still populated for a moment after the last process exited: try once more later.
    if (/** @type {NodeJS.ErrnoException} */ (e).code === 'EBUSY') setTimeout(() => fs.rmdir(cg.dir, () => {}), 1000).unref()
  }
}
