// The control plane's side of the step host (supervisor.mjs): finds the host of a
// state folder over its unix socket, starts it (detached, own session, empty
// environment) when none answers, and sends requests. One connection per client,
// kept open and unref'd, so a waiting control plane is never held up by it. The host
// also pushes a notice whenever a step's output grew or its exit was written, so a
// follower need not watch the attempt folder.
//
// Both ends prove knowledge of <stateDir>/host.token (see supervisor.mjs) with an HMAC over the
// other's nonce: a step that reaches the socket cannot start or kill anything, and a process
// that took the socket's place cannot receive launch specs (which hold secret values).

import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { CtlError } from '../../errors.js'
import { packageRoot } from '../../package-root.js'
import type { StepExit } from '../types.js'
import { toExit } from './files.js'

const CONNECT_TRIES = 4
/** How long a host may stay silent: to start, to complete a handshake, to show it lives while a watched reply is awaited. */
const START_TIMEOUT_MS = 15_000
/** A unix socket path must fit in sun_path (108 bytes with the NUL). */
const MAX_SOCKET_PATH = 100

export type HostReply = Record<string, unknown> & { ok?: boolean; error?: string }

interface Connection {
  socket: net.Socket
  hostPid: number
  /** The host's start time (/proc/PID/stat field 22): a pid alone could be a later process's. */
  hostStart: string | null
  /** Messages received from the host since the handshake: a watched request looks whether it grew (see watch). */
  heard: number
  pending: Map<number, { resolve: (r: HostReply) => void; reject: (e: Error) => void }>
  /** Attempt folder → callbacks of its followers, woken by the host's notices. */
  listeners: Map<string, Set<() => void>>
  /**
   * Exits the host announced, kept until the attempt's follower is done with them (a fast step may end before it
   * subscribes), with the size of the log's lines when the host knew it.
   */
  exits: Map<string, { exit: StepExit; end: number | undefined }>
  /**
   * Attempts started over this connection whose log holds their handle only (its size), as the host replied: every
   * later write to the log is noticed after that reply, and drops the entry.
   */
  quiet: Map<string, number>
  /** Requests of this turn of the event loop not written yet: they go out in one write (a DAG's layer starts together). */
  out: string
  /** A watched request on it went unanswered: no new request uses it; it goes once those waiting are answered. */
  retired?: true
}

/** Announced exits (and quiet logs) kept for followers that have not subscribed yet; the oldest go first beyond this. */
const MAX_KEPT_EXITS = 4096

/** A follower's interest in the notices of one attempt folder. */
export interface NoticeSubscription {
  /** False once the connection is gone: the host may have died, the caller must look for itself. */
  readonly live: boolean
  /** The exit the host announced for the attempt, once it did. */
  readonly exit: StepExit | undefined
  /** With the exit: the size of the log before its exit record (every line of the step), when the host knew it. */
  readonly end: number | undefined
  /** The log's size while it holds the attempt's handle and nothing else, as far as this connection knows. */
  readonly quiet: number | undefined
  close(): void
}

/** `<stateDir>/host.sock`, or a private folder under the runtime dir when that path is too long for a socket. */
export function hostSocketPath(stateDir: string): string {
  const direct = path.join(stateDir, 'host.sock')
  if (Buffer.byteLength(direct) <= MAX_SOCKET_PATH) return direct
  const base = process.env.XDG_RUNTIME_DIR || os.tmpdir()
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0
  const dir = path.join(base, `ctl-${uid}-hosts`)
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  const id = crypto.createHash('sha256').update(stateDir).digest('hex').slice(0, 24)
  return path.join(dir, `${id}.sock`)
}

/** The file that holds the host's token; the state folder is never visible inside a sandbox. */
export const TOKEN_FILE = 'host.token'
const TOKEN_BYTES = 32

/**
 * The token of the host of `stateDir`: read, or made (0600) when missing. Made complete in a
 * file of its own and then linked into place, so nobody ever reads half a token and only one
 * of two concurrent creators wins. It persists so that a control plane started later
 * authenticates to a host that outlived it.
 */
