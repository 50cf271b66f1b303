// Turns a resolved Pod into what a local process needs: argv, a clean
// environment and a list of mounts. Pure (no file system) so both the
// bubblewrap and the plain layout share one reading of Kubernetes semantics.

import type { V1Container, V1EnvVar, V1KeyToPath, V1Pod, V1Volume } from '@kubernetes/client-node'
import type { StepLaunch } from '../types.js'
import { readLimits, type StepLimits } from './limits.js'

/** A problem that makes the step fail at start (reason StartError), like Kubernetes' CreateContainerConfigError. */
export class StartProblem extends Error {
  override readonly name = 'StartProblem'
}

export interface MountedFile {
  /** Relative to the mount (or '' when the mount is one file, via subPath). */
  path: string
  content: string
  mode: number
}

export type StepMount =
  | { kind: 'dir'; volume: string; source: 'pvc' | 'emptyDir'; mountPath: string; hostDir: string; readOnly: boolean; subPath?: string }
  | { kind: 'files'; volume: string; secret: boolean; mountPath: string; files: MountedFile[]; single: boolean }

export interface StepPlan {
  argv: string[]
  env: Record<string, string>
  workingDir?: string
  runAsUser?: number
  runAsGroup?: number
  /** Sorted so that a mount never precedes the mount of one of its parents. */
  mounts: StepMount[]
  timeoutSeconds?: number
  graceSeconds: number
  hostname: string
  image?: string
  /** Every secret value the step can see; redacted from its log before it reaches the disk. */
  secretValues: string[]
  /** 'none': loopback only (annotation `ctl.dev/network: "none"`, from the manifest's `network` field). */
  network?: 'none'
  /** The container's resources.limits (memory, cpu), parsed. */
  limits: StepLimits
  /** Where the step writes its outputs ($CTL_OUTPUTS): the container's terminationMessagePath, as on Kubernetes. */
  outputsPath?: string
}

/** The Pod annotation that takes a step off the network. */
export const NETWORK_ANNOTATION = 'ctl.dev/network'

const DEFAULT_GRACE_SECONDS = 10

/** Kubernetes `$(VAR)` expansion: defined names are replaced, `$$` is a literal `$`, anything else stays as written. */
export function expandVars(input: string, lookup: (name: string) => string | undefined): string {
  let out = ''
  for (let i = 0; i < input.length; i++) {
    const c = input[i]
    if (c !== '$' || i + 1 >= input.length) {
      out += c
      continue
    }
    const next = input[i + 1]
    if (next === '$') {
      out += '$'
      i++
    } else if (next === '(') {
      const close = input.indexOf(')', i + 2)
      if (close < 0) {
        out += '$('
        i++
      } else {
        const name = input.slice(i + 2, close)
        const value = lookup(name)
        out += value ?? `$(${name})`
        i = close
      }
    } else {
      out += '$' + next
      i++
    }
  }
  return out
}

function fieldRef(pod: V1Pod, fieldPath: string): string {
  const meta = pod.metadata ?? {}
  const m = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(fieldPath)
  if (m) return (m[1] === 'labels' ? meta.labels : meta.annotations)?.[m[2]!] ?? ''
  switch (fieldPath) {
    case 'metadata.name':
      return meta.name ?? ''
    case 'metadata.namespace':
      return meta.namespace ?? 'default'
    case 'metadata.uid':
      return meta.uid ?? ''
    case 'spec.nodeName':
      return 'localhost'
    case 'status.podIP':
    case 'status.hostIP':
      return '127.0.0.1'
    default:
      throw new StartProblem(`fieldRef "${fieldPath}" is not supported by the local runtime`)
  }
}

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/

function resolveEnv(launch: StepLaunch, container: V1Container, secretValues: Set<string>): Record<string, string> {
  const env: Record<string, string> = {}
  const lookup = (name: string) => (Object.prototype.hasOwnProperty.call(env, name) ? env[name] : undefined)
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? ''
    const source = from.secretRef ? launch.secretData : from.configMapRef ? launch.configData : undefined
    if (!source) continue
    for (const [k, v] of Object.entries(source)) {
      if (!ENV_NAME.test(prefix + k)) continue // Kubernetes skips invalid names too
      env[prefix + k] = v
      if (from.secretRef) secretValues.add(v)
    }
  }
  for (const e of container.env ?? []) {
    const v = envValue(launch, e, lookup, secretValues)
    if (v !== undefined) env[e.name] = v // an optional key that is missing leaves the variable unset
  }
  return env
}

