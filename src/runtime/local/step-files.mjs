// @ts-check
// What a step attempt leaves in its folder and what /proc says of its processes, for the step
// host (step.mjs): exit.json written once, output bytes cut into log.ndjson records, a
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
 * Writes exit.json in place and exclusively: the first writer wins (the control plane may
 * have written Lost or Killed for a step it believed abandoned). Readers take a file that
 * does not parse yet as not written; one create instead of a temporary file and a rename.
 * @param {string} dir @param {StepExit} exit
 */
export function writeExit(dir, exit) {
  try {
    fs.writeFileSync(path.join(dir, 'exit.json'), JSON.stringify(exit) + '\n', { flag: 'wx' })
  } catch (e) {
    if (/** @type {NodeJS.ErrnoException} */ (e).code !== 'EEXIST') throw e
  }
}

/**
 * writeExit off the event loop: on a busy disk a file create costs a good part of a
 * millisecond, and the host has other steps to spawn meanwhile.
 * @param {string} dir @param {StepExit} exit
 */
export async function writeExitAsync(dir, exit) {
  try {
    await fs.promises.writeFile(path.join(dir, 'exit.json'), JSON.stringify(exit) + '\n', { flag: 'wx' })
  } catch (e) {
    if (/** @type {NodeJS.ErrnoException} */ (e).code !== 'EEXIST') throw e
  }
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
          this.parts.push(piece)
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
