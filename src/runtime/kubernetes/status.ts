// How a Pod's status becomes a step's exit (pure: tested without a cluster). Kubernetes reports
// the main container's termination, pod-level reasons (Evicted, DeadlineExceeded) and waiting
// reasons (image pulls); the runtime waits for the first two and gives image pulls a grace period.

import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node'
import type { StepExit } from '../types.js'
import { KUBERNETES_MESSAGE_BYTES, outputLimits, outputsProblem, parseOutputs } from '../outputs.js'

export const PULL_FAILURES = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull'])

export function mainStatus(pod: V1Pod): V1ContainerStatus | undefined {
  const name = pod.spec?.containers?.[0]?.name
  const all = pod.status?.containerStatuses ?? []
  return all.find((s) => s.name === name) ?? (all.length === 1 ? all[0] : undefined)
}

function iso(t: Date | string | undefined, now: Date): string {
  if (!t) return now.toISOString()
  return typeof t === 'string' ? t : t.toISOString()
}

/** The exit of a Pod that has ended, or undefined while it has not (pending, unschedulable, running). */
export function exitFromPod(pod: V1Pod, now = new Date()): StepExit | undefined {
  const status = pod.status
  const reason = status?.reason
  if (reason === 'Evicted') {
    // Transient: the node ran short of resources, not the step's fault; retry policies apply.
    return { exitCode: null, reason: 'Lost', message: `pod evicted: ${status?.message ?? 'no message'}`, finishedAt: now.toISOString() }
  }
  if (reason === 'DeadlineExceeded') {
    return { exitCode: null, reason: 'DeadlineExceeded', message: status?.message ?? 'the pod exceeded its active deadline', finishedAt: now.toISOString() }
  }
  const term = mainStatus(pod)?.state?.terminated
  if (term) {
    const finishedAt = iso(term.finishedAt, now)
    if (term.reason === 'OOMKilled') {
      return { exitCode: term.exitCode ?? 137, reason: 'Error', message: `OOMKilled: the container ran out of memory${limitText(pod)}`, finishedAt }
    }
    // With a termination message file (the Pod builder sets one), the message is the step's outputs, not a reason.
    const outputs = carriesOutputs(pod) ? outputsOf(term.message ?? '') : undefined
    let exit: StepExit
    if (term.exitCode === 0) exit = { exitCode: 0, reason: 'Completed', finishedAt }
    else {
      const detail = (outputs ? '' : term.message?.trim()) || term.reason || 'Error'
      exit = { exitCode: term.exitCode ?? null, reason: 'Error', message: `exit code ${term.exitCode}: ${detail}`, finishedAt }
    }
    if (outputs?.outputs) exit.outputs = outputs.outputs
    if (outputs?.problem) {
      // As on the local runtime: bad outputs fail a step that succeeded, and are named in the message of one that did not.
      exit.message = exit.reason === 'Completed' ? outputs.problem : `${exit.message}; ${outputs.problem}`
      exit.reason = 'Error'
    }
    return exit
  }
  if (status?.phase === 'Succeeded') return { exitCode: 0, reason: 'Completed', finishedAt: now.toISOString() }
  if (status?.phase === 'Failed') {
    return { exitCode: null, reason: 'Error', message: `pod failed: ${status.reason ?? ''} ${status.message ?? ''}`.trim(), finishedAt: now.toISOString() }
  }
  return undefined
}

/** Whether the main container's termination message is its outputs file ($CTL_OUTPUTS): set, and read as a file only. */
export function carriesOutputs(pod: V1Pod): boolean {
  const c = pod.spec?.containers?.[0]
  return Boolean(c?.terminationMessagePath) && (c?.terminationMessagePolicy ?? 'File') === 'File'
}

/**
 * The outputs in a termination message. The kubelet keeps only the LAST 4096 bytes of the file: a message that
 * long may have lost its start, which would silently change values (a cut heredoc, a key missing), so it fails.
 */
export function outputsOf(message: string): { outputs?: Record<string, string>; problem?: string } {
  if (message === '') return {}
  if (Buffer.byteLength(message, 'utf8') >= KUBERNETES_MESSAGE_BYTES) {
    return {
      problem: `outputs: Kubernetes keeps at most ${KUBERNETES_MESSAGE_BYTES} bytes of $CTL_OUTPUTS (the container's termination message) and this step wrote that much or more, so its outputs may be cut; on Kubernetes a step's outputs must stay under 4 KiB (1 MiB on the local runtime)`,
    }
  }
  const parsed = parseOutputs(message, outputLimits())
  const problem = outputsProblem(parsed.problems)
  if (problem) return { problem }
  return Object.keys(parsed.outputs).length > 0 ? { outputs: parsed.outputs } : {}
}

function limitText(pod: V1Pod): string {
  const limit = pod.spec?.containers?.[0]?.resources?.limits?.memory
  return limit ? ` (limit ${String(limit)})` : ''
}

/** The kubelet cannot create or start the container (e.g. a Secret key it names is missing): it retries, in vain, forever. */
export const CREATE_FAILURES = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError'])

export interface StartProblem {
  kind: 'pull' | 'create'
  image: string
  reason: string
  message: string
}

/** Why the main container cannot start right now (image pull, container creation), if it cannot. */
export function startProblem(pod: V1Pod): StartProblem | undefined {
  const st = mainStatus(pod)
  const waiting = st?.state?.waiting
  const reason = waiting?.reason
  if (!reason) return undefined
  const kind = PULL_FAILURES.has(reason) ? 'pull' : CREATE_FAILURES.has(reason) ? 'create' : undefined
  if (!kind) return undefined
  const image = pod.spec?.containers?.[0]?.image ?? st?.image ?? '?'
  return { kind, image, reason, message: waiting.message ?? '' }
}

export function startFailureExit(p: StartProblem, graceSeconds: number, now = new Date()): StepExit {
  const detail = p.message ? `: ${p.message}` : ''
  const what = p.kind === 'create' ? 'the container could not be created' : `image ${p.image} could not be pulled`
  return {
    exitCode: null,
    reason: 'StartError',
    message: `${what} (${p.reason} for over ${graceSeconds}s)${detail}`,
    finishedAt: now.toISOString(),
  }
}

/** True once the main container runs or has run: its log can be read. */
export function logReadable(pod: V1Pod): boolean {
  const state = mainStatus(pod)?.state
  return Boolean(state?.running || state?.terminated)
}

/** Why a Pod still waits (the scheduler's message for an unschedulable Pod), for messages and `runtime get`. */
export function pendingReason(pod: V1Pod): string | undefined {
  const cond = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False')
  if (cond) return `${cond.reason ?? 'Unschedulable'}: ${cond.message ?? ''}`.trim()
  const waiting = mainStatus(pod)?.state?.waiting
  return waiting?.reason ? `${waiting.reason}: ${waiting.message ?? ''}`.trim() : undefined
}
