// @ts-check
// How the step host (step.mjs) starts a step's process: through ctl-spawner (spawner.c, one long-lived
// process per host) when the host was given one, else with Node's spawn. Node's spawn forks the whole
// host (~55 MB) for each step and blocks its event loop until the child has exec'd; the spawner is a
// small C program that does the fork and exec for it. Both give the same small "child" (see Child):
// real pids, the same events, the same start errors. Plain JavaScript like the other host files.
//
// The spawner's pipes reach the host without fd passing (Node cannot receive fds): the host opens
// /proc/<spawner>/fd/<N> (opening a pipe's /proc fd opens the same pipe) and then tells the spawner
// to close its copies. If the spawner dies, its steps die with it (bwrap --die-with-parent; a plain
// step is killed by the host) and are reported Lost; the next step starts a new spawner.

import { spawn } from 'node:child_process'
import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import util from 'node:util'

/**
 * @typedef {{ command: string, args: string[], env: Record<string, string>, cwd: string, uid?: number, gid?: number,
 *   cgroup?: string, info: boolean, fds: Array<string | Buffer> }} ChildOptions
 *   info: a pipe on fd 3 (bwrap's --info-fd); fds: data for fds 4.. (bwrap's --ro-bind-data, --add-seccomp-fd)
 * @typedef {EventEmitter & { pid: number | undefined, stdout: import('node:stream').Readable | null,
 *   stderr: import('node:stream').Readable | null, info: import('node:stream').Readable | null }} Child
 *   Events: 'spawn'; 'error' (not started: Error with code and, when it could not be put in its cgroup,
 *   stage 'cgroup'); 'exit' (code, signal); 'close' (exited and stdout, stderr ended); 'lost' (message:
 *   the spawner died under it, the step is gone). stdout/stderr/info are set by the time of 'spawn'.
 */

/** The longest request: blobs are ConfigMap and Secret files (1 MiB each in Kubernetes). Same bound in spawner.c. */
const MAX_FRAME = 64 << 20
/** Arguments (with argv[0]) and environment entries; fds of data (4..259). Same bounds in spawner.c. */
const MAX_LIST = 65536
const MAX_BLOBS = 256
/** A spawner that died this often is not started again: Node's spawn takes over. */
const MAX_DEATHS = 3
const SIGNALS = Object.fromEntries(Object.entries(os.constants.signals).map(([name, n]) => [n, /** @type {NodeJS.Signals} */ (name)]))

/** @type {string} path of ctl-spawner; empty: Node's spawn */
let binary = ''
/** @type {Conn | undefined} */
let conn
let deaths = 0

/**
 * Chooses how steps start, once, as the host starts: `bin` is ctl-spawner's path ('' for Node's spawn).
 * A binary that is missing or not executable is noted in the host log and Node's spawn is used.
 * @param {string} bin
 */
export function useSpawner(bin) {
  binary = ''
  deaths = 0
  // A spawner of an earlier choice ends once its stdin closes (its steps run on: their pipes are open here).
  conn?.proc.stdin?.end()
  if (conn) conn.dead = conn.over = true
  conn = undefined
  if (!bin) return
  try {
    fs.accessSync(bin, fs.constants.X_OK)
    binary = bin
  } catch (e) {
    console.error(`step host: cannot use the spawner ${bin} (${/** @type {NodeJS.ErrnoException} */ (e).code}): steps start with Node's spawn`)
  }
}

/** @param {ChildOptions} o @returns {Child} */
export function spawnChild(o) {
  if (!binary) return nodeChild(o)
  if (!conn || conn.dead) conn = new Conn(binary)
  return conn.start(o)
}

/** Node's spawn; in a cgroup through a shell that waits on stdin until the host has moved it there. @param {ChildOptions} o */
function nodeChild(o) {
  /** @type {import('node:child_process').StdioOptions} */
  const stdio = [o.cgroup ? 'pipe' : 'ignore', 'pipe', 'pipe']
  if (o.info) stdio.push('pipe', ...o.fds.map(() => /** @type {const} */ ('pipe')))
  const [command, args] = o.cgroup ? ['/bin/sh', ['-c', 'read -r _ && exec "$@" </dev/null', 'ctl-step', o.command, ...o.args]] : [o.command, o.args]
  const ids = o.uid !== undefined && o.gid !== undefined ? { uid: o.uid, gid: o.gid } : {}
  const proc = spawn(command, args, { env: o.env, cwd: o.cwd, detached: true, stdio, ...ids })
  /** @type {Child} */
  const child = Object.assign(new EventEmitter(), { pid: proc.pid, stdout: proc.stdout, stderr: proc.stderr, info: o.info ? /** @type {import('node:stream').Readable} */ (proc.stdio[3]) : null })
  let state = 'starting'
  proc.on('error', (e) => {
    if (state !== 'starting') return // a failed kill() after the start: nothing to tell
    state = 'failed'
    child.emit('error', e)
  })
  proc.on('spawn', () => {
    if (o.cgroup) {
      try {
        fs.writeFileSync(path.join(o.cgroup, 'cgroup.procs'), String(proc.pid))
        proc.stdin?.on('error', () => {})
        proc.stdin?.end('go\n')
      } catch (e) {
        // Not in its cgroup: the step must not run without its limits.
        state = 'failed'
        try {
          process.kill(-(proc.pid ?? 0), 'SIGKILL')
        } catch {}
        child.emit('error', Object.assign(/** @type {Error} */ (e), { stage: 'cgroup' }))
        return
      }
    }
    o.fds.forEach((data, i) => {
      const s = /** @type {import('node:stream').Writable} */ (proc.stdio[4 + i])
      s.on('error', () => {}) // bwrap may exit before reading (setup error): the exit tells
      s.end(data)
    })
    state = 'running'
    child.emit('spawn')
  })
  proc.on('exit', (code, signal) => state === 'running' && child.emit('exit', code, signal))
  proc.on('close', () => state === 'running' && child.emit('close'))
  return child
}