function envValue(launch: StepLaunch, e: V1EnvVar, lookup: (n: string) => string | undefined, secretValues: Set<string>): string | undefined {
  if (e.value !== undefined) return expandVars(e.value, lookup)
  const from = e.valueFrom
  if (!from) return ''
  if (from.secretKeyRef) {
    const { key, optional } = from.secretKeyRef
    const v = launch.secretData[key]
    if (v === undefined) {
      if (optional) return undefined
      throw new StartProblem(`env ${e.name}: key "${key}" not found in the run's secret`)
    }
    secretValues.add(v)
    return v
  }
  if (from.configMapKeyRef) {
    const { key, optional } = from.configMapKeyRef
    const v = launch.configData[key]
    if (v === undefined) {
      if (optional) return undefined
      throw new StartProblem(`env ${e.name}: key "${key}" not found in the run's config`)
    }
    return v
  }
  if (from.fieldRef) return fieldRef(launch.pod, from.fieldRef.fieldPath)
  throw new StartProblem(`env ${e.name}: this kind of valueFrom is not supported by the local runtime`)
}

function itemsOf(
  data: Record<string, string>,
  items: V1KeyToPath[] | undefined,
  defaultMode: number | undefined,
  what: string,
  optional: boolean | undefined,
): MountedFile[] {
  const mode = defaultMode ?? 0o644
  if (!items) return Object.entries(data).map(([k, v]) => ({ path: k, content: v, mode }))
  const out: MountedFile[] = []
  for (const item of items) {
    const v = data[item.key]
    if (v === undefined) {
      if (optional) continue
      throw new StartProblem(`${what}: key "${item.key}" not found`)
    }
    out.push({ path: item.path, content: v, mode: item.mode ?? mode })
  }
  return out
}

/** The files of a configMap / secret / projected volume, and whether any of them is secret. */
function volumeFiles(launch: StepLaunch, vol: V1Volume): { files: MountedFile[]; secret: boolean } | undefined {
  const what = `volume "${vol.name}"`
  if (vol.secret) return { files: itemsOf(launch.secretData, vol.secret.items, vol.secret.defaultMode, what, vol.secret.optional), secret: true }
  if (vol.configMap) return { files: itemsOf(launch.configData, vol.configMap.items, vol.configMap.defaultMode, what, vol.configMap.optional), secret: false }
  if (vol.projected) {
    const files: MountedFile[] = []
    let secret = false
    for (const src of vol.projected.sources ?? []) {
      if (src.secret) {
        secret = true
        files.push(...itemsOf(launch.secretData, src.secret.items, vol.projected.defaultMode, what, src.secret.optional))
      } else if (src.configMap) {
        files.push(...itemsOf(launch.configData, src.configMap.items, vol.projected.defaultMode, what, src.configMap.optional))
      } else {
        throw new StartProblem(`${what}: only secret and configMap projections are supported by the local runtime`)
      }
    }
    return { files, secret }
  }
  return undefined
}

function checkRelative(p: string, what: string): void {
  if (p.startsWith('/') || p.split('/').includes('..')) throw new StartProblem(`${what}: path "${p}" must be relative and must not contain ".."`)
}

function resolveMounts(launch: StepLaunch, container: V1Container, emptyDirOf: (name: string) => string): StepMount[] {
  const volumes = new Map((launch.pod.spec?.volumes ?? []).map((v) => [v.name, v]))
  const mounts: StepMount[] = []
  for (const vm of container.volumeMounts ?? []) {
    const vol = volumes.get(vm.name)
    if (!vol) throw new StartProblem(`volumeMount "${vm.name}" names no volume of the pod`)
    if (!vm.mountPath.startsWith('/')) throw new StartProblem(`volumeMount "${vm.name}": mountPath "${vm.mountPath}" must be absolute`)
    const mountPath = normalizeAbs(vm.mountPath)
    if (vm.subPath) checkRelative(vm.subPath, `volumeMount "${vm.name}" subPath`)
    if (vol.persistentVolumeClaim) {
      const claim = vol.persistentVolumeClaim.claimName
      const hostDir = launch.volumeDirs[claim]
      if (!hostDir) throw new StartProblem(`volume "${vol.name}": no folder is known for claim "${claim}"`)
      const readOnly = Boolean(vm.readOnly || vol.persistentVolumeClaim.readOnly)
      mounts.push({ kind: 'dir', volume: vol.name, source: 'pvc', mountPath, hostDir, readOnly, subPath: vm.subPath || undefined })
      continue
    }
    if (vol.emptyDir) {
      mounts.push({ kind: 'dir', volume: vol.name, source: 'emptyDir', mountPath, hostDir: emptyDirOf(vol.name), readOnly: Boolean(vm.readOnly), subPath: vm.subPath || undefined })
      continue
    }
    const fileSet = volumeFiles(launch, vol)
    if (!fileSet) throw new StartProblem(`volume "${vol.name}": this volume type is not supported by the local runtime (use persistentVolumeClaim, emptyDir, configMap, secret or projected)`)
    for (const f of fileSet.files) checkRelative(f.path, `volume "${vol.name}" item`)
    let files = fileSet.files
    let single = false
    if (vm.subPath) {
      const sub = vm.subPath.replace(/\/+$/, '')
      const exact = files.find((f) => f.path === sub)
      if (exact) {
        files = [{ ...exact, path: '' }]
        single = true
      } else {
        files = files.filter((f) => f.path.startsWith(sub + '/')).map((f) => ({ ...f, path: f.path.slice(sub.length + 1) }))
        if (files.length === 0) throw new StartProblem(`volumeMount "${vm.name}": subPath "${vm.subPath}" matches no item of the volume`)
      }
    }
    mounts.push({ kind: 'files', volume: vol.name, secret: fileSet.secret, mountPath, files, single })
  }
  // Parents first, as the kubelet does; stable for equal depth.
  return mounts.map((m, i) => ({ m, i })).sort((a, b) => depth(a.m.mountPath) - depth(b.m.mountPath) || a.i - b.i).map((x) => x.m)
}

