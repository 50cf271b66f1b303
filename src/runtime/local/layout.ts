// What the supervisor is told to run, shared by the bubblewrap and the plain
// layout. Everything here crosses to the supervisor through its stdin pipe, so
// secret content may sit in it; nothing of it is written to a file.

import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

export interface HostFile {
  /** Absolute host path. */
  path: string
  content: string
  mode: number
}

/** Sent as JSON on the supervisor's stdin. Mirrors the JSDoc type in supervisor.mjs. */
export interface SupervisorSpec {
  attemptDir: string
  mode: 'bubblewrap' | 'none'
  command: string
  args: string[]
  /** command is this build's ctl-sandbox: a spawner of the same build runs it in its forked child, without an exec. */
  builtinLauncher?: boolean
  env: Record<string, string>
  cwd?: string
  /** bubblewrap: content for the child's fds 4, 5, ... (`--ro-bind-data`); fd 3 is bwrap's `--info-fd`. */
  fdData: string[]
  /** bubblewrap: the seccomp filter (base64), on the fd after the fdData ones (`--add-seccomp-fd`). */
  seccomp?: string
  /** Files the supervisor writes into a 0700 folder in memory, as the step's user, and removes at exit: a plain step's
      secret files, and the outputs file of any step. */
  shm?: { dir: string; files: HostFile[] }
  /** Paths inside volumes the host checks again, right before it spawns the step (see beneath.ts). */
  beneath?: { root: string; path: string; what: string }[]
  timeoutMs?: number
  graceMs: number
  redact: string[]
  maxLineBytes: number
  /** Bytes of the step's log lines stored at most; past them only its last lines are kept (step-log.mjs). */
  maxLogBytes: number
  /** Host user and group the step (bwrap or the plain process) is spawned as; unset: the host's own. */
  uid?: number
  gid?: number
  /** A cgroup v2 of its own for the step's limits; the host creates it, moves the step in, removes it. */
  cgroup?: { dir: string; files: Record<string, string> }
  /** The host file the step writes its outputs to ($CTL_OUTPUTS), read by the host once the step ended, and its bounds. */
  outputs?: { path: string; maxBytes: number; maxKeys: number; maxKeyLength: number }
}

/** The launch a layout produces, plus the non-secret preparation the runtime does before spawning. */
export interface Layout {
  spec: Omit<SupervisorSpec, 'attemptDir' | 'timeoutMs' | 'graceMs' | 'redact' | 'maxLineBytes' | 'maxLogBytes' | 'outputs'>
  /** Non-secret files (ConfigMap volumes) to write into the attempt folder first. */
  configFiles: HostFile[]
  /** Host folders that must exist first (emptyDir, PVC subPath). */
  dirs: string[]
  /** Host paths the step's host user must reach (bind sources, rewritten paths). */
  sources: string[]
  /** Host folders and files the step writes or reads: given to the step's host user when they lie beneath `root`. */
  owned: { path: string; root: string }[]
  notes: string[]
  /** The host file behind $CTL_OUTPUTS (see outputsPlace). */
  outputsFile?: string
}

/** A new per-attempt folder in memory (`shmBase`, e.g. /dev/shm) that the step host makes as the step's user. */
export function newShmDir(shmBase: string): string {
  return path.join(shmBase, `ctl-${randomHex(9)}`)
}

/**
 * Random bytes from a pool filled 4 KiB at a time, each byte handed out once: as random as a call per name (the same
 * generator), without a call into it per step.
 */
const pool = Buffer.alloc(4096)
let poolAt = pool.length

function randomHex(bytes: number): string {
  if (poolAt + bytes > pool.length) {
    crypto.randomFillSync(pool)
    poolAt = 0
  }
  const hex = pool.toString('hex', poolAt, poolAt + bytes)
  poolAt += bytes
  return hex
}

/**
 * The host file behind $CTL_OUTPUTS. In the attempt's memory folder when there is one: the step host makes it as
 * the step's user, so the step reaches it whatever folder the control plane keeps its data in (a root control
 * plane's private data folder included), and the control plane writes nothing per attempt for it. Else in the
 * attempt folder (made by the control plane, given to the step's user). Read by the step host once the step ended,
 * without following links (see step.mjs).
 */
export function outputsPlace(attemptDir: string, shmDir: string | undefined): { file: string; inShm: boolean } {
  return shmDir ? { file: path.join(shmDir, 'outputs'), inShm: true } : { file: path.join(attemptDir, 'outputs'), inShm: false }
}

export function exists(p: string): boolean {
  try {
    fs.statSync(p)
    return true
  } catch {
    return false
  }
}

/** Programs found executable recently: every step of a wide DAG asks the same few paths. */
const executables = new Map<string, number>()
const EXECUTABLE_TTL_MS = 2000

/** A positive answer is remembered briefly (a negative one never: that step fails and says why). */
export function isExecutable(p: string): boolean {
  const now = Date.now()
  const seen = executables.get(p)
  if (seen !== undefined && now - seen < EXECUTABLE_TTL_MS) return true
  try {
    // No exception for a missing file: most PATH folders lack the program, and a throw costs more than the stat.
    const st = fs.statSync(p, { throwIfNoEntry: false })
    if (!st?.isFile()) return false
    fs.accessSync(p, fs.constants.X_OK)
  } catch {
    return false
  }
  if (executables.size > 1000) executables.clear()
  executables.set(p, now)
  return true
}

/** Host folder for the files of the i-th mount of a ConfigMap / Secret volume. */
export function fileMountDir(base: string, index: number, volume: string): string {
  return path.join(base, `${index}-${volume}`)
}

/**
 * What the step's user owns of a volume mount: the volume's folder (not its content: no tree walk;
 * real, since it is the control plane's and may lie below a link of the machine), the subPath
 * folder `src` in it, and the folders made on the way to it (`made`, by the control plane's user).
 */
export function volumeOwned(hostDir: string, src: string, made: readonly { path: string; root: string }[]): { path: string; root: string }[] {
  const real = realOrSelf(hostDir)
  return [{ path: real, root: path.dirname(real) }, ...(src !== hostDir ? [{ path: src, root: real }] : []), ...made]
}

/** The real path of `p`, or `p` resolved when it does not exist (yet). */
export function realOrSelf(p: string): string {
  try {
    return fs.realpathSync(p)
  } catch {
    return path.resolve(p)
  }
}

/** True when `p` is `base` or below it. */
export function isUnder(p: string, base: string): boolean {
  return p === base || base === '/' || p.startsWith(base + '/')
}
