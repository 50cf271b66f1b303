// Where the step host of a state folder listens, and starting one: a detached process in its own session
// with an empty environment, which survives the control plane (supervisor.mjs; host-client.ts connects to it).

import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { CtlError } from '../../errors.js'
import { packageRoot } from '../../package-root.js'

/** How long a host may stay silent: to start, to complete a handshake, to show it lives while a watched reply is awaited. */
export const START_TIMEOUT_MS = 15_000
/** A unix socket path must fit in sun_path (108 bytes with the NUL). */
const MAX_SOCKET_PATH = 100

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

/**
 * Starts the host of `stateDir` (detached, own session, empty environment) and waits until it listens (or says
 * another one already does). Its token must exist already: the host reads it once, at start.
 */
export function startHost(stateDir: string, socketPath: string, hostScript: () => string, idleMs: number): Promise<void> {
  const logFd = fs.openSync(path.join(stateDir, 'host.log'), 'a')
  let child
  try {
    // A small young generation: every fork marks the host's memory copy-on-write, so the less
    // of it the host keeps writing to, the cheaper each step start (measured: about a third).
    const args = ['--max-semi-space-size=1', hostScript(), stateDir, socketPath, String(idleMs), spawnerPath()]
    child = spawn(process.execPath, args, {
      detached: true, // own session: survives the control plane and its terminal
      cwd: stateDir,
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
