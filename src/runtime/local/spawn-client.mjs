// @ts-check
// How the step host (step.mjs) starts a step's process: through ctl-spawner (spawner.c, one long-lived
// process per host) when the host was given one, else with Node's spawn. Node's spawn forks the whole
// host (~55 MB) for each step and blocks its event loop until the child has exec'd; the spawner is a
// small C program that does the fork and exec for it. Both give the same small "child" (see Child):
// real pids, the same events, the same start errors. Plain JavaScript like the other host files.
//
// The spawner reads the steps' pipes itself and passes their bytes on over its own stdout (Node cannot receive
// fds; each pipe opened here as a stream of its own cost more CPU than a step's whole start). If the spawner dies,
// its steps die with it (bwrap --die-with-parent; a plain step is killed by the host) and are reported Lost; the
// next step starts a new spawner.

import { spawn } from 'node:child_process'
import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { StringDecoder } from 'node:string_decoder'
import util from 'node:util'

/**
 * @typedef {{ command: string, args: string[], env: Record<string, string>, cwd: string, uid?: number, gid?: number,
 *   cgroup?: string, info: boolean, fds: Array<string | Buffer>, builtin?: boolean }} ChildOptions
 *   info: a pipe on fd 3 (bwrap's --info-fd); fds: data for fds 4.. (bwrap's --ro-bind-data, --add-seccomp-fd);
 *   builtin: command is ctl-sandbox, which the spawner has compiled in and runs without an exec (Node's spawn execs it)
 * @typedef {EventEmitter & { destroy(): void, setEncoding(encoding: BufferEncoding): unknown }} ChildStream
 *   a pipe of the child: 'data', 'close'; a Readable (Node's spawn) or a Feed (the spawner passes the pipe on)
 * @typedef {EventEmitter & { pid: number | undefined, stdout: ChildStream | null,
 *   stderr: ChildStream | null, info: ChildStream | null }} Child
 *   Events: 'spawn'; 'error' (not started: Error with code and, when it could not be put in its cgroup,
 *   stage 'cgroup'); 'exit' (code, signal); 'close' (exited and stdout, stderr ended); 'lost' (message:
 *   the spawner died under it, the step is gone). stdout/stderr/info are set by the time of 'spawn'.
 */

/** The longest request: blobs are ConfigMap and Secret files (1 MiB each in Kubernetes). Same bound in spawner.c. */
const MAX_FRAME = 64 << 20
/** Arguments (with argv[0]) and environment entries; fds of data (4..259). Same bounds in spawner.c. */
const MAX_LIST = 65536
const MAX_BLOBS = 256
/** The events this client reads (see spawner.c): a spawner of another version refuses to start. */
const PROTOCOL = '3'
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

/**
 * One pipe of a step as the spawner passes it on: 'data' (Buffers, or strings after setEncoding), then 'close' once
 * it ended; destroy() stops it (the spawner closes its read end). The part of a Readable the host uses.
 */
class Feed extends EventEmitter {
  /** @param {Conn} conn @param {number} id @param {number} stream */
  constructor(conn, id, stream) {
    super()
    this.conn = conn
    this.id = id
    this.stream = stream
    this.destroyed = false
    /** @type {import('node:string_decoder').StringDecoder | undefined} */
    this.decoder = undefined
  }

  /** @param {BufferEncoding} encoding */
  setEncoding(encoding) {
    this.decoder = new StringDecoder(encoding)
    return this
  }

  /** @param {Buffer} data */
  push(data) {
    if (!this.destroyed) this.emit('data', this.decoder ? this.decoder.write(data) : data)
  }

  /** The pipe ended (told by the spawner, or it died): 'close', once. */
  end() {
    if (this.destroyed) return
    this.destroyed = true
    this.emit('close')
  }

  destroy() {
    if (this.destroyed) return
    this.conn.closeStream(this.id, this.stream)
    this.end()
  }
}

/** One running ctl-spawner and the steps it started whose exit or output it has not passed on yet. */
class Conn {
  /** @param {string} bin */
  constructor(bin) {
    this.dead = false
    this.over = false
    this.nextId = 1
    /** @type {Buffer[]} frames not written yet */
    this.queue = []
    /** @type {number[]} (id, stream) pairs of pipes the host gave up on: the spawner closes them */
    this.closes = []
    this.flushing = false
    /** @type {Map<number, { child: Child, o: ChildOptions, feeds: Feed[], exited: boolean }>} */
    this.children = new Map()
    this.proc = spawn(bin, [String(process.pid), PROTOCOL], { stdio: ['pipe', 'pipe', 'inherit'], env: {} })
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
    /** @type {Buffer | undefined} bytes of an event not complete yet */
    let rest
    const out = /** @type {import('node:stream').Readable} */ (proc.stdout)
    out.on('data', (/** @type {Buffer} */ chunk) => {
      const buf = rest ? Buffer.concat([rest, chunk]) : chunk
      let at = 0
      for (;;) {
        const nl = buf.indexOf(10, at)
        if (nl < 0) break
        const f = buf.toString('latin1', at, nl).split(' ')
        if (f[0] === 'O') {
          // Output: its bytes follow the line.
          const end = nl + 1 + Number(f[3])
          if (end > buf.length) break
          this.output(Number(f[1]), Number(f[2]), buf.subarray(nl + 1, end))
          at = end
        } else {
          this.event(f)
          at = nl + 1
        }
      }
      rest = at < buf.length ? buf.subarray(at) : undefined
    })
    out.on('close', () => this.died())
  }

