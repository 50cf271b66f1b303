// The local runtime: each step attempt runs under its own detached supervisor
// process (supervisor.mjs) that survives the control plane. The attempt folder
// <stateDir>/<runId>/<step>/<attempt>/ is the only link between the two, so a
// new runtime instance after a restart can follow, kill and clean up any step.

import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { CtlError } from '../../errors.js'
import type { Runtime, RuntimeHandle, RuntimeInfo, StepExit, StepLaunch } from '../types.js'
import { bubblewrapLayout } from './bwrap.js'
import {
  HANDLE_FILE,
  KILL_FILE,
  groupAlive,
  handleData,
  isAlive,
  processStart,
  readExit,
  writeAtomic,
  writeExitOnce,
  type LocalHandleData,
} from './files.js'
import { followLog } from './follow.js'
import { redactionList, type Layout, type SupervisorSpec } from './layout.js'
import { plainLayout } from './plain.js'
import { StartProblem, planStep } from './pod.js'

export type { LocalHandleData } from './files.js'

export interface LocalRuntimeOptions {
  /** Folder for attempt folders (logs, exit status, config files). Created if missing. */
  stateDir: string
  /** 'auto' (default): bubblewrap when it is installed and works, else plain processes. */
  sandbox?: 'auto' | 'bubblewrap' | 'none'
  /** Default: `bwrap` found on the PATH. */
  bwrapPath?: string
  /** Longest log line kept, in bytes; longer lines are cut with a marker. Default 1 MiB. */
  maxLineBytes?: number
}

const START_TIMEOUT_MS = 15_000
const DEFAULT_MAX_LINE = 1 << 20
const SAFE_COMPONENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

/**
 * supervisor.mjs sits next to this module in src/ (vitest runs the sources). After `tsc` the
 * build must copy it next to dist/src/runtime/local/index.js; as a fallback for a build that did
 * not, the source copy is found from the package root.
 */
export function supervisorPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url))
  const candidates = [path.join(here, 'supervisor.mjs')]
  for (let dir = here; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) {
      candidates.push(path.join(dir, 'src', 'runtime', 'local', 'supervisor.mjs'))
      break
    }
  }
  const found = candidates.find((c) => fs.existsSync(c))
  if (!found) throw new CtlError('E_INTERNAL', `the local runtime's supervisor.mjs is missing (looked at ${candidates.join(', ')})`)
  return found
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    if (!dir) continue
    const p = path.join(dir, name)
    try {
      fs.accessSync(p, fs.constants.X_OK)
      return p
    } catch {}
  }
  return undefined
}

/** bwrap may be installed yet unusable (no user namespaces for this user); one tiny sandbox tells. */
function probeBwrap(bwrapPath: string): string | undefined {
  const r = spawnSync(bwrapPath, ['--ro-bind', '/', '/', '--unshare-pid', '--', 'true'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 5000 })
  if (r.status === 0) return undefined
  return (r.stderr?.toString().trim() || r.error?.message || `exit ${r.status}`).split('\n')[0]
}

function hostPath(): string {
  return process.env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
}

