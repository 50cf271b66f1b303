// Tails an attempt's log from a byte offset until the step has exited
// and every line is delivered. Only complete lines (ending in \n) are read, so
// an offset always falls on a line boundary and a resumed follow never repeats
// or skips a line. Changes are learnt from the step host's pushed notices when
// connected to the host that runs the step, else from fs.watch; a poll backs both.

import fs from 'node:fs'
import path from 'node:path'
import type { LogBatch, LogLine, StepExit } from '../types.js'
import { EXIT_RECORD_PREFIX, HANDLE_RECORD_PREFIX, openLog, readExitFd } from './files.js'

const MAX_BATCH_LINES = 1000
const READ_CHUNK = 1 << 20
const POLL_MS = 250
/** With host notices the poll is only a safety net: a missed notice costs this much, never correctness. */
const NOTICE_POLL_MS = 1000
/** Shared by every follow: each read is copied out before the next await, and 1 MiB per drain was a real cost. */
const readBuf = Buffer.allocUnsafe(READ_CHUNK)

export interface FollowOptions {
  /** The attempt's log (see logFileOf). */
  logFile: string
  fromOffset: number
  onLogs: (batch: LogBatch) => Promise<void>
  signal?: AbortSignal
  /** Called when nothing is written and no exit exists: is the supervisor still there? */
  isRunning: () => boolean
  /** Called once the supervisor is gone without an exit; returns the exit to report. */
  onLost: () => StepExit
  /**
   * Subscribes to the step host's notices for this attempt (output appended, exit written).
   * Undefined, or a subscription that is not `live`, means no notices: fs.watch is used.
   */
  subscribe?: (onChange: () => void) => ChangeSubscription | undefined
}

export interface ChangeSubscription {
  /** False once the connection to the host is gone (the host may have died: look at the files). */
  readonly live: boolean
  /** The exit the host announced, if it did: every line is in the log then, the exit record may still be on its way. */
  readonly exit: StepExit | undefined
  /** With the exit, when the host knew it: the log's size before the exit record (how far its lines go). */
  readonly end: number | undefined
  /** The log's size while it holds the handle and nothing else, when the host said so to this connection. */
  readonly quiet: number | undefined
  close(): void
}

function parseLine(raw: string): LogLine {
  try {
    const v = JSON.parse(raw) as { t?: unknown; s?: unknown; x?: unknown }
    return {
      time: typeof v.t === 'string' ? v.t : new Date(0).toISOString(),
      stream: v.s === 'stderr' ? 'stderr' : 'stdout',
      text: typeof v.x === 'string' ? v.x : String(v.x ?? ''),
    }
  } catch {
    // A torn line can only come from a crash mid-write; deliver it rather than lose it.
    return { time: new Date().toISOString(), stream: 'stderr', text: raw }
  }
}

/** Reads and delivers every complete line from `offset`; returns the new offset and the file size it saw. */
async function drain(fd: number, offset: number, opts: FollowOptions): Promise<{ offset: number; end: number }> {
  if (fd < 0) return { offset, end: 0 } // not created yet
  const buf = readBuf
  let carry = Buffer.alloc(0)
  let pos = offset
  for (;;) {
    const n = fs.readSync(fd, buf, 0, buf.length, pos + carry.length)
    if (n === 0) return { offset: pos, end: pos + carry.length }
    const data = carry.length ? Buffer.concat([carry, buf.subarray(0, n)]) : Buffer.from(buf.subarray(0, n))
    let start = 0
    // A batch's offset is the end of its last line: the exit records after the step's last line move no offset.
    let lastEnd = 0
    let lines: LogLine[] = []
    for (;;) {
      const nl = data.indexOf(10, start)
      if (nl < 0) break
      const raw = data.toString('utf8', start, nl)
      // The host's handle record heads the log and exit records end it; neither is output of the step.
      if (!raw.startsWith(EXIT_RECORD_PREFIX) && !(pos + start === 0 && raw.startsWith(HANDLE_RECORD_PREFIX))) {
        lines.push(parseLine(raw))
        lastEnd = nl + 1
      }
      start = nl + 1
      if (lines.length >= MAX_BATCH_LINES) {
        await opts.onLogs({ lines, offset: pos + lastEnd })
        lines = []
        opts.signal?.throwIfAborted()
      }
    }
    if (lines.length) await opts.onLogs({ lines, offset: pos + lastEnd })
    opts.signal?.throwIfAborted()
    pos += start
    carry = data.subarray(start)
  }
}

