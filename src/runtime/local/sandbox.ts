// Which sandbox the local runtime's steps get, decided once per runtime: bubblewrap when it is
// installed and works for the user the steps run as, else plain processes; under a root control
// plane that user is never root (stepUid / stepGid), and a bubblewrap that cannot run as it fails
// every step closed rather than falling back. Also what runs the bubblewrap layout: ctl's own launcher
// ctl-sandbox (sandbox-launcher.c: bubblewrap's options, the subset the layout uses, with their semantics, at
// less than half of bwrap's cost per sandbox) when it is built and works as the step user, else bwrap, the
// reference. And what the machine offers for limits.

import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { CtlError } from '../../errors.js'
import { ctlHome as defaultCtlHome } from '../../home.js'
import { packageRoot } from '../../package-root.js'
import type { RuntimeInfo } from '../types.js'
import { describeSandboxHost, type SandboxHost } from './bwrap.js'
import { HostAccess, type StepUser } from './identity.js'
import { detectLimitSupport, type LimitSupport } from './limits.js'

export interface SandboxOptions {
  /** 'auto' (default): bubblewrap when it is installed and works, else plain processes. */
  sandbox?: 'auto' | 'bubblewrap' | 'none'
  /** Default: $CTL_BWRAP, else `bwrap` found on the PATH. A path that does not exist counts as "not installed". */
  bwrapPath?: string
  /**
   * What runs the bubblewrap layout. 'auto': ctl-sandbox (dist/native/ctl-sandbox, built where a C compiler exists)
   * when it is there and passes bwrap's probe, else bwrap; 'bwrap': bwrap always. Default: $CTL_SANDBOX_LAUNCHER,
   * else 'auto'. Only in bubblewrap mode, which bwrap alone decides as before.
   */
  sandboxLauncher?: SandboxLauncher
  /** The ctl-sandbox binary to use instead of the build's (tests). */
  sandboxLauncherPath?: string
  /**
   * Without bubblewrap, run the steps of every workflow as plain processes, not only those of
   * `trustedOwner`. Default: true with `sandbox: 'none'` (asked for by name), else false.
   */
  allowUnsandboxed?: boolean
  /**
   * The ctl user whose steps may run without a sandbox even when allowUnsandboxed is off: the one who
   * started the control plane (the tenant admin created at its first start, whose key the local CLI uses).
   */
  trustedOwner?: string
  /**
   * Host user and group every step runs as when the control plane runs as root (never root
   * itself). Default 65534 / 65534 (nobody / nogroup); a dedicated user is better. Ignored when
   * the control plane is unprivileged: its steps run as its own user (in their own user namespace).
   */
  stepUid?: number
  stepGid?: number
  /** A delegated cgroup v2 folder for the steps' cgroups (memory.max, cpu.max). Default: the control plane's own, when usable. */
  cgroupParent?: string
  /** The data folder, hidden from steps; ctl's own folders below it may be opened to the step user's group. Default: stateDir's parent. */
  dataDir?: string
  /**
   * The work folder (the state folder's parent, with the volumes beside it), treated like the data folder: hidden
   * from steps, its folders opened to the step user's group on the way to a volume. Default: stateDir's parent.
   */
  workDir?: string
  /** $CTL_HOME, hidden from steps. Default: $CTL_HOME or ~/.ctl. */
  ctlHome?: string
}

export type SandboxLauncher = 'auto' | 'bwrap'
const LAUNCHERS: readonly string[] = ['auto', 'bwrap'] satisfies SandboxLauncher[]
export const LAUNCHER_ENV = 'CTL_SANDBOX_LAUNCHER'

/** nobody / nogroup on Debian, Ubuntu, Fedora and Alpine alike. */
export const DEFAULT_STEP_ID = 65534

