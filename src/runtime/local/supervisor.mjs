// @ts-check
// The supervisor of one step attempt: a small detached process that owns the
// step, so the step outlives the control plane. It reads its launch spec
// (secrets included) from stdin — never from a file — runs the step, appends
// every output line to log.ndjson, enforces the deadline, obeys SIGTERM as a
// kill request, and finally writes exit.json (tmp + rename). The control plane
// only ever reads these files, so it can die and come back at any time.
//
// Plain JavaScript with JSDoc types on purpose: it runs as `node supervisor.mjs`
// both from src/ (tests) and from dist/ (build copies it), with no compile step.

import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/**
 * @typedef {{ path: string, content: string, mode: number }} HostFile
 * @typedef {{
 *   attemptDir: string, mode: 'bubblewrap' | 'none', command: string, args: string[], env: Record<string, string>,
 *   cwd?: string, fdData: string[], shm?: { dir: string, files: HostFile[] }, timeoutMs?: number, graceMs: number,
 *   redact: string[], maxLineBytes: number
 * }} SupervisorSpec
 * @typedef {'Completed' | 'Error' | 'DeadlineExceeded' | 'Killed' | 'StartError' | 'Lost'} ExitReason
 */

const REPORT_FD = 3 // pipe to the control plane, used once to confirm the start
let reported = false
/** @param {Record<string, unknown>} msg */
function report(msg) {
  if (reported) return
  reported = true
  try {
    fs.writeSync(REPORT_FD, JSON.stringify(msg) + '\n')
  } catch {
    // The control plane may be gone already: the step goes on regardless.
  }
  try {
    fs.closeSync(REPORT_FD)
  } catch {}
}

/** @param {string} file @param {string} content */
function writeAtomic(file, content) {
  const tmp = `${file}.tmp-${process.pid}`
  fs.writeFileSync(tmp, content)
  fs.renameSync(tmp, file)
}

async function readStdin() {
  /** @type {Buffer[]} */
  const chunks = []
  for await (const c of process.stdin) chunks.push(/** @type {Buffer} */ (c))
  return Buffer.concat(chunks).toString('utf8')
}

// Detached, but a terminal hang-up or Ctrl-C in the control plane's terminal must not reach us.
process.on('SIGHUP', () => {})
process.on('SIGINT', () => {})
process.on('SIGTERM', () => stop('Killed', killReason()))

/** @type {SupervisorSpec} */
const spec = JSON.parse(await readStdin())
process.stdin.destroy()
const dir = spec.attemptDir
writeAtomic(path.join(dir, 'supervisor.pid'), String(process.pid))
const logFd = fs.openSync(path.join(dir, 'log.ndjson'), 'a')

/** @type {import('node:child_process').ChildProcess | undefined} */
let child
let spawned = false
/** @type {number | undefined} pid of the command's session inside bwrap (from --info-fd) */
let innerPid
/** @type {{ reason: ExitReason, message: string } | undefined} */
let stopping
/** @type {{ code: number | null, signal: NodeJS.Signals | null } | undefined} */
let exited
/** @type {string | undefined} */
let startFailure
let finished = false
let lineCount = 0
/** @type {string[]} bwrap's own setup errors, which mean the step never started */
const bwrapErrors = []
/** @type {NodeJS.Timeout[]} */
const timers = []

function killReason() {
  try {
    const r = JSON.parse(fs.readFileSync(path.join(dir, 'kill.json'), 'utf8')).reason
    if (typeof r === 'string' && r) return r
  } catch {}
  return 'killed on request'
}

/** @param {string} text */
function redact(text) {
  for (const s of spec.redact) if (text.includes(s)) text = text.split(s).join('***')
  return text
}

/** @param {'stdout' | 'stderr'} stream @param {string} time @param {Buffer} buf @param {boolean} truncated */
function line(stream, time, buf, truncated) {
  let text = buf.toString('utf8')
  if (text.endsWith('\r')) text = text.slice(0, -1)
  if (truncated) text += ` [line truncated by ctl at ${spec.maxLineBytes} bytes]`
  lineCount++
  if (spec.mode === 'bubblewrap' && stream === 'stderr' && text.startsWith('bwrap: ')) bwrapErrors.push(text)
  return JSON.stringify({ t: time, s: stream, x: redact(text) }) + '\n'
}