  /** The spawner is gone: whatever it started and did not see exit is lost; output not passed on yet never comes. */
  died() {
    this.dead = true
    if (this.over) return
    this.over = true
    if (++deaths >= MAX_DEATHS && binary) {
      console.error(`step host: the spawner died ${deaths} times: steps start with Node's spawn from now on`)
      binary = ''
    }
    const left = [...this.children.values()]
    this.children.clear()
    try {
      this.proc.kill('SIGKILL')
    } catch {}
    for (const { child, feeds, exited } of left) {
      for (const f of feeds) f.end()
      if (!exited) child.emit('lost', "the step host's spawner died while the step was running")
    }
  }

  /** @param {ChildOptions} o @returns {Child} */
  start(o) {
    const id = this.nextId++
    /** @type {Child} */
    const child = Object.assign(new EventEmitter(), { pid: undefined, stdout: null, stderr: null, info: null })
    const frame = startFrame(id, o)
    // Beyond the spawner's bounds the request would end it, and every step it runs with it: Node starts this one.
    if (!frame) return nodeChild(o)
    this.children.set(id, { child, o, feeds: [], exited: false })
    this.send(frame)
    return child
  }

  /** Stops the spawner reading a pipe of a step (see Feed.destroy). @param {number} id @param {number} stream */
  closeStream(id, stream) {
    if (this.over) return
    this.closes.push(id, stream)
    this.send()
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
        this.closes.forEach((v, i) => close.writeUInt32LE(v, 8 + 4 * i))
        this.queue.push(close)
        this.closes = []
      }
      const out = this.queue.length === 1 ? this.queue[0] : Buffer.concat(this.queue)
      this.queue = []
      if (out && !this.dead) this.proc.stdin?.write(out)
    })
  }

  /** What a step wrote (stream 0 stdout, 1 stderr, 2 info). @param {number} id @param {number} stream @param {Buffer} data */
  output(id, stream, data) {
    this.children.get(id)?.feeds[stream]?.push(data)
  }

  /** Forgets a child once the spawner has nothing more to tell of it. @param {number} id */
  settle(id) {
    const entry = this.children.get(id)
    if (entry && entry.exited && entry.feeds.every((f) => f.destroyed)) this.children.delete(id)
  }

  /** One line of the spawner: S (started), E (not started), C (a pipe ended), X (exited). @param {string[]} f */
  event(f) {
    const id = Number(f[1])
    const entry = this.children.get(id)
    if (!entry) return
    const { child, o } = entry
    if (f[0] === 'S') {
      child.pid = Number(f[2])
      const [stdout, stderr] = (entry.feeds = [new Feed(this, id, 0), new Feed(this, id, 1)])
      const info = o.info ? new Feed(this, id, 2) : null
      if (info) entry.feeds.push(info)
      Object.assign(child, { stdout, stderr, info })
      let open = 2
      const closed = () => {
        if (--open === 0 && entry.exited) child.emit('close')
        this.settle(id)
      }
      stdout.once('close', closed)
      stderr.once('close', closed)
      info?.once('close', () => this.settle(id))
      child.once('exit', () => {
        if (open === 0) child.emit('close')
      })
      child.emit('spawn')
    } else if (f[0] === 'C') {
      entry.feeds[Number(f[2])]?.end()
    } else if (f[0] === 'E') {
      this.children.delete(id)
      const errno = -Number(f[3])
      child.emit('error', f[2] === 'cgroup' ? Object.assign(sysError(errno, 'open', path.join(o.cgroup ?? '', 'cgroup.procs')), { stage: 'cgroup' }) : Object.assign(sysError(errno, `spawn ${o.command}`), { path: o.command, spawnargs: o.args }))
    } else if (f[0] === 'X') {
      entry.exited = true
      const status = Number(f[3])
      const sig = status & 0x7f
      if (sig === 0) child.emit('exit', (status >> 8) & 0xff, null)
      else child.emit('exit', null, SIGNALS[sig] ?? null)
      this.settle(id)
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
  u32(1 | (ids ? 2 : 0) | (o.info ? 4 : 0) | (o.builtin ? 8 : 0))
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
