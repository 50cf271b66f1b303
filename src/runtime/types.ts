// The contract between the engine and a runtime (local processes or Kubernetes).
// The engine hands over a resolved Pod per step attempt and gets back log lines
// and one exit status; everything a runtime needs to reattach after a control
// plane restart lives in the JSON-serializable RuntimeHandle the engine stores.

import type { V1Pod } from '@kubernetes/client-node'

export interface StepKey {
  runId: string
  step: string
  attempt: number
  /** The run's workspace, when the caller knows it: lets find() look in one namespace, not the whole cluster. */
  workspace?: string
}

/** A `type: volume` as a PersistentVolumeClaim: its size (a quantity), access mode and storage class. */
export interface VolumeClaimSpec {
  size: string
  accessMode: 'ReadWriteMany' | 'ReadWriteOnce' | 'ReadOnlyMany'
  storageClass?: string
}

export interface StepLaunch {
  key: StepKey
  /** Main container = containers[0]. */
  pod: V1Pod
  /** Content of the per-run Secret the Pod references (secretKeyRef env, secret volumes with items). Never written to disk in plain text. */
  secretData: Record<string, string>
  /** Content of the ConfigMap the Pod references (config volume items / configMapKeyRef). */
  configData: Record<string, string>
  /** Name of each Secret in pod.spec.imagePullSecrets → its Docker config JSON (from a `cloud-kernel-image-pull`
      secret). The Kubernetes runtime creates them as `kubernetes.io/dockerconfigjson` Secrets in the Pod's namespace
      (see src/runtime/kubernetes/pull-secrets.ts); the local runtime pulls no images and ignores them. Secret: never
      written to disk in plain text; their password forms are in `redact`. Absent when the step names no pull secret. */
  pullSecrets?: Record<string, string>
  /** PVC claimName → host folder of that `type: volume` resource. */
  volumeDirs: Record<string, string>
  /** PVC claimName → the `type: volume` it stands for: what the Kubernetes runtime needs to create the claim. */
  volumes?: Record<string, VolumeClaimSpec>
  /** Literal forms of every secret value the step can see (as is, base64, URL-encoded; see redactionForms in
      src/secrets/redact.ts): the runtime replaces each with `[redacted]` in the step's log before it is written
      anywhere, and in its exit message. The runtime adds the forms of `secretData` values itself. */
  redact?: string[]
  /** Overrides pod.spec.activeDeadlineSeconds; the runtime enforces it. */
  timeoutSeconds?: number
  /**
   * The ctl users whose code the step is: the workflow's owner and who applied the revision it runs. The local
   * runtime runs a step without a sandbox only when all of them are its trusted owner (see allowUnsandboxed).
   */
  owners?: string[]
}

/** JSON-serializable: stored by the engine and handed back after a restart. */
export interface RuntimeHandle {
  runtime: 'local' | 'kubernetes'
  id: string
  data: Record<string, unknown>
}

export interface LogLine {
  time: string
  stream: 'stdout' | 'stderr'
  text: string
}

/** `offset` is where to resume after this batch (opaque to the engine; bytes for the local runtime). */
export interface LogBatch {
  lines: LogLine[]
  offset: number
}

export type ExitReason = 'Completed' | 'Error' | 'DeadlineExceeded' | 'Killed' | 'StartError' | 'Lost'

export interface StepExit {
  exitCode: number | null
  reason: ExitReason
  message?: string
  finishedAt: string
  /** What the step wrote to $CTL_OUTPUTS, parsed and redacted by the runtime (src/runtime/outputs.ts). Absent when it
      wrote nothing or could not have (it never started); a malformed or too big file fails the step instead. */
  outputs?: Record<string, string>
}

export interface RuntimeInfo {
  name: 'local' | 'kubernetes'
  sandbox: 'bubblewrap' | 'none'
  detail: string
  /** One line for the operator at start when steps get less isolation than a sandbox (plain processes). */
  notice?: string
}

export interface Runtime {
  info(): RuntimeInfo
  start(launch: StepLaunch): Promise<RuntimeHandle>
  /** Delivers log lines from `fromOffset` (0 at first, else the offset of the last batch the engine stored) until the step
      has exited and every line is delivered; then resolves its exit. Works the same after a control-plane restart (reattach).
      Rejects with the signal's reason when `signal` aborts. */
  follow(handle: RuntimeHandle, fromOffset: number, onLogs: (batch: LogBatch) => Promise<void>, signal?: AbortSignal): Promise<StepExit>
  kill(handle: RuntimeHandle, reason?: string): Promise<void>
  /** Removes what the attempt left (folders), after the engine has stored everything. */
  cleanup(handle: RuntimeHandle): Promise<void>
  /** The handle of an attempt started earlier, if it exists (the engine crashed between start() and storing the
      handle). Optional: without it the engine marks such an attempt `Lost`. Added for the engine's restart path. */
  find?(key: StepKey): Promise<RuntimeHandle | undefined>
  /** Removes what a start cut short left of an attempt find() answered "not started" (its config files), once the
      engine recorded that end. The runtime may keep its mark that the attempt must not start (a late start is refused).
      Only that: the files of an attempt that did start go with cleanup(handle). */
  forget?(key: StepKey): Promise<void>
  /** The attempt as the runtime sees it now (live, not stored). Optional: `runtime get --node` then shows what the store knows. */
  describe?(handle: RuntimeHandle): Promise<StepDescription>
  /** A cheap look at an active attempt for tables: its phase and why (from a cache when the runtime has one). */
  peek?(handle: RuntimeHandle): Promise<{ phase: string; message?: string } | undefined>
  /** Lets go of connections and timers when the control plane stops (steps keep running). */
  close?(): Promise<void>
}

/** What a runtime can tell of one attempt right now (`ctl resource runtime get --node`): for Kubernetes, the Pod's
    conditions, container states and events, as `kubectl describe pod` shows them. */
export interface StepDescription {
  /** Where it runs: the Pod (namespace/name) or the process. */
  object: string
  node?: string
  /** Pending | Running | Succeeded | Failed | Unknown | Gone. */
  phase: string
  /** Why it is in that phase (e.g. the scheduler's message for an unschedulable Pod). */
  message?: string
  conditions: { type: string; status: string; reason?: string; message?: string; since?: string }[]
  containers: { name: string; image: string; state: string; reason?: string; message?: string; exitCode?: number; startedAt?: string; finishedAt?: string; restarts: number }[]
  events: { time: string; type: string; reason: string; message: string; source?: string; count: number }[]
}
