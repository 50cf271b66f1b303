// The bubblewrap layout: an allow-list of the host, never the host's root. The sandbox's root
// is an empty tmpfs (read-only once set up) holding only the system folders a program needs,
// read-only (/usr, /bin, /sbin, /lib*, /etc, /opt), this ctl and its node when they live
// elsewhere, a private /tmp, /proc and /dev, the step's volumes, and its ConfigMap and Secret
// files passed as file descriptors so their content never touches a disk. Nothing else of the host is there: not the
// data folder, $CTL_HOME, the step host's socket, other runs, /root, /home, the host's /tmp or
// /var. Every sandbox has its own user namespace with no capability (--cap-drop ALL), no nested
// user namespaces, its own pid, ipc, uts and cgroup namespaces, a seccomp filter against ptrace
// (seccomp.ts), and no network with `network: none`. The arguments are bwrap's; ctl's own launcher ctl-sandbox
// (sandbox-launcher.c) takes exactly these, with the same semantics, and runs them when it is built (sandbox.ts).
//
// bwrap cannot create a mount point inside a read-only bind (EROFS). When a mount path's parent
// is missing inside a bound system folder (e.g. /etc/ctl/config), the deepest existing ancestor
// is "expanded": a tmpfs replaces it and every host entry of it is bound back read-only, the new
// mount points are created on that tmpfs, and the tmpfs is remounted read-only at the end.
// Mount paths elsewhere (/workspace) are created on the root tmpfs directly.

import fs from 'node:fs'
import path from 'node:path'
import { StartProblem, depth, type StepPlan } from './pod.js'
import { exists, isExecutable, isUnder, newShmDir, outputsPlace, volumeOwned, type HostFile, type Layout } from './layout.js'
import { packageRoot } from '../../package-root.js'
import type { HostAccess } from './identity.js'
import { seccompFilterBase64 } from './seccomp.js'
import { mountSource, type MadeFolder } from './beneath.js'

/** Host folders shown read-only at their own path, when they exist. */
const SYSTEM_FOLDERS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/opt']

/**
 * The system folder (one of SYSTEM_FOLDERS, as named there) whose content bubblewrap steps see at `p`,
 * read-only, or undefined when none shows it. Real paths are compared, so that a link on the way (/bin
 * is often one to /usr/bin; a folder linked into /etc) counts where it leads; the part of `p` that does
 * not exist yet is taken as written, below the real path of what exists. For files that steps must never
 * read, such as the master key (a step under an ordinary user's control plane runs as that user).
 */
export function shownToSteps(p: string): string | undefined {
  const real = realPathSoFar(path.resolve(p))
  for (const folder of SYSTEM_FOLDERS) {
    let shown: string
    try {
      shown = fs.realpathSync(folder)
    } catch {
      continue // not on this machine
    }
    if (isUnder(real, shown)) return folder
  }
  return undefined
}

/** `p` with every link that exists resolved, its missing tail kept as written (a dangling link leads where it points). */
function realPathSoFar(p: string, hops = 0): string {
  const missing: string[] = []
  for (let dir = p; ; dir = path.dirname(dir)) {
    try {
      return path.join(fs.realpathSync(dir), ...missing)
    } catch {}
    try {
      // A link whose target is missing: where it would lead (bounded, as the kernel bounds link chains).
      if (hops < 40 && fs.lstatSync(dir).isSymbolicLink()) {
        return path.join(realPathSoFar(path.resolve(path.dirname(dir), fs.readlinkSync(dir)), hops + 1), ...missing)
      }
    } catch {}
    if (path.dirname(dir) === dir) return p
    missing.unshift(path.basename(dir))
  }
}

type HostEntry = { path: string; kind: 'bind' } | { path: string; kind: 'symlink'; target: string }

/** What of the host every sandbox of this runtime shows; looked up once, not per step. */
export interface SandboxHost {
  system: HostEntry[]
  /** Host folders outside the system ones that steps need (this ctl, its node), bound read-only. */
  extras: string[]
  /** ctl's own folders (data folder, work folder, $CTL_HOME) that lie below a bound folder: covered by an empty tmpfs. */
  hidden: string[]
  /** Why something a step may need is missing, for the runtime's detail. */
  problems: string[]
}