/** The error Node's spawn gives for errno (negative, as libuv reports it). @param {number} errno @param {string} syscall @param {string} [file] */
function sysError(errno, syscall, file) {
  const [code, text] = util.getSystemErrorMap().get(errno) ?? ['UNKNOWN', 'unknown error']
  const message = file === undefined ? `${syscall} ${code}` : `${code}: ${text}, ${syscall} '${file}'`
  return Object.assign(new Error(message), { errno, code, syscall, ...(file === undefined ? {} : { path: file }) })
}

/** One running ctl-spawner and the steps it started that have not exited yet. */
class Conn {
  /** @param {string} bin */
  constructor(bin) {
    this.dead = false
    this.over = false
    this.nextId = 1
    /** @type {Buffer[]} frames not written yet */
    this.queue = []
    /** @type {number[]} ids whose pipes the host has opened: the spawner may close its copies */
    this.closes = []
    this.flushing = false
    /** @type {Map<number, { child: Child, o: ChildOptions }>} */
    this.children = new Map()
    this.proc = spawn(bin, [String(process.pid)], { stdio: ['pipe', 'pipe', 'inherit'], env: {} })
    const proc = this.proc
    const stdin = /** @type {import('node:stream').Writable} */ (proc.stdin)
    stdin.on('error', () => (this.dead = true)) // its last events are still to be read: see 'close' below
    proc.on('error', (e) => {
      console.error(`step host: cannot start the spawner ${bin}: ${e.message}`)
      this.died()
    })
    proc.on('exit', (code, signal) => {
      console.error(`step host: the spawner exited (${signal ?? `code ${code}`})`)
      this.dead = true // new steps go to a new spawner; this one's events are still read to the end
    })
    let buf = ''
    const out = /** @type {import('node:stream').Readable} */ (proc.stdout)
    out.setEncoding('latin1')
    out.on('data', (/** @type {string} */ d) => {
      buf += d
      let nl
      while ((nl = buf.indexOf('\n')) >= 0) {
        this.event(buf.slice(0, nl).split(' '))
        buf = buf.slice(nl + 1)
      }
    })
    out.on('close', () => this.died())
  }

  /** The spawner is gone: whatever it started and did not see exit is lost. */
  died() {
    this.dead = true
    if (this.over) return
    this.over = true
    if (++deaths >= MAX_DEATHS && binary) {
      console.error(`step host: the spawner died ${deaths} times: steps start with Node's spawn from now on`)
      binary = ''
    }
    const lost = [...this.children.values()]
    this.children.clear()
    try {
      this.proc.kill('SIGKILL')
    } catch {}
    for (const { child } of lost) child.emit('lost', "the step host's spawner died while the step was running")
  }

  /** @param {ChildOptions} o @returns {Child} */
  start(o) {
    const id = this.nextId++
    /** @type {Child} */
    const child = Object.assign(new EventEmitter(), { pid: undefined, stdout: null, stderr: null, info: null })
    const frame = startFrame(id, o)
    // Beyond the spawner's bounds the request would end it, and every step it runs with it: Node starts this one.
    if (!frame) return nodeChild(o)
    this.children.set(id, { child, o })
    this.send(frame)
    return child
  }

  /**
   * Queues a frame; the frames and closes of one turn of the event loop go out in one write (a layer of a DAG
   * starts many steps at once): fewer system calls here, fewer wake-ups of the spawner.
   * @param {Buffer} [frame]
   */
  send(frame) {
    if (frame) this.queue.push(frame)
    if (this.flushing) return
    this.flushing = true
    process.nextTick(() => {
      this.flushing = false
      if (this.closes.length > 0) {
        const close = Buffer.allocUnsafe(8 + 4 * this.closes.length)
        close.writeUInt32LE(4 + 4 * this.closes.length, 0)
        close.writeUInt32LE(2, 4)
        this.closes.forEach((id, i) => close.writeUInt32LE(id, 8 + 4 * i))
        this.queue.push(close)
        this.closes = []
      }
      const out = this.queue.length === 1 ? this.queue[0] : Buffer.concat(this.queue)
      this.queue = []
      if (out) this.proc.stdin?.write(out)
    })
  }