/** Resolves once `notified` says a notice came, after a (long) poll interval, or on abort. */
function waitForNotice(wake: { fn?: () => void }, notified: () => boolean, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      wake.fn = undefined
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, NOTICE_POLL_MS)
    wake.fn = done
    signal?.addEventListener('abort', done, { once: true })
    if (notified()) done()
  })
}

/**
 * Resolves after the next change of the log, a poll interval, or an abort.
 * `changed` is asked once the watch is in place: a change that landed between the
 * caller's last look and the watch would otherwise wait for the poll.
 */
function waitForChange(file: string, changed: () => boolean, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    let watcher: fs.FSWatcher | undefined
    const done = () => {
      clearTimeout(timer)
      watcher?.close()
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, POLL_MS)
    // fs.watch is a speed-up only; the poll is enough. The log itself is watched: its folder holds every attempt's
    // log, and a watch of the folder would wake on every other step's output. A log not made yet: its folder, for its
    // name only.
    try {
      watcher = fs.watch(file, done)
    } catch {
      const name = path.basename(file)
      try {
        watcher = fs.watch(path.dirname(file), (_event, changedName) => {
          if (changedName === null || changedName === name) done()
        })
      } catch {}
    }
    watcher?.on('error', () => {})
    signal?.addEventListener('abort', done, { once: true })
    if (changed()) done()
  })
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size
  } catch {
    return 0
  }
}

export async function followLog(opts: FollowOptions): Promise<StepExit> {
  const file = opts.logFile
  let offset = opts.fromOffset
  // A notice that lands between a look at the files and the wait must not be lost: it sets the flag.
  let noticed = false
  let lookDue = false
  const wake: { fn?: () => void } = {}
  const sub = opts.subscribe?.(() => {
    noticed = true
    wake.fn?.()
  })
  try {
    for (;;) {
      opts.signal?.throwIfAborted()
      const notices = sub?.live === true
      noticed = false
      if (notices) {
        // What the host told this connection can spare a look at the log: a log that holds the handle alone has no
        // line to deliver, and a log read up to where the announced exit says its lines end has none left.
        const quiet = sub.quiet
        if (quiet !== undefined && offset <= quiet) offset = quiet
        const exit = sub.exit
        const end = sub.end
        if (exit && end !== undefined && offset >= end) return exit
        if (!exit && quiet !== undefined && !lookDue) {
          await waitForNotice(wake, () => noticed || sub.live !== true, opts.signal)
          // Woken by the poll alone: the log is looked at, as without notices (the poll is the safety net).
          lookDue = !noticed
          continue
        }
      }
      lookDue = false
      const fd = openLog(file)
      let end: number
      try {
        // Check the exit first: once it exists the log is complete, so one more drain reads everything.
        const exit = sub?.exit ?? readExitFd(fd, file)
        // A live connection to the step's own host means the host runs: no need to look at /proc.
        const running = exit ? false : notices || opts.isRunning()
        const read = await drain(fd, offset, opts)
        offset = read.offset
        end = read.end
        if (exit) return exit
        if (!running) {
          const late = readExitFd(fd, file) // finished between the two checks
          if (late) {
            await drain(fd, offset, opts)
            return late
          }
          return opts.onLost()
        }
      } finally {
        if (fd >= 0) fs.closeSync(fd)
      }
      if (notices) await waitForNotice(wake, () => noticed || sub?.live !== true, opts.signal)
      // The exit record grows the log like any line.
      else await waitForChange(file, () => sizeOf(file) > end, opts.signal)
    }
  } finally {
    sub?.close()
  }
}
