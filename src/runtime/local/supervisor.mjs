// @ts-check
// The step host: ONE long-lived detached process per state folder that starts and
// watches many step attempts (step.mjs), so steps outlive the control plane. The
// control plane talks to it over a unix socket in the state folder (NDJSON, one
// request per line; launch specs with secret values travel only over it, never
// through a file). A start is claimed first (the attempt's log is created
// exclusively), so an attempt is started at most once even across hosts and
// restarts. Every result is written to the attempt's log: the handle as its first
// record ({"h":...}), the step's lines, the exit as its last record ({"e":...}); so the
// control plane can die and come back at any time, and a step creates one file. If the
// host itself dies, its sandboxes die with it (--die-with-parent, bwrap's or ctl-sandbox's) and the
// control plane reports its running steps Lost. Every connected client is sent a
// notice ({"ev":"change","dir":...}) when a step's log grew, when the step ended (with
// its exit, before its record is on disk) and when the exit record was written, so the
// control plane follows steps without watching their files.
//
// Peers are authenticated: <stateDir>/host.token (32 random bytes, 0600, made by the control
// plane before it starts a host; the state folder is outside every sandbox) is read once at
// start. The hello carries a fresh nonce; a client's first line must be
// {"auth": HMAC-SHA256(token, "client:" + nonce), "nonce": <its own nonce>}, and the host
// answers {"authed": HMAC-SHA256(token, "host:" + that nonce)} so the client knows it talks to
// the real host (a step must not be able to stand in for it and receive launch specs). The
// token never crosses the socket. Anything else as a first line, or no line in time, closes
// the connection: no request is read, no notice is sent. The socket's side of all this (handshake,
// framing, replies and notices) is host-socket.mjs; this file keeps the steps.
//
// Usage: node supervisor.mjs <stateDir> <socketPath> <idleMs> [<spawner>]: steps start through the
// spawner binary (ctl-spawner, see spawn-client.mjs) when one is named, else with Node's spawn. fd 3 gets one line:
// {"ok":true,"pid":N} once listening, or {"ok":false,"running":true} when another
// host already serves the socket. The host exits after idleMs with no step and no
// connection, or when its state folder is removed.

import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { hostSocket } from './host-socket.mjs'
import { Step } from './step.mjs'
import { processStart } from './step-files.mjs'
import { useSpawner } from './spawn-client.mjs'

const [stateDir, sockPath, idleArg, spawnerArg] = process.argv.slice(2)
if (!stateDir || !sockPath) {
  console.error('usage: supervisor.mjs <stateDir> <socketPath> <idleMs>')
  process.exit(2)
}
const IDLE_MS = Number(idleArg) > 0 ? Number(idleArg) : 2000
useSpawner(spawnerArg ?? '')
const REPORT_FD = 3

/** @type {Buffer} */
let token
try {
  token = fs.readFileSync(path.join(stateDir, 'host.token'))
} catch (e) {
  console.error(`step host: cannot read ${path.join(stateDir, 'host.token')}: ${/** @type {Error} */ (e).message}`)
  process.exit(2)
}
if (token.length < 32) {
  console.error('step host: host.token is too short')
  process.exit(2)
}

// Tells this host apart from a later process with the same pid.
const hostStart = processStart(process.pid)

/** @param {Record<string, unknown>} msg */
function report(msg) {
  try {
    fs.writeSync(REPORT_FD, JSON.stringify(msg) + '\n')
    fs.closeSync(REPORT_FD)
  } catch {
    // The control plane that started us may be gone already.
  }
}

/** @type {Map<string, Step>} running steps by attempt folder */
const steps = new Map()
/** @type {Map<string, Array<() => void>>} kill requests waiting for a step's end */
const waiters = new Map()
/** @type {NodeJS.Timeout | undefined} */
let idleTimer

function checkIdle() {
  clearTimeout(idleTimer)
  idleTimer = undefined
  if (steps.size > 0 || peers() > 0) return
  idleTimer = setTimeout(() => {
    if (steps.size === 0 && peers() === 0) process.exit(0)
  }, IDLE_MS)
}

/** @param {Step} step @param {import('./step.mjs').StepExit} exit @param {boolean} recorded */
function done(step, exit, recorded) {
  if (!recorded) {
    keepUnrecorded(step.dir, exit)
  }
  notice(step.dir) // the exit record is written (or will never be)
  steps.delete(step.dir)
  for (const w of waiters.get(step.dir) ?? []) w()
  waiters.delete(step.dir)
  checkIdle()
}

/** @param {string} dir @param {string} reason */
function stopAll(dir, reason) {
  for (const s of steps.values()) if (!dir || s.dir === dir) s.stop('Killed', reason)
}

/** @typedef {{ root: string, path: string, what: string }} PathCheck */

/**
 * The first path that now goes through a symbolic link (or leaves its root), as a start error;
 * undefined when all are as the control plane left them. Components not there yet are the sandbox
 * launcher's (bwrap's or ctl-sandbox's) to make (on a read-only volume it fails by itself).
 * @param {PathCheck[] | undefined} checks
 */
function changedPath(checks) {
  for (const c of checks ?? []) {
    const rel = path.relative(c.root, c.path)
    if (rel.startsWith('..') || path.isAbsolute(rel)) return `${c.what} leaves the volume`
    let cur = c.root
    for (const part of rel.split(path.sep).filter(Boolean)) {
      cur = path.join(cur, part)
      let st
      try {
        st = fs.lstatSync(cur)
      } catch {
        break
      }
      if (st.isSymbolicLink()) return `${c.what} leaves the volume: "${path.relative(c.root, cur)}" became a symbolic link as the step started`
    }
  }
  return undefined
}