export function normalizeAbs(p: string): string {
  const parts: string[] = []
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') parts.pop()
    else parts.push(part)
  }
  return '/' + parts.join('/')
}

export function depth(p: string): number {
  return p === '/' ? 0 : p.split('/').length - 1
}

/**
 * Reads the main container of the pod. `hostPath` is the PATH used when the pod sets none;
 * `emptyDirOf` names the host folder that backs an emptyDir volume.
 */
export function planStep(launch: StepLaunch, hostPath: string, emptyDirOf: (name: string) => string): StepPlan {
  const pod = launch.pod
  const container = pod.spec?.containers?.[0]
  if (!container) throw new StartProblem('the pod has no container')
  const secretValues = new Set<string>()
  const env = resolveEnv(launch, container, secretValues)
  if (env.PATH === undefined) env.PATH = hostPath
  const hostname = (pod.metadata?.name ?? `${launch.key.step}-${launch.key.attempt}`).slice(0, 63)
  if (env.HOSTNAME === undefined) env.HOSTNAME = hostname
  const lookup = (name: string) => (Object.prototype.hasOwnProperty.call(env, name) ? env[name] : undefined)
  const argv = [...(container.command ?? []), ...(container.args ?? [])].map((a) => expandVars(a, lookup))
  if (argv.length === 0) throw new StartProblem('the container has no command: local steps cannot use an image entrypoint')
  const sc = container.securityContext
  const psc = pod.spec?.securityContext
  const timeout = launch.timeoutSeconds ?? pod.spec?.activeDeadlineSeconds
  for (const [k, v] of Object.entries(launch.secretData)) if (k && v) secretValues.add(v)
  const network = pod.metadata?.annotations?.[NETWORK_ANNOTATION]
  // Fail closed: a value this runtime does not know might have meant less network, not more.
  if (network !== undefined && network !== 'none' && network !== 'default') throw new StartProblem(`annotation ${NETWORK_ANNOTATION}: "${network}" is not supported (use "none" or "default")`)
  const mounts = resolveMounts(launch, container, emptyDirOf)
  let outputsPath: string | undefined
  if (container.terminationMessagePath) {
    if (!container.terminationMessagePath.startsWith('/')) throw new StartProblem(`terminationMessagePath "${container.terminationMessagePath}" must be absolute`)
    outputsPath = normalizeAbs(container.terminationMessagePath)
    // A file of its own, as the kubelet mounts it: never inside a volume, where it would land in the volume.
    const under = mounts.find((m) => outputsPath!.startsWith(m.mountPath === '/' ? '/' : m.mountPath + '/') || m.mountPath === outputsPath)
    if (under) throw new StartProblem(`terminationMessagePath ${outputsPath} lies in volume "${under.volume}" at ${under.mountPath}`)
  }
  return {
    argv,
    env,
    workingDir: container.workingDir ? normalizeAbs(container.workingDir) : undefined,
    runAsUser: sc?.runAsUser ?? psc?.runAsUser,
    runAsGroup: sc?.runAsGroup ?? psc?.runAsGroup,
    mounts,
    timeoutSeconds: timeout && timeout > 0 ? timeout : undefined,
    graceSeconds: pod.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS,
    hostname,
    image: container.image,
    secretValues: [...secretValues].filter((v) => v.length > 0),
    network: network === 'none' ? 'none' : undefined,
    limits: readLimits(container.resources?.limits as Record<string, unknown> | undefined),
    outputsPath,
  }
}
