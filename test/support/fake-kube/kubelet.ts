// Scripted kubelet: plays each Pod through scheduling, image pull, running (writing log lines) and
// termination, per a PodBehaviour. Status writes go straight to the store (no HTTP, not in the request log).
import { randomBytes } from 'node:crypto'
import type { LogBook } from './logs.js'
import type { ObjectStore } from './store.js'
import type { BehaviourFn, KubeObject, PodBehaviour, PodFailure } from './types.js'

interface Container { name: string; image?: string; command?: string[]; args?: string[]; terminationMessagePath?: string; terminationMessagePolicy?: string }

/** The kubelet's MaxContainerTerminationMessageLength: it keeps the last this many bytes of the file. */
export const TERMINATION_MESSAGE_BYTES = 4096
interface PodSpec { containers?: Container[]; initContainers?: Container[]; nodeName?: string; volumes?: PodVolume[] }
interface PodVolume { projected?: { sources?: { configMap?: { name?: string } }[] }; configMap?: { name?: string } }
interface PodStatus { phase?: string; reason?: string; message?: string; conditions?: Condition[]; [k: string]: unknown }
interface Condition { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string; lastProbeTime?: null }

/** How the main container ends when a held Pod is released. */
export interface Outcome { exitCode?: number; failure?: PodFailure; message?: string; terminationMessage?: string }

interface Play {
  cancelled: boolean
  release?: (o: Outcome) => void
  /** Set by terminate() before the play reached its hold: ends the container at the next step. */
  early?: Outcome
}

class Cancelled extends Error {}

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z')
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

function unquote(s: string): string {
  const t = s.trim()
  if (t.length >= 2 && (t[0] === '"' || t[0] === "'") && t[t.length - 1] === t[0]) return t.slice(1, -1)
  return t
}

/** A shell the fake kubelet plays scripts of: sh, bash, zsh, dash, by name or path. */
const SHELL = /(^|\/)(ba|z|da)?sh$/

/** Default: for `sh -c SCRIPT` print each `echo X` of SCRIPT and exit with its `exit N` (0 if none). */
export const defaultBehaviour: BehaviourFn = (pod) => {
  const c = (pod.spec as PodSpec | undefined)?.containers?.[0]
  const argv = [...(c?.command ?? []), ...(c?.args ?? [])]
  const shell = argv.findIndex((a, i) => SHELL.test(a) && argv[i + 1] === '-c')
  if (shell < 0) return { lines: [], exitCode: 0 }
  const script = argv[shell + 2] ?? ''
  const lines: string[] = []
  let terminationMessage = ''
  let exitCode = 0
  for (const raw of script.split(/\n|;|&&/)) {
    const seg = raw.trim()
    // `echo X >> "$CTL_OUTPUTS"`: a line of the step's outputs file, which the kubelet returns as the termination message.
    const output = /^echo\s+(.*?)\s*>>\s*"?\$\{?CTL_OUTPUTS\}?"?$/.exec(seg)
    if (output) {
      terminationMessage += unquote(output[1] ?? '') + '\n'
      continue
    }
    const echo = /^echo(?:\s+-n)?(?:\s+(.*))?$/.exec(seg)
    if (echo) lines.push(unquote(echo[1] ?? ''))
    const exit = /^exit\s+(\d+)$/.exec(seg)
    if (exit) {
      exitCode = Number(exit[1])
      break
    }
  }
  return { lines, exitCode, ...(terminationMessage ? { terminationMessage } : {}) }
}

/** The termination message the kubelet reports for a container: the last 4096 bytes of its file, policy File only. */
function terminationMessageOf(c: Container, written: string | undefined): string | undefined {
  if (!written || (c.terminationMessagePolicy ?? 'File') !== 'File') return undefined
  const bytes = Buffer.from(written, 'utf8')
  // Bytes, as the kubelet reads them: a cut UTF-8 character becomes U+FFFD on the wire (Go's JSON encoding).
  return bytes.length > TERMINATION_MESSAGE_BYTES ? bytes.subarray(bytes.length - TERMINATION_MESSAGE_BYTES).toString('utf8') : written
}

