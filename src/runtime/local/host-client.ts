// The control plane's side of the step host (supervisor.mjs): finds the host of a
// state folder over its unix socket, starts it (detached, own session, empty
// environment) when none answers, and sends requests. One connection per client,
// kept open and unref'd, so a waiting control plane is never held up by it.

import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { CtlError } from '../../errors.js'

const CONNECT_TRIES = 4
const START_TIMEOUT_MS = 15_000
/** A unix socket path must fit in sun_path (108 bytes with the NUL). */
const MAX_SOCKET_PATH = 100

export type HostReply = Record<string, unknown> & { ok?: boolean; error?: string }

interface Connection {
  socket: net.Socket
  hostPid: number
  pending: Map<number, { resolve: (r: HostReply) => void; reject: (e: Error) => void }>
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

export class HostClient {
  private conn: Connection | undefined
  private connecting: Promise<Connection> | undefined
  private nextId = 1

  constructor(
    private readonly stateDir: string,
    private readonly socketPath: string,
    private readonly hostScript: () => string,
    private readonly idleMs: number,
  ) {}

  /** Sends one request. `spawn: false` never starts a host: undefined when none answers. */
  async request(msg: Record<string, unknown>, opts: { spawn: boolean }): Promise<HostReply | undefined> {
    let conn: Connection
    try {
      conn = await this.connection(opts.spawn)
    } catch (err) {
      if (!opts.spawn && err instanceof NoHost) return undefined
      throw err
    }
    const id = this.nextId++
    return new Promise<HostReply>((resolve, reject) => {
      conn.pending.set(id, { resolve, reject })
      conn.socket.ref() // a reply is awaited: keep the process alive for it
      conn.socket.write(JSON.stringify({ ...msg, id }) + '\n')
    })
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

  private connect(): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(this.socketPath)
      const pending: Connection['pending'] = new Map()
      let conn: Connection | undefined
      let buf = ''
      socket.setEncoding('utf8')
      socket.on('error', (err: NodeJS.ErrnoException) => {
        if (!conn) reject(err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? new NoHost(err.message) : err)
      })
      socket.on('close', () => {
        if (!conn) return reject(new NoHost('the step host closed the connection'))
        if (this.conn === conn) this.conn = undefined
        for (const p of pending.values()) p.reject(new CtlError('E_INTERNAL', 'the step host went away before answering'))
        pending.clear()
      })
      socket.on('data', (chunk: string) => {
        buf += chunk
        let nl: number
        while ((nl = buf.indexOf('\n')) >= 0) {
          const msg = JSON.parse(buf.slice(0, nl)) as HostReply & { id?: number; hello?: { pid: number } }
          buf = buf.slice(nl + 1)
          if (msg.hello) {
            conn = { socket, hostPid: msg.hello.pid, pending }
            this.conn = conn
            socket.unref()
            resolve(conn)
            continue
          }
          const waiter = msg.id !== undefined ? pending.get(msg.id) : undefined
          if (!waiter) continue
          pending.delete(msg.id!)
          if (pending.size === 0) socket.unref()
          waiter.resolve(msg)
        }
      })
    })
  }

  /** Starts a host and waits until it listens (or says another one already does). */
  private startHost(): Promise<void> {
    const logFd = fs.openSync(path.join(this.stateDir, 'host.log'), 'a')
    let child
    try {
      // A small young generation: every fork marks the host's memory copy-on-write, so the less
      // of it the host keeps writing to, the cheaper each step start (measured: about a third).
      const args = ['--max-semi-space-size=1', this.hostScript(), this.stateDir, this.socketPath, String(this.idleMs)]
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

class NoHost extends Error {}
