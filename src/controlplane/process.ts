// The control plane as a background process: `ctl server start|stop|status` and the
// CLI's embedded default. `<dataDir>/server.json` says which process serves which URL.
import { spawn } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { CtlError } from '../errors.js'
import { nodeFetch } from '../client/http.js'
import type { ControlPlaneOptions } from './control-plane.js'
import { isPidAlive, processStartTime } from '../liveness.js'


export interface ServerInfoFile {
  pid: number
  port: number
  url: string
  startedAt: string
  /** The process's start time from /proc (see processStartTime): a reused pid is not taken for the server. */
  procStart?: string
  /** What the start had to say (a master key created or moved): for the process that spawned it, which cannot see its output. */
  notices?: string[]
}

export interface ServerStatus {
  running: boolean
  pid?: number
  url?: string
}

export const SERVER_INFO_FILE = 'server.json'
/** The first admin API key, for the local CLI (mode 0600). */
export const ADMIN_KEY_FILE = 'admin.apikey'
export const SERVER_LOG_FILE = 'server.log'

function infoPath(dataDir: string): string {
  return join(dataDir, SERVER_INFO_FILE)
}

export function readServerInfo(dataDir: string): ServerInfoFile | undefined {
  try {
    const value = JSON.parse(readFileSync(infoPath(dataDir), 'utf8')) as Partial<ServerInfoFile>
    if (typeof value.pid === 'number' && typeof value.url === 'string' && typeof value.port === 'number') {
      const info: ServerInfoFile = { pid: value.pid, port: value.port, url: value.url, startedAt: String(value.startedAt ?? '') }
      if (typeof value.procStart === 'string') info.procStart = value.procStart
      if (Array.isArray(value.notices)) info.notices = value.notices.filter((n): n is string => typeof n === 'string')
      return info
    }
  } catch {
    // missing or half-written: not running as far as we can tell
  }
  return undefined
}

/** Whether the process server.json names still runs: not a zombie, not another process that got its pid. */
function infoAlive(info: ServerInfoFile): boolean {
  return isPidAlive(info.pid, info.procStart)
}

async function healthy(url: string, timeoutMs = 1000): Promise<boolean> {
  try {
    const res = await nodeFetch(`${url}/healthz`, { signal: AbortSignal.timeout(timeoutMs) })
    await res.json()
    return res.ok
  } catch {
    return false
  }
}

/** Running means: server.json names a live pid AND its /healthz answers. */
export async function serverStatus(dataDir: string): Promise<ServerStatus> {
  const info = readServerInfo(dataDir)
  if (!info) return { running: false }
  if (!infoAlive(info)) return { running: false, pid: info.pid }
  if (!(await healthy(info.url))) return { running: false, pid: info.pid, url: info.url }
  return { running: true, pid: info.pid, url: info.url }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

function logTail(dataDir: string): string {
  try {
    const text = readFileSync(join(dataDir, SERVER_LOG_FILE), 'utf8')
    return text.split('\n').slice(-15).join('\n').trim()
  } catch {
    return ''
  }
}

export interface SpawnOptions {
  dataDir: string
  port: number
  /** Path of bin/run.js (or any script taking `server start --foreground --data-dir D --port P`). */
  cliEntry: string
  host?: string
  /** Default 10 s. */
  timeoutMs?: number
}

/** Starts the control plane detached (it outlives this process) and waits until /healthz answers. Already running: its URL. */
export async function spawnDetachedServer(opts: SpawnOptions): Promise<{ url: string; pid: number; notices: string[] }> {
  const status = await serverStatus(opts.dataDir)
  if (status.running && status.url && status.pid) return { url: status.url, pid: status.pid, notices: [] }
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 })
  const log = openSync(join(opts.dataDir, SERVER_LOG_FILE), 'a', 0o600)
  const args = [opts.cliEntry, 'server', 'start', '--foreground', '--data-dir', opts.dataDir, '--port', String(opts.port)]
  if (opts.host) args.push('--host', opts.host)
  let exited: number | null | undefined
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log], env: process.env })
  closeSync(log)
  child.on('exit', (code) => {
    exited = code
  })
  child.unref()
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000)
  while (Date.now() < deadline) {
    if (exited !== undefined) break
    const info = readServerInfo(opts.dataDir)
    if (info && info.pid === child.pid && (await healthy(info.url, 500))) return { url: info.url, pid: info.pid, notices: info.notices ?? [] }
    await sleep(50)
  }
  const tail = logTail(opts.dataDir)
  if (exited === undefined && child.pid) {
    try {
      process.kill(child.pid, 'SIGTERM')
    } catch {
      // already gone
    }
  }
  const why = exited !== undefined ? `exited with code ${exited}` : 'did not answer within the time limit'
  throw new CtlError('E_UNAVAILABLE', `the control plane ${why}${tail ? `; last lines of ${join(opts.dataDir, SERVER_LOG_FILE)}:\n${tail}` : ''}`)
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL. Returns whether a server was running. */
export async function stopServer(dataDir: string, graceMs = 10_000): Promise<boolean> {
  const info = readServerInfo(dataDir)
  if (!info || !infoAlive(info)) {
    if (info) rmSync(infoPath(dataDir), { force: true })
    return false
  }
  process.kill(info.pid, 'SIGTERM')
  const deadline = Date.now() + graceMs
  while (Date.now() < deadline && infoAlive(info)) await sleep(50)
  if (infoAlive(info)) {
    process.kill(info.pid, 'SIGKILL')
    while (infoAlive(info)) await sleep(20)
  }
  rmSync(infoPath(dataDir), { force: true })
  return true
}