/** Splits a byte stream into lines; a line longer than maxLineBytes is cut, the rest of it dropped. @param {'stdout' | 'stderr'} stream */
function splitter(stream) {
  /** @type {Buffer[]} */
  let parts = []
  let len = 0
  let skipping = false
  return {
    /** @param {Buffer} chunk */
    push(chunk) {
      const time = new Date().toISOString()
      let out = ''
      let start = 0
      for (;;) {
        const nl = chunk.indexOf(10, start)
        const end = nl < 0 ? chunk.length : nl
        if (!skipping && end > start) {
          const room = spec.maxLineBytes - len
          const piece = chunk.subarray(start, end)
          if (piece.length > room) {
            parts.push(piece.subarray(0, room))
            out += line(stream, time, Buffer.concat(parts), true)
            parts = []
            len = 0
            skipping = true
          } else {
            parts.push(piece)
            len += piece.length
          }
        }
        if (nl < 0) break
        if (skipping) skipping = false
        else out += line(stream, time, Buffer.concat(parts), false)
        parts = []
        len = 0
        start = nl + 1
      }
      if (out) fs.writeSync(logFd, out)
    },
    flush() {
      if (!skipping && len > 0) fs.writeSync(logFd, line(stream, new Date().toISOString(), Buffer.concat(parts), false))
      parts = []
      len = 0
    },
  }
}

/** @param {NodeJS.Signals} sig */
function signalStep(sig) {
  if (!child?.pid) return
  /** @type {number[]} */
  const groups = []
  // Inside bwrap the command runs in its own session (--new-session); killing the outer bwrap
  // tears the whole sandbox down, which is what SIGKILL (or a missing inner pid) wants.
  if (spec.mode === 'bubblewrap') {
    if (innerPid) groups.push(innerPid)
    if (sig === 'SIGKILL' || !innerPid) groups.push(child.pid)
  } else groups.push(child.pid)
  for (const g of groups) {
    try {
      process.kill(-g, sig)
    } catch {}
  }
}

/** @param {ExitReason} reason @param {string} message */
function stop(reason, message) {
  if (stopping || exited || finished) return
  stopping = { reason, message }
  if (!spawned) return // applied right after the spawn
  signalStep('SIGTERM')
  timers.push(setTimeout(() => signalStep('SIGKILL'), spec.graceMs))
}

function writeShm() {
  if (!spec.shm) return
  fs.mkdirSync(spec.shm.dir, { mode: 0o700 })
  for (const f of spec.shm.files) {
    fs.mkdirSync(path.dirname(f.path), { recursive: true, mode: 0o700 })
    fs.writeFileSync(f.path, f.content, { mode: f.mode & 0o777 })
  }
}

function removeShm() {
  if (spec.shm) fs.rmSync(spec.shm.dir, { recursive: true, force: true })
}

function finish() {
  if (finished) return
  finished = true
  for (const t of timers) clearTimeout(t)
  out.flush()
  err.flush()
  fs.closeSync(logFd)
  const code = exited?.code ?? null
  const signal = exited?.signal ?? null
  const exitCode = code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : null)
  /** @type {{ exitCode: number | null, reason: ExitReason, message?: string, finishedAt: string }} */
  let result
  if (startFailure) result = { exitCode: null, reason: 'StartError', message: startFailure, finishedAt: '' }
  else if (stopping) result = { exitCode, reason: stopping.reason, message: stopping.message, finishedAt: '' }
  else if (spec.mode === 'bubblewrap' && code === 1 && bwrapErrors.length > 0 && bwrapErrors.length === lineCount)
    result = { exitCode: null, reason: 'StartError', message: bwrapErrors.join('; '), finishedAt: '' }
  else if (exitCode === 0) result = { exitCode: 0, reason: 'Completed', finishedAt: '' }
  else result = { exitCode, reason: 'Error', message: signal ? `terminated by signal ${signal}` : `exit code ${code}`, finishedAt: '' }
  result.finishedAt = new Date().toISOString()
  removeShm() // before exit.json: once the step is reported done, its secret files are gone
  writeAtomic(path.join(dir, 'exit.json'), JSON.stringify(result) + '\n')
  if (result.reason === 'StartError') report({ ok: false, message: result.message })
  else report({ ok: true, pid: child?.pid })
  process.exit(0)
}

