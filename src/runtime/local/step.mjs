// @ts-check
// One step attempt inside the step host (supervisor.mjs): spawns the step (in a sandbox
// of bwrap or ctl-sandbox, or a plain process group), appends every output line to its log (redacted,
// timestamped, cut at maxLineBytes, the whole log capped at maxLogBytes: see step-log.mjs),
// enforces the deadline, stops it on request (SIGTERM, SIGKILL after the grace period)
// or when its log cannot be written, and finally appends the exit (step-exit.mjs) as the
// log's last record. The control plane only reads the log, so it can die at any time.
//
// Plain JavaScript with JSDoc types on purpose: the host runs as `node supervisor.mjs`
// both from src/ (tests) and from dist/ (the build copies these files), with no compile step.

import fs from 'node:fs'
import { createRedactor } from '../../logs/redact.mjs'
import { spawnChild } from './spawn-client.mjs'
import { addOutputs, exitOf, isSandboxError } from './step-exit.mjs'
import { StepLog } from './step-log.mjs'
import { Splitter, appendExitRecord, childrenOf, inRunFolder, logFileOf, makeCgroupDir, processStart, removeCgroupDir, removeMemoryFiles, writeMemoryFiles } from './step-files.mjs'

/**
 * @typedef {{ path: string, content: string, mode: number }} HostFile
 * @typedef {{
 *   attemptDir: string, mode: 'bubblewrap' | 'none', command: string, args: string[], env: Record<string, string>,
 *   cwd?: string, fdData: string[], seccomp?: string, shm?: { dir: string, files: HostFile[] }, timeoutMs?: number, graceMs: number,
 *   redact: string[], maxLineBytes: number, maxLogBytes?: number, uid?: number, gid?: number,
 *   cgroup?: { dir: string, files: Record<string, string> },
 *   outputs?: { path: string, maxBytes: number, maxKeys: number, maxKeyLength: number }
 * }} SupervisorSpec
 * @typedef {'Completed' | 'Error' | 'DeadlineExceeded' | 'Killed' | 'StartError' | 'Lost'} ExitReason
 * @typedef {{ exitCode: number | null, reason: ExitReason, message?: string, finishedAt: string, outputs?: Record<string, string> }} StepExit
 */

export class Step {
  /**
   * @param {SupervisorSpec} spec
   * @param {(step: Step, exit: StepExit, recorded: boolean) => void} onDone called once, after the exit record was
   * written (recorded), or could not be
   */
  constructor(spec, onDone) {
    this.spec = spec
    this.dir = spec.attemptDir
    this.logFile = logFileOf(spec.attemptDir)
    this.onDone = onDone
    /** @type {((step: Step) => void) | undefined} told after output was appended to the log */
    this.onOutput = undefined
    /** @type {((step: Step, exit: StepExit, end: number | undefined) => void) | undefined} told once the step ended and its
     * lines are in the log, which then holds `end` bytes (undefined: not known, the handle is not written yet) */
    this.onExit = undefined
    /** @type {import('./spawn-client.mjs').Child | undefined} */
    this.child = undefined
    this.spawned = false
    /** @type {number | undefined} pid of the command's session inside bwrap (from --info-fd) */
    this.innerPid = undefined
    /** @type {string | null} start time of innerPid, to tell it apart from a later process with its pid */
    this.innerStart = null
    /** @type {{ reason: ExitReason, message: string } | undefined} */
    this.stopping = undefined
    /** @type {{ code: number | null, signal: NodeJS.Signals | null } | undefined} */
    this.exited = undefined
    /** @type {string | undefined} */
    this.startFailure = undefined
    /** @type {string | undefined} why the step was lost (its spawner died) */
    this.lost = undefined
    /** @type {string | undefined} the message of a log that could not be written (then the step is stopped, and fails) */
    this.logFailure = undefined
    this.finished = false
    this.lineCount = 0
    /** @type {string[]} the sandbox launcher's own setup errors (bwrap's or ctl-sandbox's), which mean the step never started */
    this.sandboxErrors = []
    /** @type {NodeJS.Timeout[]} */
    this.timers = []
    // The control plane always names the cap (its default is log-cap.ts's); a spec without one (a test's) has none.
    this.log = new StepLog(spec.maxLogBytes ?? Infinity, (problem) => {
      this.logFailure = `the step's log could not be written: ${problem}`
      this.stop('Error', this.logFailure)
    })
    /** @type {() => void} */
    this.headed = () => {}
    /** Settles once the host wrote the handle (or knows it will not): the exit record comes after it. */
    this.whenHeaded = new Promise((resolve) => (this.headed = () => resolve(undefined)))
    const line = this.line.bind(this)
    this.out = new Splitter('stdout', line, spec.maxLineBytes)
    this.err = new Splitter('stderr', line, spec.maxLineBytes)
    /** Complete lines only: a value written in two pieces is whole again once its line is. */
    this.redact = createRedactor(spec.redact ?? [])
  }