export interface SandboxHostOptions {
  dataDir: string
  /** Where runs and volumes live when not in the data folder (--work-dir): hidden like it. */
  workDir?: string
  stateDir: string
  ctlHome: string
  /** Set when steps run as another host user: the extras must be reachable by it. */
  access?: HostAccess
}

export function describeSandboxHost(opts: SandboxHostOptions): SandboxHost {
  const system: HostEntry[] = []
  for (const p of SYSTEM_FOLDERS) {
    let st: fs.Stats
    try {
      st = fs.lstatSync(p)
    } catch {
      continue
    }
    if (st.isSymbolicLink()) system.push({ path: p, kind: 'symlink', target: fs.readlinkSync(p) })
    else if (st.isDirectory()) system.push({ path: p, kind: 'bind' })
  }
  const shown = (p: string) => system.some((e) => e.kind === 'bind' && isUnder(p, e.path)) || system.some((e) => e.kind === 'symlink' && isUnder(p, e.path))
  // DNS: /etc/resolv.conf often points into /run (systemd-resolved); that one folder is shown too.
  const wanted: string[] = []
  try {
    const resolv = fs.realpathSync('/etc/resolv.conf')
    if (!shown(resolv)) wanted.push(path.dirname(resolv))
  } catch {}
  const root = packageRoot()
  wanted.push(root, path.dirname(fs.realpathSync(process.execPath)), path.dirname(process.execPath))
  try {
    // A worktree or a linked install keeps its node_modules elsewhere.
    const modules = fs.realpathSync(path.join(root, 'node_modules'))
    if (!isUnder(modules, root)) wanted.push(modules)
  } catch {}
  const problems: string[] = []
  const extras: string[] = []
  for (const dir of [...new Set(wanted)].sort((a, b) => depth(a) - depth(b))) {
    if (dir === '/' || shown(dir) || extras.some((e) => isUnder(dir, e))) continue
    try {
      opts.access?.reach(path.join(dir, '.'), 'host folder')
      extras.push(dir)
    } catch (e) {
      problems.push((e as Error).message)
    }
  }
  const bound = (p: string) => shown(p) || extras.some((e) => isUnder(p, e))
  const hidden: string[] = []
  for (const dir of [opts.dataDir, opts.workDir ?? opts.dataDir, opts.stateDir, opts.ctlHome].map((d) => path.resolve(d)).sort((a, b) => depth(a) - depth(b))) {
    if (bound(dir) && exists(dir) && !hidden.some((h) => isUnder(dir, h))) hidden.push(dir)
  }
  return { system, extras, hidden, problems }
}

/** A mount of the sandbox other than the host root, as seen when deciding where a mount point can be made. */
interface SandboxMount {
  dest: string
  writable: boolean
  /** Host folder shown at `dest`, when there is one. */
  hostSrc?: string
  /** A host folder shown as is: a missing mount point below it is made by expanding it. */
  expandable?: boolean
}

class View {
  readonly expanded = new Set<string>()
  readonly mounts: SandboxMount[] = [
    { dest: '/tmp', writable: true },
    { dest: '/dev', writable: false },
    { dest: '/proc', writable: false },
  ]

  private backing(p: string): SandboxMount | undefined {
    let best: SandboxMount | undefined
    for (const m of this.mounts) if (isUnder(p, m.dest) && (!best || depth(m.dest) >= depth(best.dest))) best = m
    return best
  }

  /** Host path of a sandbox path; undefined when the sandbox shows something else there (tmpfs, secret files), null when nothing. */
  hostPathOf(p: string): string | undefined | null {
    const m = this.backing(p)
    if (!m) return null // the empty root
    if (!m.hostSrc) return undefined
    // A host folder shown at its own place (most of them): the path is its own, no path arithmetic.
    if (m.hostSrc === m.dest) return p
    return path.join(m.hostSrc, path.relative(m.dest, p))
  }

