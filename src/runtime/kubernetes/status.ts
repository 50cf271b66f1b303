// How a Pod's status becomes a step's exit (pure: tested without a cluster). Kubernetes reports
// the main container's termination, pod-level reasons (Evicted, DeadlineExceeded) and waiting
// reasons (image pulls); the runtime waits for the first two and gives image pulls a grace period.

import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node'
import type { StepExit } from '../types.js'

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
    if (term.exitCode === 0) return { exitCode: 0, reason: 'Completed', finishedAt }
    const detail = term.message?.trim() || term.reason || 'Error'
    return { exitCode: term.exitCode ?? null, reason: 'Error', message: `exit code ${term.exitCode}: ${detail}`, finishedAt }
  }
  if (status?.phase === 'Succeeded') return { exitCode: 0, reason: 'Completed', finishedAt: now.toISOString() }
  if (status?.phase === 'Failed') {
    return { exitCode: null, reason: 'Error', message: `pod failed: ${status.reason ?? ''} ${status.message ?? ''}`.trim(), finishedAt: now.toISOString() }
  }
  return undefined
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