  /** @param {'stdout' | 'stderr'} stream @param {string} time @param {Buffer} buf @param {boolean} truncated */
  line(stream, time, buf, truncated) {
    let text = buf.toString('utf8')
    if (text.endsWith('\r')) text = text.slice(0, -1)
    this.lineCount++
    if (this.spec.mode === 'bubblewrap' && stream === 'stderr' && isSandboxError(text)) this.sandboxErrors.push(text)
    text = this.redact(text, truncated)
    if (truncated) text += ` [line truncated by ctl at ${this.spec.maxLineBytes} bytes]`
    // Past the log's cap the record goes to the tail kept in memory (redacted once, here, like every line).
    return this.log.keep(JSON.stringify({ t: time, s: stream, x: text }) + '\n', buf.length + 1)
  }

  /** @param {string} out */
  append(out) {
    if (this.log.append(out)) this.onOutput?.(this)
  }

  /**
   * Writes the handle as the log's first record (`{"h":...}`, skipped by log readers), also for a step that
   * could not start (its exit record waits for this), with the output that came before it. Then lets the exit
   * record follow.
   * @param {unknown} handle
   * @returns {number | undefined} the log's size when it holds the handle alone (no output came with it)
   */
  writeHandle(handle) {
    try {
      if (this.log.writeHandle(handle)) this.onOutput?.(this)
      else if (this.log.fd >= 0 && this.log.failure === undefined) return this.log.bytes
      return undefined
    } finally {
      this.headed()
    }
  }

  /**
   * Claims the attempt by creating its log exclusively: whoever creates the log owns the
   * attempt, so it starts at most once (see find.ts). Throws EEXIST when taken.
   * Synchronous: with one file to create per step, the call costs less CPU on this thread than a
   * round trip through the thread pool (its wake-ups, a FileHandle and its close).
   */
  claim() {
    const log = this.logFile
    // In the logs folder, which the runtime made: made again only if it went meanwhile. The log is appended to with
    // writeSync from here on, and read only to make room for the exit record on a full disk (step-log.mjs).
    inRunFolder(log, () => (this.log.fd = fs.openSync(log, 'ax+', 0o600)))
  }

