// Public types of the fake Kubernetes API server (see README.md in this folder).
// Objects are plain JSON as on the wire; the fake never imports @kubernetes/client-node.

/** A Kubernetes object as stored by the fake (wire JSON). */
export interface KubeObject {
  apiVersion?: string
  kind?: string
  metadata?: {
    name?: string
    generateName?: string
    namespace?: string
    uid?: string
    resourceVersion?: string
    creationTimestamp?: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
    ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string }>
    [key: string]: unknown
  }
  [key: string]: unknown
}

/** Resources the fake serves under /api/v1 (plural, as in URLs). */
export type ResourceName = 'namespaces' | 'pods' | 'secrets' | 'configmaps' | 'persistentvolumeclaims' | 'events'

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'

export interface WatchEvent {
  type: WatchEventType
  object: KubeObject
}

/** One HTTP request the fake received (in arrival order). */
export interface RequestRecord {
  method: string
  /** URL path without the query string, e.g. /api/v1/namespaces/ns/pods */
  path: string
  /** Query string without '?', '' when none. */
  query: string
  /** HTTP status answered (for streams: the status of the headers). */
  status: number
  /** Derived: 'watch' | 'log' | 'request' — handy to exclude streams from request counts. */
  kind: 'watch' | 'log' | 'request'
}

/** A create/replace whose body failed OpenAPI validation (answered 422 Invalid). */
export interface ValidationFailure {
  resource: ResourceName
  namespace?: string
  name?: string
  messages: string[]
  object: unknown
}

/** Failure modes the scripted kubelet can play for a Pod. */
export type PodFailure = 'ErrImagePull' | 'Unschedulable' | 'OOMKilled' | 'Evicted' | 'DeadlineExceeded'

/** What the scripted kubelet does with one Pod. Every field optional; see defaultBehaviour. */
export interface PodBehaviour {
  /** Log lines written by the main container while it runs. */
  lines?: string[]
  /** Exit code of the main container (0 → Succeeded/Completed, else Failed/Error). */
  exitCode?: number
  /** Delay between phase transitions (and between log lines), default 2 ms. */
  delayMs?: number
  failure?: PodFailure
  /** Stay Running after writing lines until kubelet.terminate()/evict() is called. */
  hold?: boolean
  /** Message of the Unschedulable condition / image pull error, to override the default. */
  message?: string
  /**
   * What the main container leaves in its terminationMessagePath file (policy File). As the kubelet does, only the
   * last 4096 bytes become status.containerStatuses[].state.terminated.message. The default behaviour takes the
   * `echo … >> "$CTL_OUTPUTS"` lines of an `sh -c` script.
   */
  terminationMessage?: string
}

export type BehaviourFn = (pod: KubeObject) => PodBehaviour

export interface FakeKubeOptions {
  /** Namespaces existing at start (default ['default']). */
  namespaces?: string[]
  /** Bearer token the kubeconfig carries and the fake requires (default 'fake-token'). */
  token?: string
  /** Watch history kept for resuming (events); older resourceVersions get 410 Gone. Default 1000. */
  historyLimit?: number
  /** Kubelet behaviour per Pod (default: defaultBehaviour, run the command's echo lines, exit 0). */
  behaviour?: BehaviourFn
  /** false: the kubelet does not touch Pods until kubelet.start(ns, name) is called. Default true. */
  autoKubelet?: boolean
  /** Reject namespaced creates in a namespace that does not exist (404), as Kubernetes does. Default true. */
  requireNamespace?: boolean
}

export interface FailNextOptions {
  /** Retry-After seconds sent with 429 (default 1). */
  retryAfterSeconds?: number
  /** Only requests matching count and fail (default: every request). */
  match?: (method: string, path: string) => boolean
  /** Carry the request out, then answer the failure anyway: an answer lost on the way back (500 only). */
  afterApplying?: boolean
}