export function hostToken(stateDir: string): Buffer {
  const file = path.join(stateDir, TOKEN_FILE)
  if (!fs.existsSync(file)) {
    const tmp = `${file}.${process.pid}.${crypto.randomBytes(6).toString('hex')}`
    fs.writeFileSync(tmp, crypto.randomBytes(TOKEN_BYTES), { mode: 0o600, flag: 'wx' })
    try {
      fs.linkSync(tmp, file)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    } finally {
      fs.rmSync(tmp, { force: true })
    }
  }
  const st = fs.lstatSync(file)
  const uid = typeof process.getuid === 'function' ? process.getuid() : st.uid
  if (!st.isFile() || st.uid !== uid) throw new CtlError('E_INTERNAL', `${file} is not a regular file of this user: refusing to use it as the step host's token`)
  // Loose permissions (an older state folder, a careless copy): tightened, not trusted blindly.
  if ((st.mode & 0o077) !== 0) fs.chmodSync(file, 0o600)
  const token = fs.readFileSync(file)
  if (token.length < TOKEN_BYTES) throw new CtlError('E_INTERNAL', `${file} holds ${token.length} bytes, not a step host token of ${TOKEN_BYTES}`)
  return token
}

/** HMAC-SHA256 of `label:nonce` under the token, as both ends compute it. */
export function hostProof(token: Buffer, label: 'client' | 'host', nonce: string): Buffer {
  return crypto.createHmac('sha256', token).update(`${label}:${nonce}`).digest()
}

/**
 * The native spawner the step host starts its steps with (spawner.c, built by `npm run build` where a C
 * compiler exists; see spawn-client.mjs): $CTL_SPAWNER when set (empty: Node's spawn, which tests use to
 * cover the fallback), else the build's dist/native/ctl-spawner, else none.
 */
export function spawnerPath(): string {
  const named = process.env.CTL_SPAWNER
  if (named !== undefined) return named && path.resolve(named)
  const built = path.join(packageRoot(), 'dist', 'native', 'ctl-spawner')
  return fs.existsSync(built) ? built : ''
}

export class HostClient {
  private conn: Connection | undefined
  private connecting: Promise<Connection> | undefined
  private nextId = 1
  private tokenCache: Buffer | undefined

  constructor(
    private readonly stateDir: string,
    private readonly socketPath: string,
    private readonly hostScript: () => string,
    private readonly idleMs: number,
  ) {}

  /**
   * Sends one request. `spawn: false` never starts a host: undefined when none answers. `watch`: the reply may
   * rightly take long (a kill is answered once the step ended, after its grace period), so the host is asked for a
   * sign of life instead, every START_TIMEOUT_MS; one that says nothing for that long is taken as hung: the
   * connection is dropped and the request fails, as when the host went away.
   */
  async request(msg: Record<string, unknown>, opts: { spawn: boolean; watch?: boolean }): Promise<HostReply | undefined> {
    let conn: Connection
    try {
      conn = await this.connection(opts.spawn)
    } catch (err) {
      if (!opts.spawn && err instanceof NoHost) return undefined
      throw err
    }
    const id = this.nextId++
    const reply = new Promise<HostReply>((resolve, reject) => {
      conn.pending.set(id, { resolve, reject })
      conn.socket.ref() // a reply is awaited: keep the process alive for it
      if (conn.out === '') setImmediate(() => flushRequests(conn))
      conn.out += JSON.stringify({ ...msg, id }) + '\n'
    })
    if (opts.watch) this.watch(conn, id, reply)
    return reply
  }

  /**
   * Probes the host now and each START_TIMEOUT_MS in which it spoke, until `reply` settles; fails request `id` once it
   * did not. Only that one: another request waiting on the connection (a start the host may yet carry out) is not
   * taken as failed; it keeps the connection, which no new request uses (the next connects afresh, under the
   * handshake's own bound) and which goes once nothing waits on it. A hung host holds nothing up (unref'd).
   */
  private watch(conn: Connection, id: number, reply: Promise<HostReply>): void {
    let heard = conn.heard
    this.probe(conn)
    const watchdog = setInterval(() => {
      if (conn.heard === heard) {
        const waiter = conn.pending.get(id)
        conn.pending.delete(id)
        if (this.conn === conn) this.conn = undefined
        conn.retired = true
        if (conn.pending.size === 0) conn.socket.destroy()
        else conn.socket.unref()
        waiter?.reject(new CtlError('E_INTERNAL', `the step host (pid ${conn.hostPid}) did not answer for ${START_TIMEOUT_MS / 1000} s`))
      } else {
        heard = conn.heard
        this.probe(conn)
      }
    }, START_TIMEOUT_MS)
    watchdog.unref()
    const stop = () => clearInterval(watchdog)
    reply.then(stop, stop)
  }

  /** A request every host answers at once (one it does not know, with an error): the cheapest sign of life. */
  private probe(conn: Connection): void {
    conn.socket.write(JSON.stringify({ op: 'ping', id: this.nextId++ }) + '\n')
  }

