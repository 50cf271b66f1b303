// A Pod and its Events as `ctl resource runtime get --node` shows them (pure: tested without a cluster).
// The same facts as `kubectl describe pod`: conditions, each container's state, and the events.

import type { CoreV1Event, V1ContainerStatus, V1Pod } from '@kubernetes/client-node'
import type { StepDescription } from '../types.js'
import { carriesOutputs, pendingReason } from './status.js'

function iso(t: Date | string | undefined | null): string | undefined {
  if (!t) return undefined
  return typeof t === 'string' ? t : t.toISOString()
}

function containerState(name: string, image: string, st: V1ContainerStatus | undefined, outputs: boolean): StepDescription['containers'][number] {
  const s = st?.state
  const base = { name, image: st?.image ?? image, restarts: st?.restartCount ?? 0 }
  if (s?.terminated) {
    const t = s.terminated
    // A termination message that is the step's outputs is shown (redacted) with the attempt, not here raw.
    return { ...base, state: 'Terminated', reason: t.reason, message: outputs ? undefined : t.message, exitCode: t.exitCode, startedAt: iso(t.startedAt), finishedAt: iso(t.finishedAt) }
  }
  if (s?.running) return { ...base, state: 'Running', startedAt: iso(s.running.startedAt) }
  if (s?.waiting) return { ...base, state: 'Waiting', reason: s.waiting.reason, message: s.waiting.message }
  return { ...base, state: 'Waiting', reason: 'NotCreated' }
}

/** Phase and reason of a Pod for tables: `Pending` with the scheduler's message while unschedulable. */
export function podPhase(pod: V1Pod): { phase: string; message?: string } {
  const phase = pod.status?.phase ?? 'Pending'
  if (phase === 'Pending') return { phase, message: pendingReason(pod) }
  if (pod.status?.reason) return { phase, message: `${pod.status.reason}: ${pod.status.message ?? ''}`.trim() }
  return { phase }
}

export function describePod(pod: V1Pod, events: CoreV1Event[]): StepDescription {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]
  const main = carriesOutputs(pod) ? pod.spec?.containers?.[0]?.name : undefined
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) =>
    containerState(c.name, c.image ?? '', statuses.find((s) => s.name === c.name), c.name === main),
  )
  const uid = pod.metadata?.uid
  const mine = events
    .filter((e) => !uid || !e.involvedObject?.uid || e.involvedObject.uid === uid)
    .map((e) => ({
      time: iso(e.lastTimestamp) ?? iso(e.eventTime) ?? iso(e.firstTimestamp) ?? iso(e.metadata?.creationTimestamp) ?? '',
      type: e.type ?? 'Normal',
      reason: e.reason ?? '',
      message: e.message ?? '',
      source: e.source?.component ?? e.reportingComponent,
      count: e.count ?? 1,
    }))
    .sort((a, b) => a.time.localeCompare(b.time))
  const { phase, message } = podPhase(pod)
  return {
    object: `pod ${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`,
    node: pod.spec?.nodeName,
    phase,
    message,
    conditions: (pod.status?.conditions ?? []).map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message, since: iso(c.lastTransitionTime) })),
    containers,
    events: mine,
  }
}