process.on('uncaughtException', (e) => {
  console.error('supervisor failure:', e)
  signalStep('SIGKILL')
  try {
    removeShm()
    writeAtomic(path.join(dir, 'exit.json'), JSON.stringify({ exitCode: null, reason: 'Lost', message: `the step's supervisor failed: ${e.message}`, finishedAt: new Date().toISOString() }) + '\n')
  } finally {
    process.exit(1)
  }
})

const out = splitter('stdout')
const err = splitter('stderr')

try {
  writeShm()
} catch (e) {
  startFailure = `cannot write secret files: ${/** @type {Error} */ (e).message}`
  finish()
}

/** @type {import('node:child_process').StdioOptions} */
const stdio = ['ignore', 'pipe', 'pipe']
if (spec.mode === 'bubblewrap') stdio.push('pipe', ...spec.fdData.map(() => /** @type {const} */ ('pipe')))
child = spawn(spec.command, spec.args, { env: spec.env, cwd: spec.cwd, detached: true, stdio })
const proc = child

proc.on('error', (e) => {
  if (spawned) return
  const code = /** @type {NodeJS.ErrnoException} */ (e).code
  startFailure =
    code === 'ENOENT'
      ? spec.command.includes('/')
        ? `exec: "${spec.command}": no such file or directory`
        : `exec: "${spec.command}": executable file not found in $PATH`
      : `cannot start "${spec.command}": ${e.message}`
  finish()
})

proc.on('spawn', () => {
  spawned = true
  if (spec.mode === 'bubblewrap') {
    spec.fdData.forEach((data, i) => {
      const s = /** @type {import('node:stream').Writable} */ (proc.stdio[4 + i])
      s.on('error', () => {}) // bwrap may exit before reading (setup error): the exit tells
      s.end(data)
    })
    const info = /** @type {import('node:stream').Readable} */ (proc.stdio[3])
    let text = ''
    info.setEncoding('utf8')
    info.on('data', (d) => {
      text += d
      try {
        innerPid = JSON.parse(text)['child-pid']
      } catch {
        return // incomplete JSON so far
      }
      info.destroy()
      report({ ok: true, pid: proc.pid, innerPid })
      if (stopping) signalStep('SIGTERM')
    })
    info.on('error', () => {})
  } else {
    report({ ok: true, pid: proc.pid })
  }
  if (spec.timeoutMs) {
    const secs = Math.round(spec.timeoutMs / 100) / 10
    timers.push(setTimeout(() => stop('DeadlineExceeded', `the step ran longer than its deadline of ${secs}s`), spec.timeoutMs))
  }
  if (stopping) {
    signalStep('SIGTERM')
    timers.push(setTimeout(() => signalStep('SIGKILL'), spec.graceMs))
  }
})

proc.stdout?.on('data', (c) => out.push(c))
proc.stderr?.on('data', (c) => err.push(c))

proc.on('exit', (code, signal) => {
  exited = { code, signal }
  // Like a container: when the main process ends, whatever it left behind in its group ends too.
  if (spec.mode === 'none' && proc.pid) {
    try {
      process.kill(-proc.pid, 'SIGKILL')
    } catch {}
  }
  // A process that escaped the group may hold our pipes open; do not wait for it forever.
  timers.push(
    setTimeout(() => {
      proc.stdout?.destroy()
      proc.stderr?.destroy()
      finish()
    }, 2000),
  )
})

proc.on('close', () => finish())
