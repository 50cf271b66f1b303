// Paths inside a volume, resolved without leaving it. A step can write anything into a volume,
// symbolic links included; a later step (or the control plane, which runs as root on many
// machines) must never follow such a link out of the volume: not to bind a `subPath`, not to
// create a mount point for a file projection or another volume, not to mkdir a missing folder.
//
// The walk goes one component at a time with lstat. In a subPath a link is followed only when
// its real path stays inside the volume (Kubernetes lets subPath use links within the volume),
// and the bind then uses the real path; a mount point or working folder inside a volume may not
// go through any link (bwrap would walk it as written). A link that leaves the volume, or leads
// nowhere, is refused. Missing components are made with a plain mkdir of one component, which
// never follows a link (a link planted meanwhile makes it fail with EEXIST, and the component
// is looked at again).
//
// What remains is the race between the check and bwrap's mount: a step running at the same time
// with the same volume writable could swap a checked folder for a link in between. The control
// plane checks as it prepares the start; the step host checks again (PathCheck, supervisor.mjs)
// right before it spawns bwrap, so the window is the host's fork/exec plus bwrap's own setup.
// Binding an fd opened and verified by the host (bwrap --bind-fd) would close it.

import fs from 'node:fs'
import path from 'node:path'
import { isUnder } from './layout.js'
import { StartProblem, type StepMount, type StepPlan } from './pod.js'

export interface BeneathOptions {
  /** Says what is resolved, for messages: `volume "data" subPath "x"`. */
  what: string
  /** What the root is, for messages: "the volume". */
  rootName: string
  /** Make missing components (as folders). Otherwise a missing component is returned as is. */
  create: boolean
  /** 'inside' (default): follow a link that stays inside the root; 'none': refuse every link. */
  links?: 'inside' | 'none'
  /** Collects the folders made here, so that the step's user can be given them (they are made by the control plane's). */
  made?: MadeFolder[]
}

/** A folder resolveBeneath made, and the real root it lies beneath. */
export interface MadeFolder {
  path: string
  root: string
}

/** A path bwrap will walk, checked again by the step host right before it starts the step. */
export interface PathCheck {
  /** Real path of the volume's folder. */
  root: string
  /** Absolute path below `root`: no component of it may be a symbolic link. */
  path: string
  /** For the message, as in resolveBeneath. */
  what: string
}

/**
 * The real path of `rel` below `root`, every component checked; `root` itself is trusted (a
 * folder of the control plane). Throws a StartProblem when `rel` leaves `root`.
 */
export function resolveBeneath(root: string, rel: string, opts: BeneathOptions): string {
  let realRoot: string
  try {
    realRoot = fs.realpathSync(root)
  } catch (e) {
    throw new StartProblem(`${opts.what}: the folder of ${opts.rootName} (${root}) cannot be used: ${(e as Error).message}`)
  }
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.')
  if (parts.includes('..')) throw new StartProblem(`${opts.what}: must not contain ".."`)
  let cur = realRoot
  for (let i = 0; i < parts.length; i++) {
    const next = path.join(cur, parts[i]!)
    const shown = parts.slice(0, i + 1).join('/')
    let st = fs.lstatSync(next, { throwIfNoEntry: false })
    if (!st) {
      if (!opts.create) return path.join(next, ...parts.slice(i + 1))
      try {
        fs.mkdirSync(next)
        opts.made?.push({ path: next, root: realRoot })
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      }
      st = fs.lstatSync(next)
    }
    if (st.isSymbolicLink()) {
      if (opts.links === 'none') throw new StartProblem(`${opts.what} leaves ${opts.rootName}: "${shown}" is a symbolic link (a mount point or working folder inside a volume may not go through one)`)
      let real: string
      try {
        real = fs.realpathSync(next)
      } catch {
        throw new StartProblem(`${opts.what} leaves ${opts.rootName}: "${shown}" is a symbolic link that leads nowhere inside it`)
      }
      if (!isUnder(real, realRoot)) throw new StartProblem(`${opts.what} leaves ${opts.rootName}: "${shown}" is a symbolic link to ${real}`)
      cur = real
      st = fs.statSync(real)
    } else {
      cur = next
    }
    if (!st.isDirectory() && i < parts.length - 1) throw new StartProblem(`${opts.what}: "${shown}" is not a folder`)
  }
  return cur
}

