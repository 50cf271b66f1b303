// The local runtime: step attempts run under ONE detached step host process per
// state folder (supervisor.mjs, started on demand and reused) that survives the
// control plane. The attempt's log <stateDir>/.logs/<runId>+<step>.<attempt>.ndjson (its
// handle, its lines, its exit) is the only link between the two, so a new runtime
// instance after a restart can follow, kill and clean up any step; requests (start,
// kill) go over the host's unix socket. The attempt folder <stateDir>/<runId>/<step>.<attempt>/
// (and with it the run folder) exists only for a step with config files or folders to mount.

import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { CtlError } from '../../errors.js'
import type { Runtime, RuntimeHandle, StepExit, StepKey, StepLaunch } from '../types.js'
import { checkPathsInVolumes, makeLayoutDir, type MadeFolder, type PathCheck } from './beneath.js'
import { bubblewrapLayout } from './bwrap.js'
import { enforce } from './limits.js'
import { chooseSandbox, type SandboxOptions } from './sandbox.js'
import { packageRoot } from '../../package-root.js'
import {
  KILL_FILE,
  LOG_FILE,
  attemptLog,
  besideLogOf,
  createExclusive,
  exitRecord,
  groupAlive,
  handleData,
  isAlive,
  logFileOf,
  makeLogsFolder,
  mkdirExclusive,
  readExit,
  readHandle,
  writeAtomic,
  writeExitOnce,
  type LocalHandleData,
} from './files.js'
import { attemptFinder } from './find.js'
import { followLog } from './follow.js'
import { DEFAULT_MAX_LOG_BYTES, maxLogBytesProblem } from './log-cap.js'
import { HostClient } from './host-client.js'
import { hostSocketPath } from './host-start.js'
import { isUnder, type Layout, type SupervisorSpec } from './layout.js'
import { createRedactor, redactionForms } from '../../logs/redact.mjs'
import { plainLayout } from './plain.js'
import { outputLimits } from '../outputs.js'
import { StartProblem, planStep } from './pod.js'
import { AttemptDirRemover, removeRefusedAttemptDir, usesRunFolder } from './remove.js'

export type { LocalHandleData } from './files.js'
export { shownToSteps } from './bwrap.js'

export interface LocalRuntimeOptions extends SandboxOptions {
  /** Folder for the attempts' logs (handle, lines, exit) and the folders of those with config files. Created if missing. */
  stateDir: string
  /** Longest log line kept, in bytes; longer lines are cut with a marker. Default 1 MiB. */
  maxLineBytes?: number
  /**
   * Bytes of an attempt's log lines stored at most (see step-log.mjs): past them the step runs on, its output's middle
   * is dropped and its last lines are kept. Default 64 MiB; from 64 KiB to 1 TiB.
   */
  maxLogBytes?: number
  /** The step host exits after this long without steps and connections. Default 2 s. */
  hostIdleMs?: number
}

/** Attempts followed to their exit and not cleaned up yet, remembered at most (see followedToExit). */
const MAX_FOLLOWED_KEPT = 4096
// Redaction has one owner, src/logs/redact.mjs; the step host imports it from there (ctl's own folder is
// bound read-only into the sandbox, see bwrap.ts), so it must sit at that place beside this folder.
const HOST_FILES = ['supervisor.mjs', 'step.mjs', 'step-log.mjs', 'step-files.mjs', '../../logs/redact.mjs', 'outputs.mjs', 'spawn-client.mjs', 'host-socket.mjs', 'step-exit.mjs']
const DEFAULT_MAX_LINE = 1 << 20
const SAFE_COMPONENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

/**
 * The step host (supervisor.mjs, which imports step.mjs) sits next to this module in src/
 * (vitest runs the sources). After `tsc` the build must copy both next to
 * dist/src/runtime/local/index.js; as a fallback for a build that did not, the source copies
 * are found from the package root.
 */