  /**
   * Starts the claimed step. Resolves with the pid of the spawned process (undefined when it could not
   * start: its exit record says why).
   * @returns {Promise<number | undefined>}
   */
  start() {
    const spec = this.spec
    try {
      this.writeShm()
    } catch (e) {
      this.startFailure = `cannot write secret files: ${/** @type {Error} */ (e).message}`
      this.finish()
      return Promise.resolve(undefined)
    }
    try {
      this.makeCgroup()
    } catch (e) {
      this.startFailure = `cannot create the step's cgroup for its limits: ${/** @type {Error} */ (e).message}`
      this.finish()
      return Promise.resolve(undefined)
    }
    /** @type {Array<string | Buffer>} */
    const fds = spec.mode === 'bubblewrap' ? [...spec.fdData] : []
    if (spec.mode === 'bubblewrap' && spec.seccomp) fds.push(Buffer.from(spec.seccomp, 'base64'))
    // As the step's host user when the host is root (uid/gid, supplementary groups dropped); never from a folder it cannot enter.
    const proc = spawnChild({
      command: spec.command,
      args: spec.args,
      env: spec.env,
      cwd: spec.cwd ?? '/',
      uid: spec.uid,
      gid: spec.gid,
      cgroup: spec.cgroup?.dir,
      info: spec.mode === 'bubblewrap',
      builtin: spec.builtinLauncher === true,
      fds,
    })
    this.child = proc
    return new Promise((resolve) => {
      proc.on('error', (e) => {
        if (this.spawned) return
        const code = /** @type {NodeJS.ErrnoException} */ (e).code
        this.startFailure =
          /** @type {{ stage?: string }} */ (e).stage === 'cgroup'
            ? `cannot move the step into its cgroup: ${e.message}` // not in its cgroup: the step must not run without its limits
            : code === 'ENOENT'
              ? spec.command.includes('/')
                ? `exec: "${spec.command}": no such file or directory`
                : `exec: "${spec.command}": executable file not found in $PATH`
              : `cannot start "${spec.command}": ${e.message}`
        this.finish()
        resolve(undefined)
      })
      // The spawner died under the step (see spawn-client.mjs): like a host that died, the step is Lost.
      proc.on('lost', (/** @type {string} */ message) => {
        this.lost = message
        this.signal('SIGKILL')
        this.finish()
        if (!this.spawned) resolve(undefined)
      })
      proc.on('spawn', () => {
        this.spawned = true
        proc.stdout?.on('data', (c) => this.append(this.out.push(c)))
        proc.stderr?.on('data', (c) => this.append(this.err.push(c)))
        this.onSpawn(proc)
        resolve(proc.pid)
      })
      proc.on('exit', (code, signal) => {
        this.exited = { code, signal }
        // Like a container: when the main process ends, whatever it left behind in its group ends too.
        if (spec.mode === 'none' && proc.pid) {
          try {
            process.kill(-proc.pid, 'SIGKILL')
          } catch {}
        }
        // bwrap killed: its sandbox goes too, even when bwrap died before it could tell it to (see signal()). A bwrap
        // that exited by itself did so after its sandbox's init ended, which ends the whole pid namespace: nothing to do.
        if (spec.mode === 'bubblewrap' && code === null) this.killSandbox(proc.pid)
        // A process that escaped the group may hold our pipes open; do not wait for it forever.
        this.timers.push(
          setTimeout(() => {
            proc.stdout?.destroy()
            proc.stderr?.destroy()
            this.finish()
          }, 2000),
        )
      })
      proc.on('close', () => this.finish())
    })
  }

  /** @param {import('./spawn-client.mjs').Child} proc */
  onSpawn(proc) {
    const spec = this.spec
    const info = proc.info
    if (info) {
      let text = ''
      info.setEncoding('utf8')
      info.on('data', (d) => {
        text += d
        try {
          this.innerPid = JSON.parse(text)['child-pid']
        } catch {
          return // incomplete JSON so far
        }
        this.innerStart = this.innerPid ? processStart(this.innerPid) : null
        info.destroy()
        // Stopped before the sandbox was even up: its command has nothing to finish gracefully.
        if (this.stopping) this.signal('SIGKILL')
      })
      info.on('error', () => {})
    }
    if (spec.timeoutMs) {
      const secs = Math.round(spec.timeoutMs / 100) / 10
      // Node fires a delay above 2^31-1 ms (~24.8 days) at once; lint caps timeouts at 7 days, this is the backstop.
      const delay = Math.min(spec.timeoutMs, 2_147_483_647)
      this.timers.push(setTimeout(() => this.stop('DeadlineExceeded', `the step ran longer than its deadline of ${secs}s`), delay))
    }
    if (this.stopping) this.escalate()
  }