  /**
   * Notices for `attemptDir` from the host `hostPid`, if this client is connected to that very
   * host (a live connection also proves the host runs). Undefined otherwise. `onChange` is also
   * called once when the connection goes away.
   */
  subscribe(attemptDir: string, host: { pid: number | null; start: string | null }, onChange: () => void): NoticeSubscription | undefined {
    const conn = this.conn
    if (!conn || conn.socket.destroyed || host.pid === null || conn.hostPid !== host.pid) return undefined
    if (host.start !== null && conn.hostStart !== null && host.start !== conn.hostStart) return undefined
    let set = conn.listeners.get(attemptDir)
    if (!set) conn.listeners.set(attemptDir, (set = new Set()))
    set.add(onChange)
    return {
      get live() {
        return !conn.socket.destroyed
      },
      get exit() {
        return conn.exits.get(attemptDir)?.exit
      },
      get end() {
        return conn.exits.get(attemptDir)?.end
      },
      get quiet() {
        return conn.quiet.get(attemptDir)
      },
      close() {
        set.delete(onChange)
        if (set.size === 0 && conn.listeners.get(attemptDir) === set) {
          conn.listeners.delete(attemptDir)
          conn.exits.delete(attemptDir)
          conn.quiet.delete(attemptDir)
        }
      },
    }
  }

  /** The pid of the host this client talks to, if connected. */
  get hostPid(): number | undefined {
    return this.conn?.hostPid
  }

  close(): void {
    this.conn?.socket.destroy()
    this.conn = undefined
  }

