// Following one Pod to its end: its phase through the namespace's informer, its main container's log through a
// follow stream that resumes by timestamp (LogCursor), the image pull grace, a kill's reason, and the exit with
// its outputs (the termination message), redacted. Reattaching after a restart is the same call.

import type { CoreV1Api, KubeConfig, V1Pod } from '@kubernetes/client-node'
import type { LogBatch, StepExit } from '../types.js'
import { streamLines, StreamError } from './http.js'
import type { PodView } from './informer.js'
import { LogCursor } from './logs.js'
import type { PodRef } from './pod-gc.js'
import { backoffMs, sleep } from './retry.js'
import { exitFromPod, logReadable, startFailureExit, startProblem } from './status.js'

/** Reads of the final log that may fail transiently before follow() gives up on the rest of the log. */
const FINAL_LOG_TRIES = 5

export interface FollowedPod extends PodRef {
  container?: string
}

export interface FollowDeps {
  kc: KubeConfig
  api: CoreV1Api
  d: FollowedPod
  redact: (text: string) => string
  watcher: PodView
  /** Pods start() created, by uid: dropped once followed to the end. */
  created: Map<string, V1Pod>
  /** A kill's reason, by uid. */
  killed: Map<string, string>
  graceSeconds: number
  deletePod(api: CoreV1Api, d: PodRef, grace: number): Promise<void>
}

/** Delivers the Pod's log lines from `fromOffset` until it ended and every line is delivered; then its exit. */
export async function followPod(deps: FollowDeps, fromOffset: number, onLogs: (batch: LogBatch) => Promise<void>, signal?: AbortSignal): Promise<StepExit> {
  const { kc, api, d, redact, watcher, created, killed, graceSeconds, deletePod } = deps
  const cursor = new LogCursor(fromOffset)
  const finish = (exit: StepExit): StepExit => {
    created.delete(d.uid)
    const out = { ...exit }
    if (exit.message !== undefined) out.message = redact(exit.message)
    if (exit.outputs) out.outputs = Object.fromEntries(Object.entries(exit.outputs).map(([k, v]) => [k, redact(v)]))
    return out
  }
  const killedExit = (): StepExit | undefined => {
    const why = killed.get(d.uid)
    return why === undefined ? undefined : { exitCode: null, reason: 'Killed', message: why, finishedAt: new Date().toISOString() }
  }
  const aborted = () => {
    if (signal?.aborted) throw signal.reason
  }

  /** Reads the log from the cursor on; 'ended' when the server ended it, 'unavailable' when there is none to read. */
  async function readLog(followIt: boolean): Promise<'ended' | 'unavailable' | 'error'> {
    const ctl = new AbortController()
    const stopOnGone = watcher.onChange(() => {
      if (watcher.gone) ctl.abort()
    })
    const stopOnAbort = () => ctl.abort()
    signal?.addEventListener('abort', stopOnAbort, { once: true })
    cursor.beginRead()
    try {
      await streamLines(
        kc,
        `/api/v1/namespaces/${encodeURIComponent(d.namespace)}/pods/${encodeURIComponent(d.podName)}/log`,
        { container: d.container || undefined, follow: String(followIt), timestamps: 'true', sinceTime: cursor.sinceTime() },
        async (raw) => {
          const fresh = cursor.accept(raw)
          if (fresh.length) await onLogs({ lines: fresh.map(({ line }) => ({ ...line, text: redact(line.text) })), offset: cursor.offset })
        },
        ctl.signal,
      )
      return 'ended'
    } catch (e) {
      aborted()
      if (!(e instanceof StreamError)) throw e
      return e.code === 400 || e.code === 404 ? 'unavailable' : 'error'
    } finally {
      stopOnGone()
      signal?.removeEventListener('abort', stopOnAbort)
    }
  }

  let pullSince: number | undefined
  let failures = 0
  // A follow the server ended cleanly ends when the container does, with all its lines (the kubelet drains the
  // log first): then the final read below has nothing to add. A cut connection ('error') keeps it.
  let followedToEnd = false
  try {
    for (;;) {
      aborted()
      if (watcher.gone) return finish(killedExit() ?? { exitCode: null, reason: 'Lost', message: `pod ${d.namespace}/${d.podName} was deleted before it ended`, finishedAt: new Date().toISOString() })
      const pod = watcher.pod
      if (!pod) {
        await watcher.changed(1000)
        continue
      }
      const ended = exitFromPod(pod)
      if (!ended && killed.has(d.uid)) {
        // Deleted on request: the watch reports it gone soon; the log of a Pod being deleted is not waited for.
        await watcher.changed(1000)
        continue
      }
      if (!ended) {
        // Image pulls and container creation the kubelet retries in vain get the same grace, then fail the step.
        const pull = startProblem(pod)
        if (pull) {
          pullSince ??= Date.now()
          const left = graceSeconds * 1000 - (Date.now() - pullSince)
          if (left <= 0) {
            await deletePod(api, d, 0)
            return finish(startFailureExit(pull, graceSeconds))
          }
          await watcher.changed(left)
          continue
        }
        pullSince = undefined
        if (!logReadable(pod)) {
          await watcher.changed(5000)
          continue
        }
        // Running: follow the log until the container ends (or the connection does), then look again.
        const r = await readLog(true)
        followedToEnd = r === 'ended'
        if (r === 'error') await sleep(backoffMs(failures++), signal)
        else {
          failures = 0
          if (!exitFromPod(watcher.pod ?? pod)) await watcher.changed(1000)
        }
        continue
      }
      // Ended: one read without follow takes what the last stream may have missed (the cursor skips the rest).
      for (let tries = 0; !followedToEnd; tries++) {
        const r = await readLog(false)
        if (r !== 'error' || tries >= FINAL_LOG_TRIES) break
        await sleep(backoffMs(tries), signal)
      }
      return finish(killedExit() ?? ended)
    }
  } finally {
    watcher.stop()
  }
}