export interface Sandbox {
  /** Set when steps run in bubblewrap. */
  bwrapPath?: string
  /** Set with bwrapPath: the binary that runs the bubblewrap layout, ctl-sandbox or bwrapPath itself. */
  sandboxCommand?: string
  /** sandboxCommand is this build's ctl-sandbox, which this build's ctl-spawner also has compiled in (no exec per step). */
  builtinLauncher: boolean
  /** Why bubblewrap is not used, for messages of plain steps. */
  whyNoSandbox: string
  /** Plain steps of other owners than trustedOwner run too. */
  allowUnsandboxed: boolean
  trustedOwner?: string
  /** Set when bubblewrap is installed but cannot run as the step's user: every step then fails to start (fail closed). */
  problem?: string
  /** The host user steps run as, when not the control plane's own (a root control plane). */
  stepUser?: StepUser
  access?: HostAccess
  host?: SandboxHost
  limits: LimitSupport
  info: RuntimeInfo
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

/**
 * bwrap (or ctl-sandbox, which takes its options) may be installed yet unusable (no user namespaces for the step's
 * user, a binary the step's user cannot run); one tiny sandbox with every flag a step gets tells.
 */
function probeSandbox(binary: string, user: StepUser | undefined): string | undefined {
  const args = ['--unshare-user', '--disable-userns', '--cap-drop', 'ALL', '--unshare-pid', '--unshare-net', '--ro-bind', '/', '/', '--remount-ro', '/', '--', 'true']
  const r = spawnSync(binary, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 5000, cwd: '/', ...user })
  if (r.status === 0) return undefined
  return (r.stderr?.toString().trim() || r.error?.message || `exit ${r.status}`).split('\n')[0]
}

/** The launcher asked for: the option, else $CTL_SANDBOX_LAUNCHER (unset or empty: 'auto'); any other value is refused, never taken as 'auto'. */
function launcherWanted(opts: SandboxOptions): SandboxLauncher {
  if (opts.sandboxLauncher !== undefined) {
    if (!LAUNCHERS.includes(opts.sandboxLauncher)) throw new CtlError('E_USAGE', `the local runtime's sandboxLauncher must be one of ${LAUNCHERS.join(', ')}, not ${JSON.stringify(opts.sandboxLauncher)}`)
    return opts.sandboxLauncher
  }
  const env = process.env[LAUNCHER_ENV]
  if (!env) return 'auto'
  if (!LAUNCHERS.includes(env)) throw new CtlError('E_USAGE', `${LAUNCHER_ENV} must be one of ${LAUNCHERS.join(', ')}, not ${JSON.stringify(env)}`)
  return env as SandboxLauncher
}

/** The build's ctl-sandbox (scripts/build-spawner.mjs), found as the step host's ctl-spawner is (host-start.ts). */
function builtLauncher(): string {
  return path.join(packageRoot(), 'dist', 'native', 'ctl-sandbox')
}

/** Who steps run as on the host: a root control plane never runs a step as root, but as an unprivileged user. */
export function stepUserOf(opts: Pick<SandboxOptions, 'stepUid' | 'stepGid'>): StepUser | undefined {
  return process.getuid?.() === 0 ? { uid: opts.stepUid ?? DEFAULT_STEP_ID, gid: opts.stepGid ?? DEFAULT_STEP_ID } : undefined
}

