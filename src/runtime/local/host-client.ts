// The control plane's side of the step host (supervisor.mjs): finds the host of a
// state folder over its unix socket, starts it (host-start.ts) when none answers,
// and sends requests. One connection per client,
// kept open and unref'd, so a waiting control plane is never held up by it. The host
// also pushes a notice whenever a step's output grew or its exit was written, so a
// follower need not watch the attempt folder.
//
// Both ends prove knowledge of <stateDir>/host.token (host-token.ts) with an HMAC over the
// other's nonce, in the handshake below.

import crypto from 'node:crypto'
import net from 'node:net'
import { CtlError } from '../../errors.js'
import type { StepExit } from '../types.js'
import { toExit } from './files.js'
import type { ChangeSubscription } from './follow.js'
import { START_TIMEOUT_MS, startHost } from './host-start.js'
import { hostProof, hostToken } from './host-token.js'

const CONNECT_TRIES = 4

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
  subscribe(attemptDir: string, host: { pid: number | null; start: string | null }, onChange: () => void): ChangeSubscription | undefined {
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
        this.token() // made before the host starts: the host reads it once, at start
        await startHost(this.stateDir, this.socketPath, this.hostScript, this.idleMs)
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

}

function flushRequests(conn: Connection): void {
  const text = conn.out
  conn.out = ''
  // A connection gone meanwhile rejected the requests it held (see its 'close').
  if (!conn.socket.destroyed) conn.socket.write(text)
}

class NoHost extends Error {}