export class ScriptedKubelet {
  private readonly plays = new Map<string, Play>()
  behaviour: BehaviourFn

  constructor(
    private readonly store: ObjectStore,
    private readonly logs: LogBook,
    behaviour: BehaviourFn | undefined,
    private readonly auto: boolean,
  ) {
    this.behaviour = behaviour ?? defaultBehaviour
    store.subscribe((e) => {
      if (e.resource !== 'pods') return
      const pod = e.event.object
      if (e.event.type === 'ADDED' && this.auto) this.start(pod.metadata!.namespace!, pod.metadata!.name!)
      if (e.event.type === 'DELETED') this.stop(pod)
    })
  }

  /** Starts playing a Pod (automatic unless autoKubelet: false). */
  start(ns: string, name: string): void {
    const pod = this.store.mustGet('pods', ns, name)
    const uid = pod.metadata!.uid!
    if (this.plays.has(uid)) return
    const play: Play = { cancelled: false }
    this.plays.set(uid, play)
    // Deferred so the create answer reaches the client before the first status change.
    setImmediate(() => {
      this.play(ns, name, uid, play, this.behaviour(this.withMountedScript(pod))).catch((err: unknown) => {
        if (!(err instanceof Cancelled)) throw err
      })
    })
  }

  /**
   * The Pod as its container sees its command: a real kubelet mounts the ConfigMap that holds the script of
   * `sh /etc/ctl/config/FILE` (the script stack), so it is played as `sh -c <that script>`.
   */
  private withMountedScript(pod: KubeObject): KubeObject {
    const spec = pod.spec as PodSpec | undefined
    const main = spec?.containers?.[0]
    const command = main?.command ?? []
    const file = /^\/etc\/ctl\/config\/(.+)$/.exec(command[1] ?? '')?.[1]
    if (!main || !SHELL.test(command[0] ?? '') || !file) return pod
    for (const v of spec?.volumes ?? []) {
      for (const source of [...(v.projected?.sources ?? []), ...(v.configMap ? [{ configMap: v.configMap }] : [])]) {
        const name = source.configMap?.name
        const cm = name ? this.store.get('configmaps', pod.metadata?.namespace, name) : undefined
        const script = (cm?.data as Record<string, string> | undefined)?.[file]
        if (script !== undefined) return { ...pod, spec: { ...spec, containers: [{ ...main, command: [command[0]!, '-c', script] }, ...(spec!.containers ?? []).slice(1)] } }
      }
    }
    return pod
  }

  /** Ends a Pod's main container with this outcome: now when held, else once it is running (its remaining lines skipped). */
  terminate(ns: string, name: string, outcome: Outcome = {}): void {
    const pod = this.store.mustGet('pods', ns, name)
    const play = this.plays.get(pod.metadata!.uid!)
    if (!play) throw new Error(`pod ${ns}/${name} is not being played (finished, or never started)`)
    if (play.release) play.release(outcome)
    else play.early = outcome
  }

  /** Whether the Pod's play wrote its lines and holds (waits for terminate()): a terminate now skips nothing. */
  held(ns: string, name: string): boolean {
    const uid = this.store.get('pods', ns, name)?.metadata?.uid
    return uid !== undefined && this.plays.get(uid)?.release !== undefined
  }

  /** Evicts a Pod now, whatever its state: phase Failed, reason Evicted. */
  evict(ns: string, name: string, message?: string): void {
    const pod = this.store.mustGet('pods', ns, name)
    const uid = pod.metadata!.uid!
    const play = this.plays.get(uid)
    if (play) {
      play.cancelled = true
      play.release?.({})
    }
    this.finish(ns, name, uid, { failure: 'Evicted', message })
  }

  /** Appends a log line to a container of a Pod (default: its first container). */
  writeLog(ns: string, name: string, text: string, container?: string): void {
    const pod = this.store.mustGet('pods', ns, name)
    this.logs.write(pod.metadata!.uid!, container ?? mainContainer(pod), text)
  }

  /** Cancels every play (on server close) so no timers or held promises outlive the fake. */
  stopAll(): void {
    for (const play of this.plays.values()) {
      play.cancelled = true
      play.release?.({})
    }
    this.plays.clear()
  }

