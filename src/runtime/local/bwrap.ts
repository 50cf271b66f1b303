// The bubblewrap layout: a read-only view of the host, private /tmp, /proc and
// /dev, volumes bound at their mount paths and secrets passed as file
// descriptors so their content never touches a disk.
//
// bwrap cannot create a mount point inside a read-only bind (EROFS). When a
// mount path's parent is missing on the host (e.g. /workspace, /etc/ctl/config),
// the deepest existing ancestor is "expanded": a tmpfs replaces it and every host
// entry of it is bound back read-only, the new mount points are created on that
// tmpfs, and the tmpfs is remounted read-only at the end.

import fs from 'node:fs'
import path from 'node:path'
import { StartProblem, depth, type StepPlan } from './pod.js'
import { exists, fileMountDir, isExecutable, isUnder, type HostFile, type Layout } from './layout.js'
import { hostFoldersHiddenByPrivateTmp } from './package-root.js'
import { mountSource } from './beneath.js'

/** A mount of the sandbox other than the host root, as seen when deciding where a mount point can be made. */
interface SandboxMount {
  dest: string
  writable: boolean
  /** Host folder shown at `dest`, when there is one. */
  hostSrc?: string
}

const SPECIAL_ROOT_ENTRIES = new Set(['dev', 'proc', 'tmp'])

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

  /** Host path of a sandbox path, or undefined when the sandbox shows something else there (tmpfs, secret files). */
  hostPathOf(p: string): string | undefined {
    const m = this.backing(p)
    if (!m) return p
    if (!m.hostSrc) return undefined
    return path.join(m.hostSrc, path.relative(m.dest, p))
  }

  /** Makes sure bwrap will be able to create `dest` (and its parents), expanding a host folder if needed. */
  ensureCreatable(dest: string, what: string): void {
    if (this.mounts.some((m) => m.dest === dest)) return
    const m = this.backing(dest)
    if (m) {
      if (m.writable) return
      if (m.hostSrc && exists(path.join(m.hostSrc, path.relative(m.dest, dest)))) return
      throw new StartProblem(`${what}: cannot create ${dest} inside the read-only mount at ${m.dest}`)
    }
    // Backed by the host root: walk down until the first missing component.
    let cur = '/'
    for (const comp of dest.split('/').filter(Boolean)) {
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

function bindEntries(dir: string, args: string[]): void {
  for (const name of fs.readdirSync(dir).sort()) {
    if (dir === '/' && SPECIAL_ROOT_ENTRIES.has(name)) continue
    const p = path.join(dir, name)
    let st: fs.Stats
    try {
      st = fs.lstatSync(p)
    } catch {
      continue
    }
    if (st.isSymbolicLink()) args.push('--symlink', fs.readlinkSync(p), p)
    else args.push('--ro-bind-try', p, p)
  }
}

const octal = (mode: number) => '0' + (mode & 0o7777).toString(8)

export function bubblewrapLayout(plan: StepPlan, attemptDir: string, bwrapPath: string): Layout {
  const view = new View()
  const keptUnderTmp = hostFoldersHiddenByPrivateTmp()
  for (const dir of keptUnderTmp) view.mounts.push({ dest: dir, writable: false, hostSrc: dir })
  const mountArgs: string[] = []
  const fdData: string[] = []
  const configFiles: HostFile[] = []
  const dirs: string[] = []
  const nextFd = () => 4 + fdData.length

  plan.mounts.forEach((m, i) => {
    const what = `volume "${m.volume}" at ${m.mountPath}`
    view.ensureCreatable(m.mountPath, what)
    if (m.kind === 'dir') {
      const src = mountSource(m) // a subPath never leads out of its volume
      if (m.subPath || m.source === 'emptyDir') dirs.push(src)
      mountArgs.push(m.readOnly ? '--ro-bind' : '--bind', src, m.mountPath)
      view.mounts.push({ dest: m.mountPath, writable: !m.readOnly, hostSrc: src })
    } else if (!m.secret) {
      // Config is not secret: real files in the attempt folder, bound read-only (and visible when debugging).
      const dir = fileMountDir(path.join(attemptDir, 'config'), i, m.volume)
      const src = m.single ? path.join(dir, path.basename(m.mountPath)) : dir
      for (const f of m.files) configFiles.push({ path: m.single ? src : path.join(dir, f.path), content: f.content, mode: f.mode })
      if (!m.single) dirs.push(dir)
      mountArgs.push('--ro-bind', src, m.mountPath)
      view.mounts.push({ dest: m.mountPath, writable: false, hostSrc: src })
    } else if (m.single) {
      mountArgs.push('--perms', octal(m.files[0]!.mode), '--ro-bind-data', String(nextFd()), m.mountPath)
      fdData.push(m.files[0]!.content)
      view.mounts.push({ dest: m.mountPath, writable: false })
    } else {
      // A secret volume is a fresh in-memory folder holding exactly its items.
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

  if (plan.workingDir) view.ensureCreatable(plan.workingDir, `workingDir ${plan.workingDir}`)
  checkExecutable(plan, view)

  const args = ['--unshare-pid', '--unshare-ipc', '--unshare-uts', '--hostname', plan.hostname, '--die-with-parent', '--new-session', '--info-fd', '3']
  if (plan.runAsUser !== undefined) {
    args.push('--unshare-user', '--uid', String(plan.runAsUser), '--gid', String(plan.runAsGroup ?? plan.runAsUser))
  }
  if (view.expanded.has('/')) bindEntries('/', args)
  else args.push('--ro-bind', '/', '/')
  args.push('--dev', '/dev', '--proc', '/proc', '--perms', '1777', '--tmpfs', '/tmp')
  for (const dir of keptUnderTmp) args.push('--ro-bind-try', dir, dir)
  const expanded = [...view.expanded].filter((d) => d !== '/').sort((a, b) => depth(a) - depth(b))
  for (const dir of expanded) {
    args.push('--tmpfs', dir)
    bindEntries(dir, args)
  }
  args.push(...mountArgs)
  if (plan.workingDir) args.push('--dir', plan.workingDir)
  for (const dir of [...view.expanded].sort((a, b) => depth(b) - depth(a))) args.push('--remount-ro', dir)
  args.push('--chdir', plan.workingDir ?? '/')
  args.push('--', ...plan.argv)

  const notes = plan.image ? [`image ${plan.image} is not used: local steps run the host's programs`] : []
  return { spec: { mode: 'bubblewrap', command: bwrapPath, args, env: plan.env, fdData }, configFiles, dirs, notes }
}

/** Fails early, with the message a container runtime would give, when the program cannot be found. */
function checkExecutable(plan: StepPlan, view: View): void {
  const prog = plan.argv[0]!
  const candidates = prog.includes('/')
    ? [path.posix.resolve(plan.workingDir ?? '/', prog)]
    : (plan.env.PATH ?? '').split(':').filter((d) => d.startsWith('/')).map((d) => path.join(d, prog))
  for (const c of candidates) {
    const host = view.hostPathOf(c)
    if (host === undefined || isExecutable(host)) return // unknown content (tmpfs, secret files) counts as maybe
  }
  throw new StartProblem(prog.includes('/') ? `exec: "${prog}": no such executable file` : `exec: "${prog}": executable file not found in $PATH`)
}