/**
 * @param {{ spec: import('./step.mjs').SupervisorSpec, handle: { data: Record<string, unknown> } }} msg
 * @returns {Promise<Record<string, unknown>>}
 */
async function start(msg) {
  const dir = msg.spec.attemptDir
  if (path.dirname(path.dirname(dir)) !== stateDir) return { ok: false, error: `not an attempt folder of ${stateDir}: ${dir}` }
  if (steps.has(dir)) return { ok: false, error: 'conflict' }
  const step = new Step(msg.spec, done)
  step.onOutput = (s) => notice(s.dir)
  // Every line is in the log already: a follower may finish before the exit record is on disk.
  step.onExit = (s, exit, end) => notice(s.dir, exit, end)
  steps.set(dir, step)
  try {
    step.claim()
  } catch (e) {
    // Not ours: nothing of this attempt runs here (a kill waiting for it is answered as done).
    steps.delete(dir)
    for (const w of waiters.get(dir) ?? []) w()
    waiters.delete(dir)
    checkIdle()
    const code = /** @type {NodeJS.ErrnoException} */ (e).code
    return { ok: false, error: code === 'EEXIST' ? 'conflict' : `cannot claim the attempt: ${/** @type {Error} */ (e).message}` }
  }
  let pid
  // The control plane resolved paths inside volumes as it prepared the start; a step running
  // meanwhile may have swapped a folder for a link since. Checked again as late as possible.
  const moved = changedPath(/** @type {{ beneath?: PathCheck[] }} */ (msg.spec).beneath)
  if (moved) {
    step.startFailure = moved
    step.finish()
  } else {
    try {
      pid = await step.start()
    } catch (e) {
      // spawn() itself threw (bad arguments): the step cannot start.
      step.startFailure = `cannot start "${msg.spec.command}": ${/** @type {Error} */ (e).message}`
      step.finish()
    }
  }
  // logAt: this host writes the log in the state folder's logs folder (see logFileOf); the handle says so.
  const handle = { ...msg.handle, data: { ...msg.handle.data, logAt: 'logs', supervisorPid: process.pid, supervisorStart: hostStart, stepPid: pid ?? null } }
  // First record of the log: one write to an open file rather than a file to create. Output that came with the news
  // of the start was held by the log (StepLog) and follows it. A step that could not start has its exit record
  // waiting for this one.
  const quietAt = step.writeHandle(handle)
  // The log holds the handle and nothing else yet: told with the reply, so that a follower on this connection need
  // not look at it until a notice says it grew (every later write is noticed, after this reply).
  return { ok: true, handle, ...(quietAt !== undefined ? { quiet: { dir, size: quietAt } } : {}) }
}

/** @param {net.Socket} socket @param {any} msg */
function handle(socket, msg) {
  const id = msg.id
  if (msg.op === 'start') {
    start(msg).then(
      (r) => reply(socket, { id, ...r }),
      (e) => reply(socket, { id, ok: false, error: String(e?.message ?? e) }),
    )
  } else if (msg.op === 'kill') {
    const step = steps.get(msg.dir)
    // An ended step whose exit could not be recorded is known: its end was told, nobody must write another.
    if (!step) return reply(socket, { id, ok: true, known: unrecordedHas(msg.dir) })
    const list = waiters.get(msg.dir) ?? []
    list.push(() => reply(socket, { id, ok: true, known: true }))
    waiters.set(msg.dir, list)
    step.stop('Killed', typeof msg.reason === 'string' && msg.reason ? msg.reason : 'killed on request')
  } else {
    reply(socket, { id, ok: false, error: `unknown request ${JSON.stringify(msg.op)}` })
  }
}

const { server, reply, notice, flush, keepUnrecorded, unrecordedHas, peers } = hostSocket({
  token,
  hello: { pid: process.pid, start: hostStart },
  onRequest: handle,
  onPeersChanged: checkIdle,
})

function listen() {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(sockPath, () => {
      server.off('error', reject)
      resolve(undefined)
    })
  })
}

/** Whether a live host answers on the socket. */
function probe() {
  return new Promise((resolve) => {
    const c = net.createConnection(sockPath)
    c.on('connect', () => {
      c.destroy()
      resolve(true)
    })
    c.on('error', () => resolve(false))
  })
}

// Detached, but a terminal hang-up or Ctrl-C in the control plane's terminal must not reach us.
process.on('SIGHUP', () => {})
process.on('SIGINT', () => {})
process.on('SIGTERM', () => {
  server.close()
  stopAll('', 'the step host was stopped')
  if (steps.size === 0) process.exit(0)
  // The replies to kills answered by the same ends go out first.
  for (const s of steps.values()) waiters.set(s.dir, [...(waiters.get(s.dir) ?? []), () => steps.size === 0 && (flush(), process.exit(0))])
})
process.on('uncaughtException', (e) => {
  console.error('step host failure:', e)
  for (const s of steps.values()) {
    try {
      s.abandon(`the step host failed: ${e.message}`)
    } catch {}
  }
  process.exit(1)
})

process.umask(0o077) // the socket: only our user may connect
try {
  await listen()
} catch (e) {
  if (/** @type {NodeJS.ErrnoException} */ (e).code !== 'EADDRINUSE') throw e
  if (await probe()) {
    report({ ok: false, running: true })
    process.exit(0)
  }
  fs.rmSync(sockPath, { force: true }) // left by a host that died
  await listen()
}
report({ ok: true, pid: process.pid })
checkIdle()

// A removed state folder means nobody will read what the steps produce (e.g. a test's temp folder).
setInterval(() => {
  if (fs.existsSync(stateDir)) return
  for (const s of steps.values()) s.signal('SIGKILL')
  process.exit(0)
}, 1000).unref()