  /** One line of the spawner: S (started), E (not started), X (exited). @param {string[]} f */
  event(f) {
    const id = Number(f[1])
    const entry = this.children.get(id)
    if (!entry) return
    const { child, o } = entry
    if (f[0] === 'S') {
      child.pid = Number(f[2])
      /** @param {string} fd */
      const open = (fd) => new net.Socket({ fd: fs.openSync(`/proc/${this.proc.pid}/fd/${fd}`, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK), readable: true, writable: false })
      /** @type {Array<net.Socket | null>} */
      const streams = []
      try {
        for (const fd of f.slice(3, 6)) streams.push(fd === '-1' ? null : open(fd))
      } catch (e) {
        const err = /** @type {NodeJS.ErrnoException} */ (e)
        if (err.code === 'EMFILE' || err.code === 'ENFILE') {
          // The host is out of fds: this step alone fails, as Node's spawn fails it (it had begun: it is ended
          // with its session); the steps running beside it run on.
          for (const s of streams) s?.destroy()
          this.children.delete(id)
          this.closes.push(id)
          this.send()
          try {
            if (child.pid) process.kill(-child.pid, 'SIGKILL')
          } catch {}
          child.emit('error', Object.assign(sysError(err.errno ?? 0, `spawn ${o.command}`), { path: o.command, spawnargs: o.args }))
          return
        }
        // Cannot happen while the spawner holds them; if it does, the spawner is not trustworthy any more.
        console.error(`step host: cannot open the spawner's pipes: ${err.message}`)
        return this.died()
      }
      this.closes.push(id)
      this.send()
      const [stdout, stderr, info] = streams
      Object.assign(child, { stdout, stderr, info })
      let open2 = 2
      let exited = false
      const closed = () => --open2 === 0 && exited && child.emit('close')
      stdout?.on('close', closed)
      stderr?.on('close', closed)
      child.once('exit', () => {
        exited = true
        if (open2 === 0) child.emit('close')
      })
      child.emit('spawn')
    } else if (f[0] === 'E') {
      this.children.delete(id)
      const errno = -Number(f[3])
      child.emit('error', f[2] === 'cgroup' ? Object.assign(sysError(errno, 'open', path.join(o.cgroup ?? '', 'cgroup.procs')), { stage: 'cgroup' }) : Object.assign(sysError(errno, `spawn ${o.command}`), { path: o.command, spawnargs: o.args }))
    } else if (f[0] === 'X') {
      this.children.delete(id)
      const status = Number(f[3])
      const sig = status & 0x7f
      if (sig === 0) child.emit('exit', (status >> 8) & 0xff, null)
      else child.emit('exit', null, SIGNALS[sig] ?? null)
    }
  }
}

/**
 * The START request (layout in spawner.c), or undefined when it is beyond the spawner's bounds. Throws like
 * Node's spawn on a string with a NUL byte.
 * @param {number} id @param {ChildOptions} o @returns {Buffer | undefined}
 */
function startFrame(id, o) {
  const env = Object.entries(o.env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`)
  const strs = [o.command, o.cwd, o.cgroup ?? '', ...o.args]
  for (const s of [...strs, ...env]) if (s.includes('\0')) throw new TypeError(`The argument must be a string without null bytes. Received ${JSON.stringify(s)}`)
  if (o.args.length + 1 > MAX_LIST || env.length > MAX_LIST || o.fds.length > MAX_BLOBS || (o.fds.length > 0 && !o.info)) return undefined
  const blobs = o.fds.map((d) => (typeof d === 'string' ? Buffer.from(d) : d))
  let len = 4 * 5 + 4 * 3
  for (const s of strs) len += 4 + Buffer.byteLength(s) + 1
  for (const s of env) len += 4 + Buffer.byteLength(s) + 1
  len += 4 + Buffer.byteLength(o.command) + 1 // argv[0]
  for (const b of blobs) len += 4 + b.length
  if (len > MAX_FRAME) return undefined
  const buf = Buffer.allocUnsafe(4 + len)
  let at = 0
  const u32 = (/** @type {number} */ v) => (at = buf.writeUInt32LE(v >>> 0, at))
  const str = (/** @type {string} */ s) => {
    const n = buf.write(s, at + 4)
    u32(n + 1)
    at += n
    buf[at++] = 0
  }
  const ids = o.uid !== undefined && o.gid !== undefined
  u32(len)
  u32(1)
  u32(id)
  u32(1 | (ids ? 2 : 0) | (o.info ? 4 : 0))
  u32(ids ? /** @type {number} */ (o.uid) : 0)
  u32(ids ? /** @type {number} */ (o.gid) : 0)
  for (const s of strs.slice(0, 3)) str(s)
  u32(o.args.length + 1)
  str(o.command) // argv[0], as Node's spawn sets it
  for (const s of o.args) str(s)
  u32(env.length)
  for (const s of env) str(s)
  u32(blobs.length)
  for (const b of blobs) {
    u32(b.length)
    at += b.copy(buf, at)
  }
  return buf
}