export function chooseSandbox(opts: SandboxOptions, stateDir: string): Sandbox {
  const wanted = opts.sandbox ?? 'auto'
  const allowUnsandboxed = opts.allowUnsandboxed ?? wanted === 'none'
  const dataDir = path.resolve(opts.dataDir ?? path.dirname(stateDir))
  const workDir = path.resolve(opts.workDir ?? path.dirname(stateDir))
  const ctlHome = opts.ctlHome ?? defaultCtlHome()
  const stepUser = stepUserOf(opts)
  if (stepUser && (stepUser.uid === 0 || stepUser.gid === 0)) throw new CtlError('E_USAGE', 'the local runtime\'s stepUid and stepGid (--step-uid, --step-gid) must not be 0: steps never run as root')
  // Run folders below the state folder come and go (cleanup drops an empty one): never cached as open.
  const access = stepUser ? new HostAccess(stepUser, [...new Set([dataDir, workDir]), path.resolve(ctlHome)], [path.resolve(stateDir)]) : undefined
  const launcher = launcherWanted(opts)
  let bwrapPath: string | undefined
  let whyNoSandbox = 'disabled (sandbox: none)'
  let sandboxProblem: string | undefined
  if (wanted !== 'none') {
    bwrapPath = opts.bwrapPath ?? (process.env.CTL_BWRAP || findOnPath('bwrap'))
    // A named binary that is not there is bubblewrap not installed, not a broken one.
    if (bwrapPath && !fs.existsSync(bwrapPath)) bwrapPath = undefined
    const problem = bwrapPath ? probeSandbox(bwrapPath, stepUser) : 'not installed'
    if (problem) {
      const as = stepUser ? ` as uid ${stepUser.uid}` : ''
      if (wanted === 'bubblewrap') throw new CtlError('E_UNAVAILABLE', `bubblewrap is required but ${bwrapPath ? `does not work${as}: ${problem}` : 'not installed'}`)
      if (bwrapPath && stepUser) {
        sandboxProblem = `bubblewrap cannot run as the step user (uid ${stepUser.uid}): ${problem}; enable unprivileged user namespaces or choose another step user (--step-uid)`
      } else {
        whyNoSandbox = bwrapPath ? `not usable here: ${problem}` : 'not installed'
        bwrapPath = undefined
      }
    }
  }
  const sandboxHost: SandboxHost | undefined = bwrapPath && !sandboxProblem ? describeSandboxHost({ dataDir, workDir, stateDir, ctlHome, access }) : undefined
  // Bubblewrap mode is bwrap's to decide (above); ctl-sandbox only takes its place, when it passes the same probe.
  let sandboxCommand = bwrapPath
  let launcherNote = ''
  if (bwrapPath && !sandboxProblem && launcher === 'auto') {
    const ours = opts.sandboxLauncherPath ? path.resolve(opts.sandboxLauncherPath) : builtLauncher()
    if (fs.existsSync(ours)) {
      const problem = probeSandbox(ours, stepUser)
      if (problem) launcherNote = `; ctl-sandbox (${ours}) not used, its probe failed${stepUser ? ` as uid ${stepUser.uid}` : ''}: ${problem}`
      else sandboxCommand = ours
    }
  }
  const runBy = sandboxCommand !== bwrapPath ? `bubblewrap layout run by ctl-sandbox ${sandboxCommand} (bwrap ${bwrapPath} the reference)` : `bubblewrap (${bwrapPath})`
  const limitSupport = detectLimitSupport(opts.cgroupParent, findOnPath('prlimit'))
  const who = stepUser ? `; steps run as host uid ${stepUser.uid}:${stepUser.gid}` : ''
  const limitsDetail = limitSupport.cgroupParent
    ? `limits by cgroup v2 below ${limitSupport.cgroupParent}`
    : `memory limits by ${limitSupport.prlimitPath ? 'prlimit (address space)' : 'nothing'}, cpu limits not enforced (${limitSupport.noCgroup})`
  const info: RuntimeInfo = bwrapPath
    ? {
        name: 'local',
        sandbox: 'bubblewrap',
        detail: sandboxProblem
          ? `bubblewrap (${bwrapPath}) unusable, every step fails to start: ${sandboxProblem}`
          : `${runBy}: system folders read-only, nothing else of the host; private /tmp; own user (no capability), pid, ipc, uts namespaces${who}; ${limitsDetail}; images are not used` +
            (sandboxHost?.problems.length ? `; ${sandboxHost.problems.join('; ')}` : '') +
            launcherNote,
      }
    : {
        name: 'local',
        sandbox: 'none',
        detail: `plain processes, bubblewrap ${whyNoSandbox}: no isolation, runAsUser ignored, volumes are host folders (mount paths rewritten)${who}; ${limitsDetail}; images are not used`,
        notice: plainNotice(whyNoSandbox, stepUser, allowUnsandboxed, opts.trustedOwner),
      }

  const builtinLauncher = sandboxCommand !== undefined && sandboxCommand !== bwrapPath && sandboxCommand === builtLauncher()
  return { bwrapPath, sandboxCommand, builtinLauncher, whyNoSandbox, allowUnsandboxed, trustedOwner: opts.trustedOwner, problem: sandboxProblem, stepUser, access, host: sandboxHost, limits: limitSupport, info }
}

/** The one line the control plane says at start when its steps get no sandbox. */
function plainNotice(why: string, user: StepUser | undefined, allowed: boolean, trusted: string | undefined): string {
  const as = user ? `host uid ${user.uid}` : 'your user'
  const whose = allowed ? 'every workflow\'s steps' : `only steps of workflows owned by ${trusted ? `"${trusted}"` : 'the local admin'} (others need --allow-unsandboxed)`
  return `local steps run as plain processes (bubblewrap ${why}): no isolation, a step sees the host's files as ${as} and its network; volumes are host folders; ${whose} run`
}