  private stop(pod: KubeObject): void {
    const uid = pod.metadata!.uid!
    const play = this.plays.get(uid)
    if (play) {
      play.cancelled = true
      play.release?.({})
    }
    for (const c of containerNames(pod)) this.logs.end(uid, c)
  }

  private mutate(ns: string, name: string, uid: string, fn: (pod: KubeObject, status: PodStatus) => void): void {
    const pod = this.store.get('pods', ns, name)
    if (!pod || pod.metadata!.uid !== uid) throw new Cancelled()
    const status = (pod.status ??= {}) as PodStatus
    fn(pod, status)
    this.store.update('pods', ns, pod)
  }

  private event(pod: { ns: string; name: string; uid: string }, type: 'Normal' | 'Warning', reason: string, message: string): void {
    if (!this.store.get('namespaces', undefined, pod.ns)) return
    const t = now()
    this.store.create('events', pod.ns, {
      metadata: { name: `${pod.name}.${randomBytes(8).toString('hex')}` },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name: pod.name, namespace: pod.ns, uid: pod.uid },
      type, reason, message, count: 1, firstTimestamp: t, lastTimestamp: t,
      source: { component: reason === 'Scheduled' || reason === 'FailedScheduling' ? 'default-scheduler' : 'kubelet' },
    })
  }

  private async play(ns: string, name: string, uid: string, play: Play, b: PodBehaviour): Promise<void> {
    const delay = b.delayMs ?? 2
    const step = async (): Promise<void> => {
      await sleep(delay)
      if (play.cancelled) throw new Cancelled()
    }
    const ref = { ns, name, uid }
    await step()
    if (b.failure === 'Unschedulable') {
      const message = b.message ?? '0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.'
      this.mutate(ns, name, uid, (_p, s) => setCondition(s, 'PodScheduled', 'False', 'Unschedulable', message))
      this.event(ref, 'Warning', 'FailedScheduling', message)
      return // stays Pending, as on a full cluster
    }
    this.mutate(ns, name, uid, (p, s) => {
      ;(p.spec as PodSpec).nodeName = 'fake-node-1'
      setCondition(s, 'PodScheduled', 'True')
      s.hostIP = '10.0.0.1'
      s.startTime = now()
      s.containerStatuses = containers(p).map((c) => containerStatus(c, { waiting: { reason: 'ContainerCreating' } }))
    })
    this.event(ref, 'Normal', 'Scheduled', `Successfully assigned ${ns}/${name} to fake-node-1`)
    await step()
    const pod = this.store.mustGet('pods', ns, name)
    const image = containers(pod)[0]?.image ?? ''
    if (b.failure === 'ErrImagePull') {
      const message = b.message ?? `failed to pull and unpack image "${image}": not found`
      this.mutate(ns, name, uid, (p, s) => {
        s.containerStatuses = containers(p).map((c, i) =>
          containerStatus(c, { waiting: i === 0 ? { reason: 'ErrImagePull', message } : { reason: 'PodInitializing' } }))
      })
      this.event(ref, 'Warning', 'Failed', `Failed to pull image "${image}": ${message}`)
      await step()
      this.mutate(ns, name, uid, (p, s) => {
        s.containerStatuses = containers(p).map((c, i) =>
          containerStatus(c, { waiting: i === 0 ? { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` } : { reason: 'PodInitializing' } }))
      })
      this.event(ref, 'Normal', 'BackOff', `Back-off pulling image "${image}"`)
      return // stays Pending, as kubelet keeps backing off
    }
    this.event(ref, 'Normal', 'Pulled', `Container image "${image}" already present on machine`)
    const startedAt = now()
    this.mutate(ns, name, uid, (p, s) => {
      s.phase = 'Running'
      s.podIP = '10.244.0.' + (1 + (Number.parseInt(uid.slice(0, 2), 16) % 250))
      const init = (p.spec as PodSpec).initContainers ?? []
      if (init.length) {
        s.initContainerStatuses = init.map((c) => containerStatus(c, { terminated: { exitCode: 0, reason: 'Completed', startedAt, finishedAt: startedAt } }))
      }
      setCondition(s, 'Initialized', 'True')
      setCondition(s, 'ContainersReady', 'True')
      setCondition(s, 'Ready', 'True')
      s.containerStatuses = containers(p).map((c) => ({ ...containerStatus(c, { running: { startedAt } }), ready: true, started: true }))
    })
    this.event(ref, 'Normal', 'Started', `Started container ${mainContainer(pod)}`)
    const main = mainContainer(pod)
    for (const line of b.lines ?? []) {
      if (play.early) break
      this.logs.write(uid, main, line)
      if (delay > 0) await step()
    }
    let outcome: Outcome = play.early ?? { exitCode: b.exitCode ?? 0, failure: b.failure, terminationMessage: b.terminationMessage }
    if (b.hold && !play.early) {
      outcome = await new Promise<Outcome>((resolve) => { play.release = resolve })
      if (play.cancelled) throw new Cancelled()
    }
    await step()
    this.finish(ns, name, uid, outcome, startedAt)
  }

  private finish(ns: string, name: string, uid: string, o: Outcome, startedAt = now()): void {
    const pod = this.store.get('pods', ns, name)
    if (!pod || pod.metadata!.uid !== uid) return
    for (const c of containerNames(pod)) this.logs.end(uid, c)
    this.plays.delete(uid)
    const failure = o.failure
    const exitCode = failure === 'OOMKilled' || failure === 'Evicted' || failure === 'DeadlineExceeded' ? 137 : (o.exitCode ?? 0)
    const reason = failure === 'OOMKilled' ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error'
    const finishedAt = now()
    const ref = { ns, name, uid }
    this.mutate(ns, name, uid, (p, s) => {
      s.phase = exitCode === 0 && !failure ? 'Succeeded' : 'Failed'
      if (failure === 'Evicted') {
        s.reason = 'Evicted'
        s.message = o.message ?? 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 51200Ki.'
      }
      if (failure === 'DeadlineExceeded') {
        s.reason = 'DeadlineExceeded'
        s.message = o.message ?? 'Pod was active on the node longer than the specified deadline'
      }
      setCondition(s, 'Ready', 'False', 'PodCompleted')
      setCondition(s, 'ContainersReady', 'False', 'PodCompleted')
      const main = mainContainer(p)
      s.containerStatuses = containers(p).map((c) => {
        const message = c.name === main && failure !== 'Evicted' ? terminationMessageOf(c, o.terminationMessage) : undefined
        return {
          ...containerStatus(c, { terminated: { exitCode, reason, ...(message ? { message } : {}), startedAt, finishedAt, containerID: `containerd://${uid}` } }),
          started: false,
        }
      })
    })
    if (failure === 'Evicted') this.event(ref, 'Warning', 'Evicted', o.message ?? 'The node was low on resource: memory.')
    if (failure === 'DeadlineExceeded') this.event(ref, 'Normal', 'DeadlineExceeded', 'Pod was active on the node longer than the specified deadline')
    if (failure === 'OOMKilled') this.event(ref, 'Warning', 'OOMKilling', `Memory cgroup out of memory: Killed process in container ${mainContainer(pod)}`)
  }
}

function containers(pod: KubeObject): Container[] {
  return (pod.spec as PodSpec | undefined)?.containers ?? []
}

function containerNames(pod: KubeObject): string[] {
  const spec = pod.spec as PodSpec | undefined
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].map((c) => c.name)
}

export function mainContainer(pod: KubeObject): string {
  return containers(pod)[0]?.name ?? ''
}

function containerStatus(c: Container, state: Record<string, unknown>): Record<string, unknown> {
  return { name: c.name, image: c.image ?? '', imageID: '', ready: false, restartCount: 0, started: false, state }
}

function setCondition(s: PodStatus, type: string, status: string, reason?: string, message?: string): void {
  const conds = (s.conditions ??= [])
  const c: Condition = { type, status, lastProbeTime: null, lastTransitionTime: now(), ...(reason ? { reason } : {}), ...(message ? { message } : {}) }
  const i = conds.findIndex((x) => x.type === type)
  if (i >= 0) conds[i] = c
  else conds.push(c)
}