  /** Makes sure bwrap will be able to create `dest` (and its parents), expanding a host folder if needed. */
  ensureCreatable(dest: string, what: string): void {
    if (this.mounts.some((m) => m.dest === dest)) return
    const m = this.backing(dest)
    if (!m || m.writable) return // the root tmpfs, or a writable mount: bwrap makes the folders
    if (m.hostSrc && exists(path.join(m.hostSrc, path.relative(m.dest, dest)))) return
    if (!m.expandable) throw new StartProblem(`${what}: cannot create ${dest} inside the read-only mount at ${m.dest}`)
    // A host folder shown as is: walk down until the first missing component.
    let cur = m.dest
    for (const comp of path.relative(m.dest, dest).split('/').filter(Boolean)) {
      const next = path.join(cur, comp)
      if (!exists(next)) {
        if (!this.expanded.has(cur)) this.expanded.add(cur)
        return
      }
      if (!fs.statSync(next).isDirectory() && next !== dest) throw new StartProblem(`${what}: ${next} is not a folder on this machine`)
      cur = next
    }
  }
}

/** The bwrap arguments that show a host folder's entries, remembered briefly: most steps of a run expand the same folder (/etc for /etc/ctl/config). */
const entryArgs = new Map<string, { at: number; args: string[] }>()
const ENTRY_TTL_MS = 2000

/**
 * The real path of a host folder ctl itself keeps or shows (a system or extra folder, a volume's own folder, the
 * attempt folder), remembered briefly. Every bind source the layout gives is real: ctl-sandbox follows no link on
 * the way to a source (a link swapped into a volume between the runtime's checks and the mount would otherwise
 * lead elsewhere), so a host path through a link (a data folder under a linked folder, a node under a linked
 * prefix) is given as where it leads. Never used below a volume's folder, where the step's files are: those parts
 * are resolved without links (beneath.ts) and appended as they are.
 */
const realDirs = new Map<string, { at: number; real: string }>()

function realDir(dir: string): string {
  const now = Date.now()
  const seen = realDirs.get(dir)
  if (seen && now - seen.at < ENTRY_TTL_MS) return seen.real
  // A folder not made yet (an emptyDir's, a run's first attempt's): the real path of what exists, the rest as written.
  const real = realPathSoFar(path.resolve(dir))
  if (realDirs.size > 1000) realDirs.clear()
  realDirs.set(dir, { at: now, real })
  return real
}

/** `p` below `dir` (a folder realDir takes), with `dir`'s real path and the rest as it is. */
function realBelow(dir: string, p: string): string {
  return path.join(realDir(dir), path.relative(dir, p))
}

function bindEntries(dir: string, args: string[]): void {
  const now = Date.now()
  const seen = entryArgs.get(dir)
  if (seen && now - seen.at < ENTRY_TTL_MS) {
    for (const a of seen.args) args.push(a)
    return
  }
  const out: string[] = []
  for (const name of fs.readdirSync(dir).sort()) {
    const p = path.join(dir, name)
    let st: fs.Stats
    try {
      st = fs.lstatSync(p)
    } catch {
      continue
    }
    if (st.isSymbolicLink()) out.push('--symlink', fs.readlinkSync(p), p)
    else out.push('--ro-bind-try', realBelow(dir, p), p)
  }
  if (entryArgs.size > 100) entryArgs.clear()
  entryArgs.set(dir, { at: now, args: out })
  for (const a of out) args.push(a)
}

const octal = (mode: number) => '0' + (mode & 0o7777).toString(8)

/**
 * `launcher`: bwrap, or ctl-sandbox, which takes the same arguments (see sandbox.ts); `builtin`: it is this build's
 * ctl-sandbox, which the step host's spawner may run without an exec.
 */