type DirMount = Extract<StepMount, { kind: 'dir' }>

/**
 * The host folder bound for a volume mount. A PVC's subPath is resolved inside the volume (and
 * made when missing, as the kubelet does); an emptyDir is a fresh folder of this very attempt
 * that no step has written to yet, so its subPath is a plain join.
 */
export function mountSource(m: DirMount, made?: MadeFolder[]): string {
  if (!m.subPath) return m.hostDir
  if (m.source === 'emptyDir') return path.join(m.hostDir, m.subPath)
  return resolveBeneath(m.hostDir, m.subPath, { what: `volume "${m.volume}" subPath "${m.subPath}"`, rootName: 'the volume', create: true, made })
}

/**
 * bwrap creates the mount point of a mount (a projection's folder, another volume) and the
 * working folder inside whatever volume is mounted above it, following links as it goes: each
 * such path is resolved inside that volume first (no link allowed), its folders made here. Also
 * resolves every PVC subPath. Returns what the step host checks again before it spawns bwrap.
 */
export function checkPathsInVolumes(plan: StepPlan, made?: MadeFolder[]): PathCheck[] {
  const checks: PathCheck[] = []
  const dirMounts = plan.mounts.filter((m): m is DirMount => m.kind === 'dir' && m.source === 'pvc')
  for (const m of dirMounts) {
    if (!m.subPath) continue
    const src = mountSource(m, made) // first: it says so when the volume's folder is missing
    checks.push({ root: fs.realpathSync(m.hostDir), path: src, what: `volume "${m.volume}" subPath "${m.subPath}"` })
  }
  const inside = (p: string, self?: StepMount) => {
    let best: DirMount | undefined
    for (const d of dirMounts) {
      if (d === self || d.mountPath === p || !isUnder(p, d.mountPath)) continue
      if (!best || d.mountPath.length > best.mountPath.length) best = d
    }
    return best
  }
  const check = (p: string, what: string, self?: StepMount, file = false) => {
    const parent = inside(p, self)
    if (!parent) return
    const rel = path.posix.relative(parent.mountPath, p)
    const opts: BeneathOptions = {
      what: `${what} (inside volume "${parent.volume}" at ${parent.mountPath})`,
      rootName: 'the volume',
      // A read-only volume gets no new folder: bwrap fails on it anyway (read-only file system).
      create: !parent.readOnly,
      links: 'none',
      made,
    }
    // Real, so that the host's check compares like with like (the data folder may lie below a link of the machine's own).
    const root = fs.realpathSync(mountSource(parent))
    if (!file) {
      checks.push({ root, path: resolveBeneath(root, rel, opts), what: opts.what })
      return
    }
    // One file: its folder is made like any other; bwrap creates the file itself, so it must not be a link.
    const dir = resolveBeneath(root, path.posix.dirname(rel), opts)
    const target = path.join(dir, path.posix.basename(rel))
    if (fs.lstatSync(target, { throwIfNoEntry: false })?.isSymbolicLink()) throw new StartProblem(`${opts.what} leaves the volume: "${rel}" is a symbolic link`)
    checks.push({ root, path: target, what: opts.what })
  }
  for (const m of plan.mounts) {
    const what = m.kind === 'files' ? `the files of "${m.volume}" at ${m.mountPath}` : `volume "${m.volume}" at ${m.mountPath}`
    check(m.mountPath, what, m, m.kind === 'files' && m.single)
  }
  if (plan.workingDir) check(plan.workingDir, `workingDir ${plan.workingDir}`)
  return checks
}

/**
 * A folder a layout needs. Inside the attempt folder (made by us, never seen by a step) a
 * recursive mkdir is safe. Anything else lies in a volume a step could write links into: it
 * was made by resolveBeneath as the layout resolved it, and must still be there, not a link.
 * Returns the first folder made, as fs.mkdirSync does.
 */
export function makeLayoutDir(dir: string, attemptDir: string): string | undefined {
  if (isUnder(dir, attemptDir)) return fs.mkdirSync(dir, { recursive: true })
  const st = fs.lstatSync(dir, { throwIfNoEntry: false })
  if (!st || st.isSymbolicLink()) throw new StartProblem(`${dir} is gone or was replaced by a link as the step started`)
  return undefined
}