export function supervisorPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url))
  const candidates = [here]
  for (let dir = here; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) {
      candidates.push(path.join(dir, 'src', 'runtime', 'local'))
      break
    }
  }
  const found = candidates.find((c) => HOST_FILES.every((f) => fs.existsSync(path.join(c, f))))
  if (!found) throw new CtlError('E_INTERNAL', `the local runtime's step host (${HOST_FILES.join(', ')}) is missing (looked in ${candidates.join(', ')})`)
  return path.join(found, HOST_FILES[0]!)
}

/**
 * The PATH a step gets when its Pod sets none: the host's, plus this ctl's own
 * `bin/` (so the `ctl` stack finds `ctl`) and the folder of this node binary
 * (so `ctl` and `node` scripts run even when node is not on the host PATH).
 */
function hostPath(): string {
  const base = (process.env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':')
  const extra = [path.join(packageRoot(), 'bin'), path.dirname(process.execPath)]
  return [...base, ...extra.filter((dir) => !base.includes(dir))].join(':')
}


export function createLocalRuntime(opts: LocalRuntimeOptions): Runtime {
  const stateDir = path.resolve(opts.stateDir)
  fs.mkdirSync(stateDir, { recursive: true })
  makeLogsFolder(stateDir)
  const maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE
  const maxLogBytes = opts.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES
  const logCapProblem = maxLogBytesProblem(maxLogBytes)
  if (logCapProblem) throw new CtlError('E_USAGE', `the local runtime's ${logCapProblem}`)
  const { bwrapPath, sandboxCommand, builtinLauncher, whyNoSandbox, allowUnsandboxed, trustedOwner, problem: sandboxProblem, stepUser, access, host: sandboxHost, limits: limitSupport, info } = chooseSandbox(opts, stateDir)
  // Each plain step's own record of what isolation it got (runtime get --node shows it).
  const plainNote = `plain process, no sandbox (bubblewrap ${whyNoSandbox}): it sees the host's files as ${stepUser ? `host uid ${stepUser.uid}` : "the control plane's user"} and the host's network`
  // The same for every step of this runtime.
  const identity = stepUser ? [`runs as host uid ${stepUser.uid}, gid ${stepUser.gid} (the control plane runs as root)`] : []
  const isolation = bwrapPath ? [] : [plainNote]
  // Computed once: it walks up the folders to find the package root.
  const stepPath = hostPath()
  const host = new HostClient(stateDir, hostSocketPath(stateDir), supervisorPath, opts.hostIdleMs ?? 2000)
  const shmBase = fs.existsSync('/dev/shm') ? '/dev/shm' : process.env.XDG_RUNTIME_DIR || undefined
  function attemptDirOf(key: StepKey): string {
    const { runId, step, attempt } = key
    for (const part of [runId, step]) {
      if (!SAFE_COMPONENT.test(part)) throw new CtlError('E_INTERNAL', `unsafe run id or step name for a folder: ${JSON.stringify(part)}`)
    }
    if (!Number.isInteger(attempt) || attempt < 0) throw new CtlError('E_INTERNAL', `bad attempt number ${attempt}`)
    // Flat below the run (not <step>/<attempt>): one folder less to create and remove per step.
    return path.join(stateDir, runId, `${step}.${attempt}`)
  }

  const removals = new AttemptDirRemover()
  /**
   * Logs this runtime followed to their exit, until their cleanup: an exit never goes away, so cleanup need not read
   * it again (the usual order: the engine follows a step to its end, then cleans up). Bounded: an attempt cleaned up
   * elsewhere (another replica) leaves its entry here until it is pushed out.
   */
  const followedToExit = new Set<string>()

  function handleOf(key: StepKey, data: LocalHandleData): RuntimeHandle {
    return { runtime: 'local', id: `${key.runId}/${key.step}/${key.attempt}`, data: { ...data } }
  }

  /** Creates the attempt folder; EEXIST (the attempt was started before) becomes E_CONFLICT. */
  function makeAttemptDir(key: StepKey, attemptDir: string): void {
    try {
      mkdirExclusive(attemptDir)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw conflict(key, attemptDir)
      throw e
    }
  }

  async function start(launch: StepLaunch): Promise<RuntimeHandle> {
    const attemptDir = attemptDirOf(launch.key)
    // Claimed where a host of the last version claimed it (beside the attempt folder, in the run folder): started.
    if (fs.existsSync(besideLogOf(attemptDir))) throw conflict(launch.key, attemptDir)
    const base: LocalHandleData = {
      attemptDir,
      // Set by the host that writes the log: a host of an older version, still running after an upgrade (it stays
      // while it has steps or connections), leaves it as it is, and says so (logBeside) when it writes the log beside
      // the folder; otherwise its log is inside the folder, as it writes it.
      logAt: 'inside',
      folder: false,
      mode: bwrapPath ? 'bubblewrap' : 'none',
      host: true,
      supervisorPid: null,
      supervisorStart: null,
      stepPid: null,
      shmDir: null,
      image: launch.pod.spec?.containers?.[0]?.image ?? null,
      notes: [],
    }
    let layout: Layout
    let plan
    let beneath: PathCheck[] = []
    try {
      if (sandboxProblem) throw new StartProblem(sandboxProblem)
      const stranger = launch.owners?.find((o) => o !== trustedOwner)
      if (!bwrapPath && !allowUnsandboxed && stranger !== undefined) {
        throw new StartProblem(
          `bubblewrap is ${whyNoSandbox} and the workflow belongs to or was applied by "${stranger}": only ${trustedOwner ? `"${trustedOwner}"` : "the control plane's own user"}'s steps run without a sandbox; install bubblewrap (bwrap), or start the control plane with --allow-unsandboxed to run everyone's steps as plain processes`,
        )
      }
      plan = planStep(launch, stepPath, (name) => path.join(attemptDir, 'empty', name))
      layout = sandboxHost && sandboxCommand ? bubblewrapLayout(plan, attemptDir, sandboxCommand, sandboxHost, shmBase, builtinLauncher) : plainLayout(plan, attemptDir, { whyNoSandbox, shmBase })
      // Files to put in the attempt folder: create it here. Otherwise there is none, nor a run folder (the host creates
      // the log in the logs folder as it claims the attempt); either way the claim of the log makes every start
      // exclusive.
      if (layout.dirs.some((d) => isUnder(d, attemptDir)) || layout.configFiles.length > 0) {
        makeAttemptDir(launch.key, attemptDir)
        base.folder = true
      }
      const madeInVolumes: MadeFolder[] = []
      if (bwrapPath) beneath = checkPathsInVolumes(plan, madeInVolumes)
      const made: string[] = []
      for (const d of layout.dirs) {
        const first = makeLayoutDir(d, attemptDir)
        if (first) for (let p = d; isUnder(p, first); p = path.dirname(p)) made.push(p)
      }
      for (const f of layout.configFiles) {
        const first = fs.mkdirSync(path.dirname(f.path), { recursive: true })
        if (first) for (let p = path.dirname(f.path); isUnder(p, first); p = path.dirname(p)) made.push(p)
        fs.writeFileSync(f.path, f.content, { mode: f.mode & 0o777 })
      }
      if (access) {
        // The step's user owns what it writes and what was made for it (its modes may be 0600), and can reach every source.
        for (const o of layout.owned) access.own(o.path, o.root)
        for (const p of made) {
          // A folder made for a mount: in the attempt folder, or in a volume between its folder and the subPath.
          const within = isUnder(p, attemptDir) ? attemptDir : layout.owned.find((o) => isUnder(o.path, p) && isUnder(p, o.root))?.root
          if (within && p !== within) access.own(p, within)
        }
        for (const f of layout.configFiles) access.own(f.path, attemptDir)
        // Mount points and working folders made inside volumes: the step writes there.
        for (const m of madeInVolumes) access.own(m.path, m.root)
        for (const src of layout.sources) access.reach(src, 'volume')
      }
    } catch (e) {
      if (!(e instanceof StartProblem)) throw e
      // The message may quote a command line with projected values: redacted like the log.
      const message = createRedactor(redactionForms(Object.values(launch.secretData), launch.redact))(e.message)
      const handle = handleOf(launch.key, { ...base, logAt: 'logs' })
      const exit: StepExit = { exitCode: null, reason: 'StartError', message, finishedAt: new Date().toISOString() }
      // The log as a host leaves it, handle and exit in one exclusive create: the claim of the attempt, as a host's.
      try {
        createExclusive(logFileOf(attemptDir), JSON.stringify({ h: handle }) + '\n' + exitRecord(exit))
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
          if (base.folder) removeRefusedAttemptDir(attemptDir)
          throw conflict(launch.key, attemptDir)
        }
        throw err
      }
      if (usesRunFolder(handleData(handle))) removals.started(attemptDir)
      return handle
    }
    const limits = enforce(plan.limits, limitSupport, `ctl-${launch.key.runId}-${launch.key.step}.${launch.key.attempt}`)
    // Wrapped (prlimit): the command is the wrapper, which execs the launcher; never run in the spawner's child then.
    const command = limits.wrap.length > 0 ? { command: limits.wrap[0]!, args: [...limits.wrap.slice(1), layout.spec.command, ...layout.spec.args], builtinLauncher: false } : {}
    const spec: SupervisorSpec = {
      ...layout.spec,
      ...command,
      ...stepUser,
      cgroup: limits.cgroup,
      attemptDir,
      ...(beneath.length > 0 ? { beneath } : {}),
      timeoutMs: plan.timeoutSeconds ? plan.timeoutSeconds * 1000 : undefined,
      graceMs: plan.graceSeconds * 1000,
      redact: redactionForms(plan.secretValues, launch.redact),
      maxLineBytes,
      maxLogBytes,
      ...(layout.outputsFile ? { outputs: { path: layout.outputsFile, ...outputLimits() } } : {}),
    }
    const data: LocalHandleData = { ...base, shmDir: layout.spec.shm?.dir ?? null, notes: [...isolation, ...layout.notes, ...identity, ...limits.notes] }
    // The host fills in its own pid and the step's, and records the handle in the log before it answers.
    const reply = await host.request({ op: 'start', spec, handle: handleOf(launch.key, data) }, { spawn: true })
    if (reply?.ok && isHandle(reply.handle)) {
      // A host of the last version put the log in the run folder, even for a step without a folder.
      if (usesRunFolder(handleData(reply.handle))) removals.started(attemptDir)
      return reply.handle
    }
    if (reply?.error === 'conflict') {
      // Claimed by find() meanwhile (which makes no attempt folder): the folder made here for this start is nobody's.
      if (base.folder) removeRefusedAttemptDir(attemptDir)
      throw conflict(launch.key, attemptDir)
    }
    throw new CtlError('E_INTERNAL', `the step host did not start ${launch.key.runId}/${launch.key.step}/${launch.key.attempt}: ${reply?.error ?? 'no answer'}`)
  }

  function conflict(key: StepKey, attemptDir: string): CtlError {
    // details.handle lets an engine that crashed between start() and storing the handle reattach.
    const handle = readHandle(logFileOf(attemptDir)) ?? readHandle(besideLogOf(attemptDir)) ?? readHandle(path.join(attemptDir, LOG_FILE))
    return new CtlError('E_CONFLICT', `step attempt ${key.runId}/${key.step}/${key.attempt} was already started`, handle ? { handle } : undefined)
  }

  async function kill(handle: RuntimeHandle, reason?: string): Promise<void> {
    const d = handleData(handle)
    const log = attemptLog(d)
    const message = reason ?? 'killed on request'
    if (readExit(log)) return
    if (d.host) {
      // The host answers once the step has ended and its exit is recorded; watched: a host that hangs fails it.
      const reply = await host.request({ op: 'kill', dir: d.attemptDir, reason: message }, { spawn: false, watch: true }).catch(() => undefined)
      if (reply?.known || readExit(log)) return
      // No answer, but the host that started the step may still run (hung, stopped): it could append the step's
      // output and its own exit after ours, and readers take the exit that ends the log. Ended first, like every
      // host before a plane-side exit; its spawner and sandboxes die with it (their other steps end Lost).
      if (!reply && d.supervisorPid !== null && d.supervisorStart !== null) await endProcess(d.supervisorPid, d.supervisorStart)
    } else if (d.supervisorPid !== null && isAlive(d.supervisorPid, d.supervisorStart)) {
      // A step of an older control plane: one supervisor process per step, killed through a file and SIGTERM.
      writeAtomic(path.join(d.attemptDir, KILL_FILE), JSON.stringify({ reason: message }))
      try {
        process.kill(d.supervisorPid, 'SIGTERM')
      } catch {}
      while (!readExit(log) && isAlive(d.supervisorPid, d.supervisorStart)) await sleep(50)
      if (readExit(log)) return
    }
    // Nobody supervises the step any more: end what is left of it ourselves.
    if (d.stepPid !== null && groupAlive(d.stepPid)) {
      try {
        process.kill(-d.stepPid, 'SIGKILL')
      } catch {}
    }
    writeExitOnce(log, { exitCode: null, reason: 'Killed', message, finishedAt: new Date().toISOString() })
  }

  const { find, forget } = attemptFinder({ attemptDirOf, handleOf, mode: bwrapPath ? 'bubblewrap' : 'none', removals })

  return {
    info: () => ({ ...info }),
    start,
    find,
    forget,
    follow(handle, fromOffset, onLogs, signal): Promise<StepExit> {
      const d = handleData(handle)
      const log = attemptLog(d)
      const exit = followLog({
        logFile: log,
        fromOffset,
        onLogs,
        signal,
        isRunning: () => d.supervisorPid !== null && isAlive(d.supervisorPid, d.supervisorStart),
        subscribe: d.host ? (onChange) => host.subscribe(d.attemptDir, { pid: d.supervisorPid, start: d.supervisorStart }, onChange) : undefined,
        onLost: () => {
          // Without its supervisor a plain step would run on unwatched; stop it so a retry never runs beside it.
          if (d.mode === 'none' && d.stepPid !== null && groupAlive(d.stepPid)) {
            try {
              process.kill(-d.stepPid, 'SIGKILL')
            } catch {}
          }
          if (d.shmDir) fs.rmSync(d.shmDir, { recursive: true, force: true })
          return writeExitOnce(log, {
            exitCode: null,
            reason: 'Lost',
            message: "the step's supervisor is gone without an exit status (machine restarted or supervisor killed)",
            finishedAt: new Date().toISOString(),
          })
        },
      })
      return exit.then(
        (e) => {
          followedToExit.add(log)
          if (followedToExit.size > MAX_FOLLOWED_KEPT) followedToExit.delete(followedToExit.values().next().value!)
          return e
        },
        (err: unknown) => {
          // Let go (the engine detached: another replica, or the next plane, follows and cleans it up).
          removals.released(d.attemptDir)
          throw err
        },
      )
    },
    kill,
    async cleanup(handle) {
      const d = handleData(handle)
      // Usually the engine followed the step to its end: its exit is recorded, and nothing runs.
      const ended = followedToExit.delete(attemptLog(d))
      if (!ended && d.supervisorPid !== null && !readExit(attemptLog(d)) && isAlive(d.supervisorPid, d.supervisorStart)) {
        await kill(handle, 'cleaned up')
      }
      // With the other attempts that ended in this turn of the event loop, the empty run folder after them.
      await removals.add(d)
      // The host removes it as the step ends; a host that died may have left it. Looked at first: a check on this
      // thread costs less than a trip through the thread pool for a folder that is almost never there.
      if (d.shmDir && fs.existsSync(d.shmDir)) await fs.promises.rm(d.shmDir, { recursive: true, force: true })
    },
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** SIGKILL to `pid` while it is the process that started at `start`; resolves once it is gone (a zombie writes nothing). */
async function endProcess(pid: number, start: string): Promise<void> {
  while (isAlive(pid, start)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e
    }
    await sleep(20)
  }
}

function isHandle(v: unknown): v is RuntimeHandle {
  if (typeof v !== 'object' || v === null) return false
  const h = v as Record<string, unknown>
  return h.runtime === 'local' && typeof h.id === 'string' && typeof h.data === 'object' && h.data !== null
}

