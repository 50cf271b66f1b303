// Who a step is on the host. Under a privileged (root) control plane every step is spawned as an
// unprivileged host user (stepUid / stepGid, default 65534 nobody / nogroup): inside its user
// namespace it may be uid 0, but on the host it owns no file of root's and holds no capability.
// bwrap then sets the sandbox up as that user, so every folder it binds (volumes, emptyDir) must
// be reachable by it: ctl's own folders (the data folder, $CTL_HOME and below) are opened to the
// step's group (g+x: enter, never list or read), anything above them must already be, or the
// step fails to start and says which folder is closed (a data folder below /root, for one).

import fs from 'node:fs'
import path from 'node:path'
import { StartProblem } from './pod.js'
import { isUnder } from './layout.js'

export interface StepUser {
  uid: number
  gid: number
}

/** Whether `user` may enter the folder described by `st` (search permission, as the kernel decides it). */
export function canEnter(st: fs.Stats, user: StepUser): boolean {
  if (user.uid === 0) return true
  if (st.uid === user.uid) return (st.mode & 0o100) !== 0
  if (st.gid === user.gid) return (st.mode & 0o010) !== 0
  return (st.mode & 0o001) !== 0
}

/**
 * Whether `st` is a folder as reach() leaves one it opened: the step's group (`gid`) may enter it,
 * nobody else but its owner may do anything. A control plane starting again keeps it so: a host may
 * still be setting up the sandbox of a step the earlier one started, which goes through it.
 */
export function enterOnlyFor(st: fs.Stats, gid: number | undefined): boolean {
  return gid !== undefined && st.isDirectory() && st.gid === gid && (st.mode & 0o077) === 0o010
}

/** The folders from `/` down to `p`'s parent. */
function ancestors(p: string): string[] {
  const out: string[] = []
  for (let d = path.dirname(p); ; d = path.dirname(d)) {
    out.push(d)
    if (d === path.dirname(d)) break
  }
  return out.reverse()
}

const OPEN_CACHE_MAX = 5000

export class HostAccess {
  /** Folders found (or made) enterable; steps of one run share most of them. */
  private readonly open = new Set<string>()
  private readonly self = process.getuid?.() ?? -1

  /** `adjustable`: ctl's own folders (the data folder, $CTL_HOME); folders of ours at or below them may be opened to the step's group. */
  /**
   * `transient`: folders whose sub-folders are removed and made again (the run folders below the runtime's
   * state folder): those are never cached, as a folder made anew lost the group and mode given to the old one.
   */
  constructor(
    readonly user: StepUser,
    private readonly adjustable: string[],
    private readonly transient: string[] = [],
  ) {}

  /**
   * Makes sure the step's user can reach `p` (enter every folder above it); StartProblem when it
   * cannot. Only real folders of ours below ctl's own folders are changed, through a descriptor
   * opened without following links: a link planted in a volume never redirects a chmod.
   */
  reach(p: string, what: string): void {
    for (const dir of ancestors(p)) {
      if (this.open.has(dir)) continue
      let st: fs.Stats
      try {
        st = fs.statSync(dir)
      } catch {
        return // missing: bwrap or mkdir says so, with the path
      }
      if (!canEnter(st, this.user)) {
        const closed = () =>
          new StartProblem(
            `${what}: ${p} is not reachable by the step's host user (uid ${this.user.uid}): ${dir} is mode ${(st.mode & 0o7777).toString(8)} owned by uid ${st.uid}; ` +
              `give the control plane a data folder (or --work-dir) that user may reach (e.g. --data-dir /var/lib/ctl/server), or choose another step user (--step-uid, --step-gid)`,
          )
        if (!this.adjustable.some((a) => isUnder(dir, a)) || st.uid !== this.self) throw closed()
        const fd = openNoFollow(dir, fs.constants.O_DIRECTORY)
        if (fd === undefined) throw closed() // a link: not ours to open
        if (fd === null) return
        try {
          const own = fs.fstatSync(fd)
          if (own.gid !== this.user.gid) fs.fchownSync(fd, own.uid, this.user.gid)
          fs.fchmodSync(fd, (own.mode & 0o7777) | 0o010)
        } finally {
          fs.closeSync(fd)
        }
      }
      if (this.transient.some((t) => dir !== t && isUnder(dir, t))) continue
      if (this.open.size > OPEN_CACHE_MAX) this.open.clear()
      this.open.add(dir)
    }
  }

  /**
   * Gives a folder or file the step reads or writes to the step's user, when it lies beneath
   * `root` once links are resolved (a volume's content is the step's to plant links in: a chown
   * must never follow one out of it). Missing: nothing to do (bwrap says so, with the path).
   */
  own(p: string, root: string): void {
    const fd = openNoFollow(p, 0)
    if (fd === undefined) throw new StartProblem(`${p} is a link, not a folder of its own`)
    if (fd === null) return
    try {
      const real = fs.readlinkSync(`/proc/self/fd/${fd}`)
      if (!isUnder(real, fs.realpathSync(root))) throw new StartProblem(`${p} leads out of ${root} (to ${real})`)
      const st = fs.fstatSync(fd)
      if (st.uid !== this.user.uid || st.gid !== this.user.gid) fs.fchownSync(fd, this.user.uid, this.user.gid)
    } finally {
      fs.closeSync(fd)
    }
  }
}

/** A descriptor of `p` itself: undefined when `p` is a symbolic link, null when it does not exist. */
function openNoFollow(p: string, flags: number): number | undefined | null {
  try {
    return fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | flags)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return null
    if (code === 'ELOOP' || code === 'ENOTDIR') return undefined
    throw e
  }
}