  private connection(spawnIfMissing: boolean): Promise<Connection> {
    if (this.conn && !this.conn.socket.destroyed) return Promise.resolve(this.conn)
    if (!spawnIfMissing) return this.connecting ?? this.connect()
    // Concurrent first requests share one connection attempt (and at most one host start).
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined
    })
    return this.connecting
  }

  private async open(): Promise<Connection> {
    let lastError: Error | undefined
    for (let i = 0; i < CONNECT_TRIES; i++) {
      try {
        return await this.connect()
      } catch (err) {
        lastError = err as Error
        if (!(err instanceof NoHost)) throw err
        await this.startHost()
      }
    }
    throw new CtlError('E_INTERNAL', `cannot reach the step host at ${this.socketPath}: ${lastError?.message ?? 'unknown error'}`)
  }

  private token(): Buffer {
    return (this.tokenCache ??= hostToken(this.stateDir))
  }

  private connect(): Promise<Connection> {
    let token: Buffer
    try {
      token = this.token()
    } catch (e) {
      return Promise.reject(e)
    }
    const myNonce = crypto.randomBytes(32).toString('hex')
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(this.socketPath)
      let hello: { pid: number; start?: string | null } | undefined
      const pending: Connection['pending'] = new Map()
      const listeners: Connection['listeners'] = new Map()
      const exits: Connection['exits'] = new Map()
      const quiet: Connection['quiet'] = new Map()
      let conn: Connection | undefined
      let buf = ''
      // A listener that says hello and then nothing (not our host) must not hold a start forever.
      const handshakeTimer = setTimeout(() => {
        if (!conn) socket.destroy(new CtlError('E_INTERNAL', `the process at ${this.socketPath} did not complete the step host's handshake`))
      }, START_TIMEOUT_MS)
      handshakeTimer.unref()
      socket.setEncoding('utf8')
      socket.on('error', (err: NodeJS.ErrnoException) => {
        if (!conn) reject(err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? new NoHost(err.message) : err)
      })
      socket.on('close', () => {
        clearTimeout(handshakeTimer)
        if (!conn) return reject(new NoHost(hello ? 'the step host closed the connection during authentication (does host.token match the running host?)' : 'the step host closed the connection'))
        if (this.conn === conn) this.conn = undefined
        for (const p of pending.values()) p.reject(new CtlError('E_INTERNAL', 'the step host went away before answering'))
        pending.clear()
        // Followers relying on notices must now look at the files themselves.
        for (const set of listeners.values()) for (const fn of [...set]) fn()
      })
      socket.on('data', (chunk: string) => {
        buf += chunk
        let nl: number
        while ((nl = buf.indexOf('\n')) >= 0) {
          let msg: HostReply & {
            id?: number
            hello?: { pid: number; start?: string | null; nonce?: string }
            authed?: string
            ev?: string
            dir?: string
          }
          try {
            msg = JSON.parse(buf.slice(0, nl)) as typeof msg
            if (typeof msg !== 'object' || msg === null) throw new TypeError('not an object')
          } catch {
            // Not the host's protocol (whatever sits on the socket must not crash the control plane).
            socket.destroy()
            if (!conn) reject(new CtlError('E_INTERNAL', `the process at ${this.socketPath} does not speak the step host's protocol`))
            return
          }
          buf = buf.slice(nl + 1)
          if (!conn) {
            // The handshake: the host's hello (with its nonce), our proof, then the host's proof.
            if (msg.hello && !hello) {
              hello = msg.hello
              if (typeof msg.hello.nonce !== 'string') {
                socket.destroy()
                return reject(new CtlError('E_INTERNAL', `the step host at ${this.socketPath} does not authenticate its peers (an older version?); stop it (pid ${msg.hello.pid})`))
              }
              socket.write(JSON.stringify({ auth: hostProof(token, 'client', msg.hello.nonce).toString('hex'), nonce: myNonce }) + '\n')
              continue
            }
            const expected = hostProof(token, 'host', myNonce)
            const theirs = typeof msg.authed === 'string' && /^[0-9a-f]{64}$/.test(msg.authed) ? Buffer.from(msg.authed, 'hex') : undefined
            if (!hello || !theirs || !crypto.timingSafeEqual(theirs, expected)) {
              socket.destroy()
              return reject(new CtlError('E_INTERNAL', `the process at ${this.socketPath} is not the step host of ${this.stateDir} (it failed to authenticate)`))
            }
            clearTimeout(handshakeTimer)
            conn = { socket, hostPid: hello.pid, hostStart: hello.start ?? null, heard: 0, pending, listeners, exits, quiet, out: '' }
            this.conn = conn
            socket.unref()
            resolve(conn)
            continue
          }
          conn.heard++
          if (msg.ev !== undefined) {
            if (typeof msg.dir !== 'string') continue
            const exit = toExit((msg as { exit?: unknown }).exit)
            if (exit) {
              const end = (msg as { end?: unknown }).end
              exits.set(msg.dir, { exit, end: typeof end === 'number' ? end : undefined })
              if (exits.size > MAX_KEPT_EXITS) exits.delete(exits.keys().next().value!)
            } else quiet.delete(msg.dir) // it grew
            const set = listeners.get(msg.dir)
            if (set) for (const fn of [...set]) fn()
            continue
          }
          const waiter = msg.id !== undefined ? pending.get(msg.id) : undefined
          if (!waiter) continue
          // Noted before any notice that comes after the reply (in this chunk too) is read.
          const q = (msg as { quiet?: { dir?: unknown; size?: unknown } }).quiet
          if (q && typeof q.dir === 'string' && typeof q.size === 'number') {
            quiet.set(q.dir, q.size)
            if (quiet.size > MAX_KEPT_EXITS) quiet.delete(quiet.keys().next().value!)
          }
          pending.delete(msg.id!)
          if (pending.size === 0) {
            if (conn.retired) socket.destroy()
            else socket.unref()
          }
          waiter.resolve(msg)
        }
      })
    })
  }

  /** Starts a host and waits until it listens (or says another one already does). */
  private startHost(): Promise<void> {
    this.token() // made before the host starts: the host reads it once, at start
    const logFd = fs.openSync(path.join(this.stateDir, 'host.log'), 'a')
    let child
    try {
      // A small young generation: every fork marks the host's memory copy-on-write, so the less
      // of it the host keeps writing to, the cheaper each step start (measured: about a third).
      const args = ['--max-semi-space-size=1', this.hostScript(), this.stateDir, this.socketPath, String(this.idleMs), spawnerPath()]
      child = spawn(process.execPath, args, {
        detached: true, // own session: survives the control plane and its terminal
        cwd: this.stateDir,
        env: {}, // nothing of the control plane's environment (API keys) reaches the host
        stdio: ['ignore', logFd, logFd, 'pipe'],
      })
    } finally {
      fs.closeSync(logFd)
    }
    const proc = child
    return new Promise((resolve, reject) => {
      const ready = proc.stdio[3] as NodeJS.ReadableStream & { destroy(): void }
      const finish = (err?: Error) => {
        clearTimeout(timer)
        ready.destroy()
        proc.unref()
        if (err) reject(err)
        else resolve()
      }
      const timer = setTimeout(() => finish(new CtlError('E_INTERNAL', 'the step host did not start in time')), START_TIMEOUT_MS)
      proc.on('error', (e) => finish(new CtlError('E_INTERNAL', `cannot start the step host: ${e.message}`)))
      ready.on('data', () => finish())
      // Closed without a word: it failed (see host.log) or lost a race; connecting again tells.
      ready.on('end', () => finish())
    })
  }
}

function flushRequests(conn: Connection): void {
  const text = conn.out
  conn.out = ''
  // A connection gone meanwhile rejected the requests it held (see its 'close').
  if (!conn.socket.destroyed) conn.socket.write(text)
}

class NoHost extends Error {}