  /**
   * Sends a signal to everything the step runs. bwrap --unshare-pid makes its own init pid 1 of
   * the sandbox, which ignores signals it has no handler for, so the signal goes to the inner
   * session (--new-session: init, the command and every descendant that did not leave it).
   * Before bwrap has told the inner pid (--info-fd), a SIGTERM waits for it (onSpawn then ends
   * the sandbox): sent to the outer bwrap alone, it would kill bwrap and orphan a sandbox that is
   * being set up, whose init ignores SIGTERM and may have missed --die-with-parent. SIGKILL ends
   * the sandbox through its pid namespace: killing its init kills everything in it. ctl-sandbox, when it runs the
   * sandbox in bwrap's place, has the same processes and tells the same inner pid: what holds for bwrap here holds for it.
   * @param {NodeJS.Signals} sig
   */
  signal(sig) {
    const pid = this.child?.pid
    if (!pid) return
    if (this.spec.mode !== 'bubblewrap') {
      try {
        process.kill(-pid, sig)
      } catch {}
      return
    }
    if (sig === 'SIGKILL') {
      this.killSandbox(pid)
      try {
        process.kill(-pid, 'SIGKILL')
      } catch {}
    } else if (this.innerPid) {
      try {
        process.kill(-this.innerPid, sig)
      } catch {
        // No such session yet: the sandbox is still being set up, its command not started.
        this.killSandbox(pid)
      }
    }
  }

  /**
   * SIGKILL to the sandbox's init (the inner pid, or whatever the outer bwrap has forked so
   * far, when it has not told yet): the kernel then kills every process of its pid namespace.
   * @param {number | undefined} outerPid
   */
  killSandbox(outerPid) {
    /** @type {number[]} */
    const inits = []
    if (this.innerPid && this.innerStart !== null && processStart(this.innerPid) === this.innerStart) inits.push(this.innerPid)
    if (outerPid) inits.push(...childrenOf(outerPid))
    for (const p of inits) {
      try {
        process.kill(p, 'SIGKILL')
      } catch {}
    }
  }

  escalate() {
    this.signal('SIGTERM')
    this.timers.push(setTimeout(() => this.signal('SIGKILL'), this.spec.graceMs))
  }

  /** @param {ExitReason} reason @param {string} message */
  stop(reason, message) {
    if (this.stopping || this.exited || this.finished) return
    this.stopping = { reason, message }
    if (this.spawned) this.escalate() // else applied right after the spawn
  }

  writeShm() {
    writeMemoryFiles(this.spec)
  }

  makeCgroup() {
    if (this.spec.cgroup) makeCgroupDir(this.spec.cgroup)
  }

  removeCgroup() {
    if (this.spec.cgroup) removeCgroupDir(this.spec.cgroup)
  }

  removeShm() {
    if (this.spec.shm) removeMemoryFiles(this.spec.shm)
  }

  /** The host is failing: kill the step hard and record it as Lost. @param {string} message */
  abandon(message) {
    if (this.finished) return
    this.finished = true
    this.signal('SIGKILL')
    this.removeShm()
    this.removeCgroup()
    const exit = /** @type {StepExit} */ ({ exitCode: null, reason: 'Lost', message, finishedAt: new Date().toISOString() })
    if (this.log.fd >= 0) this.log.writeExit(exit)
    else appendExitRecord(this.logFile, exit)
  }

  finish() {
    if (this.finished) return
    this.finished = true
    for (const t of this.timers) clearTimeout(t)
    this.append(this.out.flush() + this.err.flush())
    // Past the cap: ctl's line on what was dropped, then the last lines; before the exit, so `end` below counts them.
    if (this.log.writeTail()) this.onOutput?.(this)
    const result = exitOf(this)
    if (this.spawned && !this.startFailure && !this.lost && this.spec.outputs) addOutputs(result, this.spec.outputs, (v) => this.redact(v))
    // Sandbox setup errors and start failures may quote the command line, which may hold projected values.
    if (result.message) result.message = this.redact(result.message)
    /** @param {unknown} e */
    const lost = (e) => console.error(`cannot record the exit of ${this.dir} in ${this.logFile}: ${/** @type {Error} */ (e).message}`)
    try {
      this.removeShm() // before the exit record: once the step is reported done, its secret files are gone
    } catch (e) {
      lost(e)
    }
    this.removeCgroup()
    this.onExit?.(this, result, this.log.early === undefined ? this.log.bytes : undefined)
    // The last record, with the fd that wrote every line: an append, no file to create. After the handle, which
    // the host writes once start() returned (a step that could not start finished before that).
    this.whenHeaded.then(() => {
      const recorded = this.log.writeExit(result)
      if (!recorded) lost(new Error(this.log.fd < 0 ? 'the log is not open' : 'the log cannot be written'))
      this.log.close()
      this.onDone(this, result, recorded)
    })
  }
}

