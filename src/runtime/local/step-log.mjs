// @ts-check
// An attempt's log as the step host writes it (step.mjs): its handle first, the step's lines, its exit last, within
// the two bounds a hostile or broken step must not get past, since every workspace shares the host and its disk.
// - The stored output is capped (maxLogBytes): past the cap the step runs on (a chatty step is not killed for its
//   logs), the middle of its output is dropped and only its last lines are kept, in memory within a fixed budget;
//   as the step ends they are written after a line of ctl's own that says how much was dropped.
// - A write that fails (a full disk, a file size limit, an I/O error) fails this step alone: the log is cut back to
//   its last whole record, the owner is told (it stops the step) and nothing more is written but the exit record,
//   for which room is made when there is none. Nothing here throws: one step's file must never end the host.
// Plain JavaScript like the host (see step.mjs).

import fs from 'node:fs'
import { exitRecord } from './step-files.mjs'
import { sizeText } from './outputs.mjs'

/** Bytes of records (whole lines) of a step's last output kept in memory once its log reached its cap (and the last one always). */
export const TAIL_BYTES = 64 * 1024
/** Room made for the exit record beyond its own size when the disk is full: a block of the file system. */
const EXIT_ROOM = 4096
/** Read backwards this much at a time to find where a record starts. */
const BACK_CHUNK = 64 * 1024

export class StepLog {
  /**
   * @param {number} maxBytes bytes of the step's lines stored at most (the handle and ctl's own records aside)
   * @param {(problem: string) => void} onFailure told once, when a write of the step's output failed (e.g. `ENOSPC: no space left on device`)
   */
  constructor(maxBytes, onFailure) {
    /** The log's descriptor (opened by the claim, read and write), -1 when not open. */
    this.fd = -1
    /** Bytes in the log, which always end with a whole record: how far a follower has to read. */
    this.bytes = 0
    /** Where the handle record ends: never cut to make room. */
    this.headEnd = 0
    this.max = maxBytes
    /** Bytes of the step's lines let through to the log so far. */
    this.kept = 0
    /** @type {string | undefined} output that came before the handle (undefined once the handle is written) */
    this.early = ''
    /** @type {string | undefined} why the log could not be written, once it could not */
    this.failure = undefined
    this.onFailure = onFailure
    /** @type {Tail | undefined} the last lines, once the cap was reached */
    this.tail = undefined
  }

  /**
   * One record of the step's output (redacted and framed, `raw` bytes of output): itself while the log is under its
   * cap, else '' (it went to the tail, which keeps the last ones).
   * @param {string} rec @param {number} raw @returns {string}
   */
  keep(rec, raw) {
    if (this.tail === undefined) {
      const n = Buffer.byteLength(rec)
      if (this.kept + n <= this.max) {
        this.kept += n
        return rec
      }
      this.tail = new Tail()
    }
    this.tail.push(rec, raw)
    return ''
  }

  /** Appends records of the step's output. True when they are in the log now. @param {string} out */
  append(out) {
    if (!out || this.fd < 0 || this.failure !== undefined) return false
    // The step's first output can come with the news of its start, before the handle heads the log: kept till then.
    if (this.early !== undefined) {
      this.early += out
      return false
    }
    const e = this.write(out)
    if (e) this.fail(e)
    return !e
  }

  /**
   * The handle as the log's first record, with the output that came before it.
   * @param {unknown} handle @returns {boolean} whether output was written with it
   */
  writeHandle(handle) {
    const early = this.early ?? ''
    this.early = undefined
    if (this.fd < 0) return false
    const head = JSON.stringify({ h: handle }) + '\n'
    const e = this.write(head + early)
    if (e) {
      this.fail(e)
      return false
    }
    this.headEnd = Buffer.byteLength(head)
    return early !== ''
  }

  /** What the cap left out as the step ends: ctl's line that says how much, then the last lines kept. */
  writeTail() {
    const tail = this.tail
    if (!tail) return false
    this.tail = undefined
    const marker =
      tail.droppedLines === 0
        ? ''
        : JSON.stringify({
            t: new Date().toISOString(),
            s: 'stderr',
            x: `[ctl: ${tail.droppedLines} lines (${tail.droppedBytes} bytes) of output dropped after the log reached its limit of ${sizeText(this.max)}; the last lines follow]`,
          }) + '\n'
    return this.append(marker + tail.text())
  }