export function createLocalRuntime(opts: LocalRuntimeOptions): Runtime {
  const stateDir = path.resolve(opts.stateDir)
  fs.mkdirSync(stateDir, { recursive: true })
  const wanted = opts.sandbox ?? 'auto'
  const maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE
  let bwrapPath: string | undefined
  let whyNoSandbox = 'disabled (sandbox: none)'
  if (wanted !== 'none') {
    bwrapPath = opts.bwrapPath ?? findOnPath('bwrap')
    const problem = bwrapPath ? probeBwrap(bwrapPath) : 'not installed'
    if (problem) {
      if (wanted === 'bubblewrap') throw new CtlError('E_UNAVAILABLE', `bubblewrap is required but ${bwrapPath ? `does not work: ${problem}` : 'not installed'}`)
      whyNoSandbox = bwrapPath ? `not usable here: ${problem}` : 'not installed'
      bwrapPath = undefined
    }
  }
  const shmBase = fs.existsSync('/dev/shm') ? '/dev/shm' : process.env.XDG_RUNTIME_DIR || undefined
  const info: RuntimeInfo = bwrapPath
    ? { name: 'local', sandbox: 'bubblewrap', detail: `bubblewrap (${bwrapPath}): read-only host, private /tmp, pid/ipc/uts namespaces; images are not used` }
    : {
        name: 'local',
        sandbox: 'none',
        detail: `plain processes, bubblewrap ${whyNoSandbox}: no isolation, runAsUser ignored, volumes only where they need no mount; images are not used`,
      }

  function attemptDirOf(launch: StepLaunch): string {
    const { runId, step, attempt } = launch.key
    for (const part of [runId, step]) {
      if (!SAFE_COMPONENT.test(part)) throw new CtlError('E_INTERNAL', `unsafe run id or step name for a folder: ${JSON.stringify(part)}`)
    }
    if (!Number.isInteger(attempt) || attempt < 0) throw new CtlError('E_INTERNAL', `bad attempt number ${attempt}`)
    return path.join(stateDir, runId, step, String(attempt))
  }

  function makeHandle(launch: StepLaunch, data: LocalHandleData): RuntimeHandle {
    const { runId, step, attempt } = launch.key
    const handle: RuntimeHandle = { runtime: 'local', id: `${runId}/${step}/${attempt}`, data: { ...data } }
    writeAtomic(path.join(data.attemptDir, HANDLE_FILE), JSON.stringify(handle))
    return handle
  }

  async function start(launch: StepLaunch): Promise<RuntimeHandle> {
    const attemptDir = attemptDirOf(launch)
    fs.mkdirSync(path.dirname(attemptDir), { recursive: true })
    try {
      fs.mkdirSync(attemptDir, { mode: 0o700 }) // exclusive: the same attempt never starts twice
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        // details.handle lets an engine that crashed between start() and storing the handle reattach.
        let handle: unknown
        try {
          handle = JSON.parse(fs.readFileSync(path.join(attemptDir, HANDLE_FILE), 'utf8'))
        } catch {}
        throw new CtlError('E_CONFLICT', `step attempt ${launch.key.runId}/${launch.key.step}/${launch.key.attempt} was already started`, handle ? { handle } : undefined)
      }
      throw e
    }
    const base: LocalHandleData = {
      attemptDir,
      mode: bwrapPath ? 'bubblewrap' : 'none',
      supervisorPid: null,
      supervisorStart: null,
      stepPid: null,
      shmDir: null,
      image: launch.pod.spec?.containers?.[0]?.image ?? null,
      notes: [],
    }
    let layout: Layout
    let plan
    try {
      plan = planStep(launch, hostPath(), (name) => path.join(attemptDir, 'empty', name))
      layout = bwrapPath ? bubblewrapLayout(plan, attemptDir, bwrapPath) : plainLayout(plan, attemptDir, { whyNoSandbox, shmBase })
      for (const d of layout.dirs) fs.mkdirSync(d, { recursive: true })
      for (const f of layout.configFiles) {
        fs.mkdirSync(path.dirname(f.path), { recursive: true })
        fs.writeFileSync(f.path, f.content, { mode: f.mode & 0o777 })
      }
    } catch (e) {
      if (!(e instanceof StartProblem)) throw e
      writeExitOnce(attemptDir, { exitCode: null, reason: 'StartError', message: e.message, finishedAt: new Date().toISOString() })
      return makeHandle(launch, base)
    }
    const spec: SupervisorSpec = {
      ...layout.spec,
      attemptDir,
      timeoutMs: plan.timeoutSeconds ? plan.timeoutSeconds * 1000 : undefined,
      graceMs: plan.graceSeconds * 1000,
      redact: redactionList(plan.secretValues),
      maxLineBytes,
    }
    const data: LocalHandleData = { ...base, shmDir: layout.spec.shm?.dir ?? null, notes: layout.notes }
    const confirmed = await spawnSupervisor(spec)
    data.supervisorPid = confirmed.supervisorPid
    data.supervisorStart = processStart(confirmed.supervisorPid)
    data.stepPid = confirmed.stepPid
    return makeHandle(launch, data)
  }

  async function kill(handle: RuntimeHandle, reason?: string): Promise<void> {
    const d = handleData(handle)
    if (readExit(d.attemptDir)) return
    if (d.supervisorPid !== null && isAlive(d.supervisorPid, d.supervisorStart)) {
      writeAtomic(path.join(d.attemptDir, KILL_FILE), JSON.stringify({ reason: reason ?? 'killed on request' }))
      try {
        process.kill(d.supervisorPid, 'SIGTERM')
      } catch {}
      // The supervisor escalates to SIGKILL after the grace period and then writes exit.json.
      while (!readExit(d.attemptDir) && isAlive(d.supervisorPid, d.supervisorStart)) await sleep(50)
      if (readExit(d.attemptDir)) return
    }
    if (d.stepPid !== null && groupAlive(d.stepPid)) {
      try {
        process.kill(-d.stepPid, 'SIGKILL')
      } catch {}
    }
    writeExitOnce(d.attemptDir, { exitCode: null, reason: 'Killed', message: reason ?? 'killed on request', finishedAt: new Date().toISOString() })
  }

  return {
    info: () => ({ ...info }),
    start,
    follow(handle, fromOffset, onLogs, signal): Promise<StepExit> {
      const d = handleData(handle)
      return followLog({
        attemptDir: d.attemptDir,
        fromOffset,
        onLogs,
        signal,
        isRunning: () => d.supervisorPid !== null && isAlive(d.supervisorPid, d.supervisorStart),
        onLost: () => {
          // Without its supervisor a plain step would run on unwatched; stop it so a retry never runs beside it.
          if (d.mode === 'none' && d.stepPid !== null && groupAlive(d.stepPid)) {
            try {
              process.kill(-d.stepPid, 'SIGKILL')
            } catch {}
          }
          if (d.shmDir) fs.rmSync(d.shmDir, { recursive: true, force: true })
          return writeExitOnce(d.attemptDir, {
            exitCode: null,
            reason: 'Lost',
            message: "the step's supervisor is gone without an exit status (machine restarted or supervisor killed)",
            finishedAt: new Date().toISOString(),
          })
        },
      })
    },
    kill,
    async cleanup(handle) {
      const d = handleData(handle)
      if (!readExit(d.attemptDir) && d.supervisorPid !== null && isAlive(d.supervisorPid, d.supervisorStart)) await kill(handle, 'cleaned up')
      fs.rmSync(d.attemptDir, { recursive: true, force: true })
      if (d.shmDir) fs.rmSync(d.shmDir, { recursive: true, force: true })
      // Drop the step and run folders once empty; another attempt may still use them.
      for (const dir of [path.dirname(d.attemptDir), path.dirname(path.dirname(d.attemptDir))]) {
        try {
          fs.rmdirSync(dir)
        } catch {
          break
        }
      }
    },
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Starts the detached supervisor, hands it the spec through its stdin and waits for its one-line confirmation on fd 3. */
function spawnSupervisor(spec: SupervisorSpec): Promise<{ supervisorPid: number; stepPid: number | null }> {
  const logFd = fs.openSync(path.join(spec.attemptDir, 'supervisor.log'), 'a')
  let child
  try {
    child = spawn(process.execPath, [supervisorPath()], {
      detached: true, // own session: survives the control plane and its terminal
      cwd: spec.attemptDir,
      env: {}, // nothing of the control plane's environment (API keys) reaches the supervisor
      stdio: ['pipe', logFd, logFd, 'pipe'],
    })
  } finally {
    fs.closeSync(logFd)
  }
  const proc = child
  return new Promise((resolve, reject) => {
    let text = ''
    const confirm = proc.stdio[3] as NodeJS.ReadableStream & { destroy(): void }
    const finish = (err?: Error) => {
      clearTimeout(timer)
      confirm.destroy()
      proc.stdin?.destroy()
      proc.unref()
      if (err) reject(err)
      else resolve({ supervisorPid: proc.pid!, stepPid: parsed?.pid ?? null })
    }
    let parsed: { ok?: boolean; pid?: number } | undefined
    const timer = setTimeout(() => finish(new CtlError('E_INTERNAL', 'the step supervisor did not confirm the start in time')), START_TIMEOUT_MS)
    proc.on('error', (e) => finish(new CtlError('E_INTERNAL', `cannot start the step supervisor: ${e.message}`)))
    confirm.setEncoding('utf8')
    confirm.on('data', (d: string) => {
      text += d
      const nl = text.indexOf('\n')
      if (nl < 0) return
      parsed = JSON.parse(text.slice(0, nl)) as { ok?: boolean; pid?: number }
      finish() // a failed start is in exit.json already; follow reports it
    })
    // Closed without a word: the supervisor died early; follow will find exit.json or report Lost.
    confirm.on('end', () => finish())
    proc.stdin!.on('error', () => {})
    proc.stdin!.end(JSON.stringify(spec))
  })
}