export interface ForegroundServer {
  url: string
  port: number
  adminToken?: string
  /** Lines for the operator from the start (see ControlPlane.notices). */
  notices: string[]
  replicaId: string
  /** Resolves once the server has shut down (after SIGTERM / SIGINT or stop()). */
  done: Promise<void>
  stop(): Promise<void>
}

/** Runs the control plane in this process: writes server.json, shuts down gracefully on SIGTERM/SIGINT, removes server.json. */
export async function runForeground(opts: ControlPlaneOptions): Promise<ForegroundServer> {
  const current = readServerInfo(opts.dataDir)
  if (current && current.pid !== process.pid && infoAlive(current)) {
    throw new CtlError('E_CONFLICT', `a control plane already runs for ${opts.dataDir} (pid ${current.pid}, ${current.url})`)
  }
  // Loaded here, not at the top: the CLI imports this module for status and
  // spawning on every command, and must not pay for Fastify and the engine.
  const { startControlPlane } = await import('./control-plane.js')
  const plane = await startControlPlane(opts)
  const info: ServerInfoFile = { pid: process.pid, port: plane.port, url: plane.url, startedAt: new Date().toISOString() }
  const procStart = processStartTime(process.pid)
  if (procStart !== undefined) info.procStart = procStart
  if (plane.notices.length > 0) info.notices = plane.notices
  const tmp = `${infoPath(opts.dataDir)}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(info, null, 2) + '\n', { mode: 0o600 })
  renameSync(tmp, infoPath(opts.dataDir))

  let resolveDone!: () => void
  const done = new Promise<void>((r) => (resolveDone = r))
  let stopping: Promise<void> | undefined
  const onSignal = (): void => {
    void stop()
  }
  function stop(): Promise<void> {
    return (stopping ??= (async () => {
      process.off('SIGTERM', onSignal)
      process.off('SIGINT', onSignal)
      try {
        await plane.close()
      } finally {
        const now = readServerInfo(opts.dataDir)
        if (now?.pid === process.pid && existsSync(infoPath(opts.dataDir))) rmSync(infoPath(opts.dataDir), { force: true })
        resolveDone()
      }
    })())
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  const out: ForegroundServer = { url: plane.url, port: plane.port, done, stop, notices: plane.notices, replicaId: plane.replicaId }
  if (plane.adminToken) out.adminToken = plane.adminToken
  return out
}