export function bubblewrapLayout(plan: StepPlan, attemptDir: string, launcher: string, host: SandboxHost, shmBase?: string, builtin = false): Layout {
  const view = new View()
  for (const e of host.system) if (e.kind === 'bind') view.mounts.push({ dest: e.path, writable: false, hostSrc: e.path, expandable: true })
  for (const dir of host.extras) view.mounts.push({ dest: dir, writable: false, hostSrc: dir, expandable: true })
  for (const dir of host.hidden) view.mounts.push({ dest: dir, writable: false })
  const mountArgs: string[] = []
  const fdData: string[] = []
  const dirs: string[] = []
  const sources: string[] = []
  const owned: Layout['owned'] = []
  const nextFd = () => 4 + fdData.length

  plan.mounts.forEach((m) => {
    const what = `volume "${m.volume}" at ${m.mountPath}`
    view.ensureCreatable(m.mountPath, what)
    if (m.kind === 'dir') {
      const made: MadeFolder[] = []
      const src = mountSource(m, made) // a subPath never leads out of its volume
      if (m.subPath || m.source === 'emptyDir') dirs.push(src)
      // The step's user owns what it may write; below the volume's folder bwrap finds its way as that user.
      owned.push(...volumeOwned(m.hostDir, src, made))
      sources.push(m.hostDir)
      // A PVC's subPath comes back real (resolved without links below the volume's folder); any other source is
      // the volume's folder, or an emptyDir's subPath below it, taken as written.
      const real = m.subPath && m.source !== 'emptyDir' ? src : realBelow(m.hostDir, src)
      mountArgs.push(m.readOnly ? '--ro-bind' : '--bind', real, m.mountPath)
      view.mounts.push({ dest: m.mountPath, writable: !m.readOnly, hostSrc: src })
    } else if (m.single) {
      // ConfigMap and Secret files alike come through file descriptors: nothing on a disk, no host path
      // the step's user must reach (the attempt folder may lie below a folder closed to it).
      mountArgs.push('--perms', octal(m.files[0]!.mode), '--ro-bind-data', String(nextFd()), m.mountPath)
      fdData.push(m.files[0]!.content)
      view.mounts.push({ dest: m.mountPath, writable: false })
    } else {
      // A file volume is a fresh in-memory folder holding exactly its items.
      mountArgs.push('--tmpfs', m.mountPath)
      const made = new Set<string>()
      for (const f of m.files) {
        const parts = f.path.split('/').slice(0, -1)
        for (let k = 1; k <= parts.length; k++) {
          const sub = path.join(m.mountPath, ...parts.slice(0, k))
          if (!made.has(sub)) mountArgs.push('--dir', sub)
          made.add(sub)
        }
        mountArgs.push('--perms', octal(f.mode), '--ro-bind-data', String(nextFd()), path.join(m.mountPath, f.path))
        fdData.push(f.content)
      }
      mountArgs.push('--remount-ro', m.mountPath)
      view.mounts.push({ dest: m.mountPath, writable: false })
    }
  })

  // The outputs file, bound alone at its path (as the kubelet mounts a termination message file): the step writes
  // it, and cannot swap it for a link (a mount point cannot be removed or renamed over).
  const configFiles: HostFile[] = []
  let outputsFile: string | undefined
  let shm: Layout['spec']['shm']
  if (plan.outputsPath) {
    const place = outputsPlace(attemptDir, shmBase ? newShmDir(shmBase) : undefined)
    outputsFile = place.file
    view.ensureCreatable(plan.outputsPath, `terminationMessagePath ${plan.outputsPath}`)
    if (place.inShm) {
      shm = { dir: path.dirname(place.file), files: [{ path: place.file, content: '', mode: 0o600 }] }
    } else {
      configFiles.push({ path: outputsFile, content: '', mode: 0o600 })
      sources.push(outputsFile)
    }
    // Its folder is new for each attempt: the real path of the folder it is made in is the one remembered.
    mountArgs.push('--bind', realBelow(place.inShm ? shmBase! : path.dirname(attemptDir), outputsFile), plan.outputsPath)
    view.mounts.push({ dest: plan.outputsPath, writable: true, hostSrc: outputsFile })
  }

  if (plan.workingDir) view.ensureCreatable(plan.workingDir, `workingDir ${plan.workingDir}`)
  checkExecutable(plan, view)

  // No capability even where the control plane has them; no user namespace inside to regain some.
  const args = ['--unshare-user', '--disable-userns', '--cap-drop', 'ALL', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try']
  if (plan.network === 'none') args.push('--unshare-net')
  // The seccomp filter comes on the fd after the ConfigMap and Secret files' (see step.mjs).
  args.push('--hostname', plan.hostname, '--die-with-parent', '--new-session', '--info-fd', '3', '--add-seccomp-fd', String(nextFd()))
  if (plan.runAsUser !== undefined) args.push('--uid', String(plan.runAsUser), '--gid', String(plan.runAsGroup ?? plan.runAsUser))
  else if (plan.runAsGroup !== undefined) args.push('--gid', String(plan.runAsGroup))
  const expanded = new Set(view.expanded)
  for (const e of host.system) {
    if (e.kind === 'symlink') args.push('--symlink', e.target, e.path)
    else if (!expanded.has(e.path)) args.push('--ro-bind', realDir(e.path), e.path)
  }
  args.push('--dev', '/dev', '--proc', '/proc', '--perms', '1777', '--tmpfs', '/tmp')
  for (const dir of host.extras) if (!expanded.has(dir)) args.push('--ro-bind', realDir(dir), dir)
  for (const dir of [...expanded].sort((a, b) => depth(a) - depth(b))) {
    args.push('--tmpfs', dir)
    bindEntries(dir, args)
  }
  for (const dir of host.hidden) args.push('--tmpfs', dir, '--remount-ro', dir)
  args.push(...mountArgs)
  if (plan.workingDir) args.push('--dir', plan.workingDir)
  for (const dir of [...expanded].sort((a, b) => depth(b) - depth(a))) args.push('--remount-ro', dir)
  args.push('--remount-ro', '/')
  args.push('--chdir', plan.workingDir ?? '/')
  args.push('--', ...plan.argv)

  const notes = plan.image ? [`image ${plan.image} is not used: local steps run the host's programs`] : []
  if (plan.network === 'none') notes.push('network: none (own network namespace, loopback only)')
  const seccomp = seccompFilterBase64()
  return { spec: { mode: 'bubblewrap', command: launcher, args, env: plan.env, fdData, seccomp, ...(builtin ? { builtinLauncher: true } : {}), ...(shm ? { shm } : {}) }, configFiles, dirs, sources, owned, notes, outputsFile }
}

/**
 * Where the program was found lately, by the host paths its search looked at: every step of a wide DAG runs the same
 * few programs, and each missed PATH folder costs a stat. A hit is only as old as isExecutable's own memory (the
 * program found is still executable by its account); a program now placed earlier in the PATH changes nothing about
 * whether the step can start. A failed search is never remembered.
 */
const foundAt = new Map<string, string>()

/** Fails early, with the message a container runtime would give, when the program cannot be found. */
function checkExecutable(plan: StepPlan, view: View): void {
  const prog = plan.argv[0]!
  const candidates = prog.includes('/')
    ? [path.posix.resolve(plan.workingDir ?? '/', prog)]
    : (plan.env.PATH ?? '').split(':').filter((d) => d.startsWith('/')).map((d) => path.join(d, prog))
  const hosts = candidates.map((c) => view.hostPathOf(c))
  // undefined (tmpfs, secret files: unknown content) counts as maybe, null (nothing there) as missing.
  if (hosts.includes(undefined)) return
  const key = hosts.join('\u0000')
  const found = foundAt.get(key)
  if (found !== undefined && isExecutable(found)) return
  for (const host of hosts) {
    if (host === null || host === undefined || !isExecutable(host)) continue
    if (foundAt.size > 1000) foundAt.clear()
    foundAt.set(key, host)
    return
  }
  throw new StartProblem(prog.includes('/') ? `exec: "${prog}": no such executable file` : `exec: "${prog}": executable file not found in $PATH`)
}
