// The plain layout (no bubblewrap): the step runs directly on the host in its
// own process group. File volumes become real folders (config in the attempt
// folder, secrets in a 0700 folder in memory) and their mount paths are
// rewritten in argv, env and workingDir so `/etc/ctl/config/script` still works.
// A `type: volume` is used where it lies on the host (its folder below the data
// folder), its mount path rewritten the same way and exported as CTL_MOUNT_<PATH>:
// no mount namespace is needed, so this works wherever Node runs (Linux without
// user namespaces, macOS). What it cannot do: readOnly, and a path the step builds
// at run time from pieces (`/work"space"`) is not rewritten.

import fs from 'node:fs'
import path from 'node:path'
import { StartProblem, type StepPlan } from './pod.js'
import { exists, fileMountDir, newShmDir, outputsPlace, realOrSelf, volumeOwned, type HostFile, type Layout } from './layout.js'
import { mountSource, type MadeFolder } from './beneath.js'

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** Replaces whole-path occurrences of each mount path (not `/etc/ctl/configuration` for `/etc/ctl/config`). */
export function pathRewriter(map: Map<string, string>): (s: string) => string {
  if (map.size === 0) return (s) => s
  const froms = [...map.keys()].sort((a, b) => b.length - a.length)
  const re = new RegExp(`(?<![\\w.-])(${froms.map(escapeRe).join('|')})(?=$|[^\\w.-])`, 'g')
  return (s) => s.replace(re, (m) => map.get(m) ?? m)
}

export interface PlainOptions {
  /** Why bubblewrap is not used, for error messages: "not installed", "disabled (sandbox: none)". */
  whyNoSandbox: string
  /** Memory-backed folder for secret files (/dev/shm); undefined when there is none. */
  shmBase?: string
}

/** The variable naming a mount's host folder in a plain step: `/workspace/raw` → CTL_MOUNT_WORKSPACE_RAW. */
export function mountEnvName(mountPath: string): string {
  return 'CTL_MOUNT_' + mountPath.replace(/^\/+|\/+$/g, '').replace(/[^A-Za-z0-9]+/g, '_').toUpperCase()
}

export function plainLayout(plan: StepPlan, attemptDir: string, opts: PlainOptions): Layout {
  const map = new Map<string, string>()
  const configFiles: HostFile[] = []
  const dirs: string[] = []
  const secretFiles: HostFile[] = []
  const sources: string[] = []
  const owned: Layout['owned'] = []
  if (plan.network === 'none') {
    throw new StartProblem(`network: none needs bubblewrap (${opts.whyNoSandbox}): without a network namespace the step would have the host's network`)
  }
  const shmDir = opts.shmBase ? newShmDir(opts.shmBase) : undefined
  const notes: string[] = []
  const exported: [string, string][] = []

  plan.mounts.forEach((m, i) => {
    if (m.kind === 'dir') {
      const made: MadeFolder[] = []
      const src = mountSource(m, made) // a subPath never leads out of its volume
      if (m.source === 'emptyDir') {
        dirs.push(src)
        sources.push(src)
        owned.push({ path: src, root: m.hostDir })
        map.set(m.mountPath, src)
        return
      }
      // As with bubblewrap: the step's user owns the volume's folder (not its content), the subPath and the folders made for it.
      sources.push(src)
      owned.push(...volumeOwned(m.hostDir, src, made))
      // The folder already is where the step expects it: nothing to rewrite.
      if (realOrSelf(src) === realOrSelf(m.mountPath)) return
      map.set(m.mountPath, src)
      exported.push([mountEnvName(m.mountPath), src])
      notes.push(`volume "${m.volume}" at ${m.mountPath} is the host folder ${src} (${m.mountPath} rewritten in the command line, env, workingDir and projected files; also in $${mountEnvName(m.mountPath)})${m.readOnly ? '; readOnly is not enforced' : ''}`)
      return
    }
    let base: string
    if (m.secret) {
      if (!shmDir) throw new StartProblem(`secret volume "${m.volume}" at ${m.mountPath} needs bubblewrap or a memory file system (/dev/shm), so that secrets are never written to disk`)
      base = fileMountDir(shmDir, i, m.volume)
    } else {
      base = fileMountDir(path.join(attemptDir, 'config'), i, m.volume)
      dirs.push(base)
    }
    const target = m.single ? path.join(base, path.basename(m.mountPath)) : base
    if (!m.secret) sources.push(target)
    for (const f of m.files) (m.secret ? secretFiles : configFiles).push({ path: m.single ? target : path.join(base, f.path), content: f.content, mode: f.mode })
    map.set(m.mountPath, target)
  })

  // $CTL_OUTPUTS (and the path written out in a script) names the attempt's own outputs file.
  let outputsFile: string | undefined
  if (plan.outputsPath) {
    const place = outputsPlace(attemptDir, shmDir)
    outputsFile = place.file
    map.set(plan.outputsPath, outputsFile)
    if (place.inShm) secretFiles.push({ path: outputsFile, content: '', mode: 0o600 })
    else {
      configFiles.push({ path: outputsFile, content: '', mode: 0o600 })
      sources.push(outputsFile) // a step user must reach it through the attempt folder
    }
  }
  const rewrite = pathRewriter(map)
  const argv = plan.argv.map(rewrite)
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(plan.env)) env[k] = rewrite(v)
  for (const [k, v] of exported) if (!(k in env)) env[k] = v
  // A volume's path in a projected file (the script stack's script) means the volume too; secrets stay as they are.
  const files = exported.length > 0 ? configFiles.map((f) => ({ ...f, content: rewrite(f.content) })) : configFiles
  const cwd = plan.workingDir ? rewrite(plan.workingDir) : undefined
  if (cwd && !exists(cwd) && !dirs.some((d) => cwd.startsWith(d))) {
    throw new StartProblem(`workingDir ${plan.workingDir} does not exist on this machine; without bubblewrap it cannot be created`)
  }
  if (plan.runAsUser !== undefined) notes.push(`runAsUser ${plan.runAsUser} is ignored without bubblewrap`)
  if (plan.image) notes.push(`image ${plan.image} is not used: local steps run the host's programs`)
  return {
    spec: {
      mode: 'none',
      command: argv[0]!,
      args: argv.slice(1),
      env,
      cwd: cwd ?? '/',
      fdData: [],
      shm: shmDir && secretFiles.length > 0 ? { dir: shmDir, files: secretFiles } : undefined,
    },
    configFiles: files,
    dirs,
    sources,
    owned,
    notes,
    outputsFile,
  }
}