  /**
   * The exit as the log's last record. When it does not fit (a full disk, the file size limit), the last lines are
   * cut, whole, to make room for it: how a step ended matters more than its last lines, which its followers read
   * already. False when it could not be written all the same (an I/O error): then only the host's notice tells it.
   * @param {import('./step.mjs').StepExit} exit
   */
  writeExit(exit) {
    if (this.fd < 0) return false
    const rec = exitRecord(exit)
    if (this.write(rec) === undefined) return true
    try {
      const cut = recordStartBefore(this.fd, this.bytes - Buffer.byteLength(rec) - EXIT_ROOM, this.headEnd)
      fs.ftruncateSync(this.fd, cut)
      this.bytes = cut
    } catch {
      return false
    }
    return this.write(rec) === undefined
  }

  close() {
    const fd = this.fd
    this.fd = -1
    if (fd < 0) return
    try {
      fs.closeSync(fd)
    } catch {}
  }

  /**
   * Writes `text` whole, or cuts the log back to its last whole record: a short write (the disk or the file size
   * limit reached) is followed by one for the rest, which says why. Returns the error, undefined when written.
   * @param {string} text @returns {NodeJS.ErrnoException | undefined}
   */
  write(text) {
    let n = 0
    try {
      n = fs.writeSync(this.fd, text)
      // Bytes against bytes: a short write of non-ASCII text can equal its length in UTF-16 units.
      if (n !== text.length || n !== Buffer.byteLength(text)) {
        const buf = Buffer.from(text) // longer than the text's length when it is not ASCII: then usually written whole
        while (n < buf.length) {
          const more = fs.writeSync(this.fd, buf, n)
          if (more === 0) throw Object.assign(new Error('EIO: nothing written'), { code: 'EIO' })
          n += more
        }
      }
    } catch (e) {
      // No torn record for a reader, and the room the partial write took is free again.
      try {
        fs.ftruncateSync(this.fd, this.bytes)
      } catch {}
      return /** @type {NodeJS.ErrnoException} */ (e)
    }
    this.bytes += n
    return undefined
  }

  /** @param {NodeJS.ErrnoException} e */
  fail(e) {
    if (this.failure !== undefined) return
    // "ENOSPC: no space left on device, write": the system call is ours, not the user's business.
    this.failure = e.message.replace(/, \w+$/, '')
    this.onFailure(this.failure)
  }
}

/** The last lines of a step's output within TAIL_BYTES, whole, and what was dropped before them. */
class Tail {
  constructor() {
    /** @type {string[]} */
    this.recs = []
    /** @type {number[]} bytes of each record, then of output it holds */
    this.sizes = []
    this.first = 0
    this.bytes = 0
    this.droppedLines = 0
    this.droppedBytes = 0
  }

  /** @param {string} rec @param {number} raw */
  push(rec, raw) {
    const n = Buffer.byteLength(rec)
    this.recs.push(rec)
    this.sizes.push(n, raw)
    this.bytes += n
    // The last record stays, even one over the budget alone (a line is bounded by maxLineBytes): "the last lines
    // follow" always holds.
    while (this.bytes > TAIL_BYTES && this.first < this.recs.length - 1) {
      this.bytes -= /** @type {number} */ (this.sizes[2 * this.first])
      this.droppedBytes += /** @type {number} */ (this.sizes[2 * this.first + 1])
      this.droppedLines++
      this.recs[this.first++] = '' // let go of the text now: only the index moves, and records may be large
    }
    // Dropped records are let go of in batches: the arrays never hold much more than the budget's lines.
    if (this.first > 1024 && this.first * 2 > this.recs.length) {
      this.recs.splice(0, this.first)
      this.sizes.splice(0, 2 * this.first)
      this.first = 0
    }
  }

  text() {
    return this.recs.slice(this.first).join('')
  }
}

/**
 * Where the record that holds byte `pos - 1` starts (pos itself when a record ends there), not before `floor`.
 * @param {number} fd @param {number} pos @param {number} floor
 */
function recordStartBefore(fd, pos, floor) {
  const buf = Buffer.allocUnsafe(BACK_CHUNK)
  let end = pos
  while (end > floor) {
    const start = Math.max(floor, end - BACK_CHUNK)
    const n = fs.readSync(fd, buf, 0, end - start, start)
    const nl = buf.subarray(0, n).lastIndexOf(10)
    if (nl >= 0) return start + nl + 1
    end = start
  }
  return floor
}
