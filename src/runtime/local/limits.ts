// resources.limits of a local step: memory and cpu are enforced where this machine allows it.
// cgroup v2, when the control plane may create cgroups below a delegated one (memory.max,
// cpu.max on a child cgroup per step); else memory through prlimit (RLIMIT_AS: address space,
// which over-counts programs that reserve much virtual memory, such as node) and cpu not at all.
// Each step's handle notes say which enforcement it got.

import fs from 'node:fs'
import path from 'node:path'
import { parseQuantity } from '../../manifest/quantity.js'
import { StartProblem } from './pod.js'

export interface StepLimits {
  memory?: { text: string; bytes: number }
  cpu?: { text: string; cores: number }
}

/** What the step host does for a step's limits (part of the supervisor spec). */
export interface CgroupSpec {
  /** The step's own cgroup folder, created before and removed after the step. */
  dir: string
  /** Control files written before the step is moved in (memory.max, cpu.max). */
  files: Record<string, string>
}

export interface LimitSupport {
  /** A cgroup v2 folder below which this process may create cgroups with the memory and cpu controllers. */
  cgroupParent?: string
  /** Why there is none, for notes. */
  noCgroup: string
  prlimitPath?: string
}

export interface Enforcement {
  /** Command prefix: prlimit --as=BYTES -- */
  wrap: string[]
  cgroup?: CgroupSpec
  notes: string[]
}

/** Reads `resources.limits` of the container; a quantity that does not parse cannot start. */
export function readLimits(limits: Record<string, unknown> | undefined): StepLimits {
  const out: StepLimits = {}
  for (const key of ['memory', 'cpu'] as const) {
    const raw = limits?.[key]
    if (raw === undefined || raw === null) continue
    if (typeof raw !== 'string' && typeof raw !== 'number') throw new StartProblem(`resources.limits.${key} must be a quantity`)
    const v = parseQuantity(raw)
    if (v === undefined || v <= 0) throw new StartProblem(`resources.limits.${key} "${raw}" is not a positive quantity (e.g. ${key === 'memory' ? '256Mi' : '500m'})`)
    if (key === 'memory') out.memory = { text: String(raw), bytes: Math.ceil(v) }
    else out.cpu = { text: String(raw), cores: v }
  }
  return out
}

function cgroup2Mount(): string | undefined {
  try {
    for (const line of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
      const f = line.split(' ')
      if (f[2] === 'cgroup2') return f[1]
    }
  } catch {}
  return undefined
}

/**
 * Looked up once per runtime. `configured` names a delegated cgroup v2 folder; without it the
 * control plane's own cgroup is used when it already hands memory and cpu to children (in
 * cgroup v2 only the root cgroup may hold processes and enable controllers for children).
 */
export function detectLimitSupport(configured: string | undefined, prlimitPath: string | undefined): LimitSupport {
  const support = (noCgroup: string, cgroupParent?: string): LimitSupport => ({ cgroupParent, noCgroup, prlimitPath })
  const mount = cgroup2Mount()
  if (!mount) return support('no cgroup v2 here')
  let parent = configured
  if (!parent) {
    try {
      const own = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'))
      if (!own) return support('no cgroup v2 here')
      parent = path.resolve(path.join(mount, own.slice(3).trim()))
    } catch {
      return support('no cgroup v2 here')
    }
  }
  try {
    const available = fs.readFileSync(path.join(parent, 'cgroup.controllers'), 'utf8').split(/\s+/)
    // A hybrid setup mounts cgroup v2 with every controller still bound to v1.
    if (!available.includes('memory') || !available.includes('cpu')) return support('no cgroup v2 with the memory and cpu controllers here')
    fs.accessSync(parent, fs.constants.W_OK)
    let enabled = fs.readFileSync(path.join(parent, 'cgroup.subtree_control'), 'utf8').split(/\s+/)
    if (!enabled.includes('memory') || !enabled.includes('cpu')) {
      fs.writeFileSync(path.join(parent, 'cgroup.subtree_control'), '+memory +cpu')
      enabled = fs.readFileSync(path.join(parent, 'cgroup.subtree_control'), 'utf8').split(/\s+/)
    }
    if (!enabled.includes('memory') || !enabled.includes('cpu')) return support(`cgroup ${parent} does not delegate memory and cpu`)
  } catch (e) {
    return support(`cgroup ${parent} is not delegated to this control plane (${(e as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  return support('', parent)
}

const CPU_PERIOD_US = 100_000

/** How the limits of one step are enforced; `name` names its cgroup. */
export function enforce(limits: StepLimits, support: LimitSupport, name: string): Enforcement {
  const out: Enforcement = { wrap: [], notes: [] }
  const { memory, cpu } = limits
  if (!memory && !cpu) return out
  if (support.cgroupParent) {
    const files: Record<string, string> = {}
    if (memory) {
      files['memory.max'] = String(memory.bytes)
      out.notes.push(`memory limit ${memory.text} enforced by cgroup v2 (memory.max)`)
    }
    if (cpu) {
      files['cpu.max'] = `${Math.max(1000, Math.ceil(cpu.cores * CPU_PERIOD_US))} ${CPU_PERIOD_US}`
      out.notes.push(`cpu limit ${cpu.text} enforced by cgroup v2 (cpu.max)`)
    }
    out.cgroup = { dir: path.join(support.cgroupParent, name), files }
    return out
  }
  if (memory) {
    if (support.prlimitPath) {
      out.wrap = [support.prlimitPath, `--as=${memory.bytes}`, '--']
      out.notes.push(`memory limit ${memory.text} enforced by prlimit (address space)`)
    } else out.notes.push(`memory limit ${memory.text} not enforced: ${support.noCgroup} and no prlimit`)
  }
  if (cpu) out.notes.push(`cpu limit ${cpu.text} not enforced: ${support.noCgroup}`)
  return out
}
