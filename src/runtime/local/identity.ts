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
  constructor(
    readonly user: StepUser,
    private readonly adjustable: string[],
  ) {}

  /** Makes sure the step's user can reach `p` (enter every folder above it); StartProblem when it cannot. */
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
        if (!this.adjustable.some((a) => isUnder(dir, a)) || st.uid !== this.self) {
          throw new StartProblem(
            `${what}: ${p} is not reachable by the step's host user (uid ${this.user.uid}): ${dir} is mode ${(st.mode & 0o7777).toString(8)} owned by uid ${st.uid}; ` +
              `give the control plane a data folder that user may reach (e.g. --data-dir /var/lib/ctl/server), or set the local runtime's stepUid`,
          )
        }
        if (st.gid !== this.user.gid) fs.chownSync(dir, st.uid, this.user.gid)
        fs.chmodSync(dir, (st.mode & 0o7777) | 0o010)
      }
      if (this.open.size > OPEN_CACHE_MAX) this.open.clear()
      this.open.add(dir)
    }
  }

  /** Gives a folder or file the step reads or writes to the step's user. */
  own(p: string): void {
    const st = fs.statSync(p, { throwIfNoEntry: false })
    if (!st) return // missing: bwrap says so, with the path
    if (st.uid !== this.user.uid || st.gid !== this.user.gid) fs.chownSync(p, this.user.uid, this.user.gid)
  }
}
