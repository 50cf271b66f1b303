// The control plane's Prometheus metrics: every definition in this one file, behind the small typed
// interface the engine, the store wrapper, the runtime and the HTTP app report into. This room sits at the
// bottom of the layering beside src/api: it imports nothing of ctl (plain prom-client objects), so every
// other room may report into it. One registry per control plane, never prom-client's global one: tests
// start several control planes in one process, and each replica exports only its own process's figures.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'

/** Distinct values one label may take in one metric; later ones are counted under OTHER_LABEL. */
export const MAX_LABEL_VALUES = 1000
/** Where values past MAX_LABEL_VALUES go, so a hostile member creating workflows cannot grow memory without bound. */
export const OTHER_LABEL = '_other'
/** The workspace label of instance-level resources (no workspace). */
export const INSTANCE_LABEL = '_instance'

/** Runs this replica drives now, by state, read when scraped. */
export interface RunCounts {
  waiting: number
  running: number
}

export interface RunLabels {
  workspace: string | null
  workflow: string
}

export interface Metrics {
  /** A run was created (`trigger` is the run's; `webhook:<name>` is counted as `webhook`). */
  runStarted(labels: RunLabels & { trigger: string }): void
  /** A run reached a final state (counted by the replica that ended it). */
  runFinished(labels: RunLabels & { state: string }): void
  /** A step attempt ended with `state` after running `seconds`. */
  stepAttemptEnded(labels: { workspace: string | null; state: string }, seconds: number): void
  /** A due step attempt waited `seconds` for a slot (from due to started: dependencies and backoffs excluded). */
  stepQueued(labels: { workspace: string | null }, seconds: number): void
  /** A schedule's run was created `seconds` after its fire time. */
  scheduleFired(seconds: number): void
  /** One HTTP request: `route` is the route pattern (never the raw URL), `unmatched` when none. */
  httpRequest(labels: { method: string; route: string; status: number }, seconds: number): void
  /** One store call (`operation`: the Store method's name). */
  storeQuery(operation: string, seconds: number): void
  /** Log text stored for a step (after redaction), in bytes. */
  logBytes(workspace: string | null, bytes: number): void
  /** One request to the Kubernetes API (`code` 0: no answer). */
  kubeRequest(verb: string, code: number): void
}

/** The metrics of one control plane and the registry that exports them. */
export interface MetricsRegistry extends Metrics {
  /** The exposition (Prometheus text format 0.0.4). */
  exposition(): Promise<string>
  readonly contentType: string
  /** Read at each scrape: the runs this replica drives now. */
  countRunsWith(collect: () => Promise<RunCounts>): void
}

/** A metrics sink that records nothing (engines and stores built without a control plane, e.g. offline tests). */
export const NO_METRICS: Metrics = {
  runStarted() {}, runFinished() {}, stepAttemptEnded() {}, stepQueued() {}, scheduleFired() {},
  httpRequest() {}, storeQuery() {}, logBytes() {}, kubeRequest() {},
}

/** Admits at most `max` distinct values; the rest become OTHER_LABEL. */
export class LabelCap {
  private readonly seen = new Set<string>()
  constructor(private readonly max = MAX_LABEL_VALUES) {}
  of(value: string): string {
    if (this.seen.has(value)) return value
    if (this.seen.size >= this.max) return OTHER_LABEL
    this.seen.add(value)
    return value
  }
}

// Steps run from a second to hours; HTTP and store calls from a millisecond to seconds.
const STEP_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600]
const QUEUE_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600]
const LAG_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600]
const FAST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

const trigger = (t: string): string => (t.startsWith('webhook:') ? 'webhook' : t)

export function createMetrics(opts: { maxLabelValues?: number; processMetrics?: boolean } = {}): MetricsRegistry {
  const registry = new Registry()
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry })
  const max = opts.maxLabelValues ?? MAX_LABEL_VALUES
  const registers = [registry]
  // Workspace and workflow names are bounded by the store (names of applied resources), and capped here too.
  const workspaces = new LabelCap(max)
  const workflows = new LabelCap(max)
  const routes = new LabelCap(max)
  const operations = new LabelCap(max)
  const ws = (w: string | null) => workspaces.of(w ?? INSTANCE_LABEL)
  // One key per (workspace, workflow) pair would still allow max² series: the workflow cap counts pairs.
  const wf = (l: RunLabels) => workflows.of(`${l.workspace ?? INSTANCE_LABEL}/${l.workflow}`) === OTHER_LABEL ? OTHER_LABEL : l.workflow

  const runsStarted = new Counter({ name: 'ctl_runs_started_total', help: 'Runs created, by workspace, workflow and trigger.', labelNames: ['workspace', 'workflow', 'trigger'] as const, registers })
  const runsFinished = new Counter({ name: 'ctl_runs_finished_total', help: 'Runs ended, by workspace, workflow and final state.', labelNames: ['workspace', 'workflow', 'state'] as const, registers })
  const stepSeconds = new Histogram({ name: 'ctl_step_attempt_duration_seconds', help: 'Duration of step attempts from start to end, by workspace and final state.', labelNames: ['workspace', 'state'] as const, buckets: STEP_BUCKETS, registers })
  const queueSeconds = new Histogram({ name: 'ctl_step_queue_delay_seconds', help: 'Time a due step attempt waited for a free slot before it started, by workspace.', labelNames: ['workspace'] as const, buckets: QUEUE_BUCKETS, registers })
  const lagSeconds = new Histogram({ name: 'ctl_schedule_lag_seconds', help: 'How late scheduled runs were created after their fire time.', buckets: LAG_BUCKETS, registers })
  const httpSeconds = new Histogram({ name: 'ctl_http_request_duration_seconds', help: 'HTTP requests by method, route pattern and status code.', labelNames: ['method', 'route', 'status_code'] as const, buckets: FAST_BUCKETS, registers })
  const storeSeconds = new Histogram({ name: 'ctl_store_query_duration_seconds', help: 'Store calls by operation (SQLite or PostgreSQL).', labelNames: ['operation'] as const, buckets: FAST_BUCKETS, registers })
  const logBytes = new Counter({ name: 'ctl_log_bytes_ingested_total', help: 'Step log text stored (after redaction), in bytes, by workspace.', labelNames: ['workspace'] as const, registers })
  const storeChildren = new Map<string, { observe(value: number): void }>()
  const kubeRequests = new Counter({ name: 'ctl_kubernetes_requests_total', help: 'Requests to the Kubernetes API by verb and status code (0: no answer).', labelNames: ['verb', 'code'] as const, registers })

  let collect: (() => Promise<RunCounts>) | undefined
  const counts = async (): Promise<RunCounts> => (collect ? collect() : { waiting: 0, running: 0 })
  // Both gauges read one count per scrape: the first collect asks, the second reuses its answer.
  let pending: Promise<RunCounts> | undefined
  const shared = (): Promise<RunCounts> => (pending ??= counts().finally(() => queueMicrotask(() => (pending = undefined))))
  new Gauge({
    name: 'ctl_runs_waiting', help: 'Runs this replica drives that have not started a step yet (state pending).', registers,
    async collect() { this.set((await shared()).waiting) },
  })
  new Gauge({
    name: 'ctl_runs_running', help: 'Runs this replica drives that are running.', registers,
    async collect() { this.set((await shared()).running) },
  })

  return {
    contentType: registry.contentType,
    exposition: () => registry.metrics(),
    countRunsWith(fn) { collect = fn },
    runStarted(l) { runsStarted.inc({ workspace: ws(l.workspace), workflow: wf(l), trigger: trigger(l.trigger) }) },
    runFinished(l) { runsFinished.inc({ workspace: ws(l.workspace), workflow: wf(l), state: l.state }) },
    stepAttemptEnded(l, s) { stepSeconds.observe({ workspace: ws(l.workspace), state: l.state }, Math.max(0, s)) },
    stepQueued(l, s) { queueSeconds.observe({ workspace: ws(l.workspace) }, Math.max(0, s)) },
    scheduleFired(s) { lagSeconds.observe(Math.max(0, s)) },
    httpRequest(l, s) { httpSeconds.observe({ method: l.method, route: routes.of(l.route), status_code: String(l.status) }, s) },
    storeQuery(op, s) {
      // The labelled child is made once per operation (a store has a few dozen): an observe with labels checks and
      // hashes them at every call of every store method.
      let child = storeChildren.get(op)
      if (!child) storeChildren.set(op, (child = storeSeconds.labels({ operation: operations.of(op) })))
      child.observe(s)
    },
    logBytes(w, n) { if (n > 0) logBytes.inc({ workspace: ws(w) }, n) },
    kubeRequest(verb, code) { kubeRequests.inc({ verb, code: String(code) }) },
  }
}

/**
 * Times every method call of `target` that returns a promise (the Store: SQLite and PostgreSQL alike),
 * reporting the method's name as the operation. Calls run on the target itself, so a method calling
 * another is counted once.
 */
export function timedCalls<T extends object>(target: T, metrics: Metrics, skip: ReadonlySet<string> = new Set()): T {
  const wrapped = new Map<PropertyKey, unknown>()
  return new Proxy(target, {
    get(obj, prop) {
      const value: unknown = Reflect.get(obj, prop, obj)
      if (typeof value !== 'function' || typeof prop !== 'string' || skip.has(prop)) return value
      let fn = wrapped.get(prop)
      if (fn === undefined) {
        const method = value as (...args: unknown[]) => unknown
        fn = (...args: unknown[]): unknown => {
          const start = performance.now()
          const out = method.apply(obj, args)
          // Only calls answering with a promise are queries: iterators time nothing useful on return.
          if (!(out instanceof Promise)) return out
          const done = () => metrics.storeQuery(prop, (performance.now() - start) / 1000)
          return out.then(
            (value: unknown) => (done(), value),
            (err: unknown) => {
              done()
              throw err
            },
          )
        }
        wrapped.set(prop, fn)
      }
      return fn
    },
  })
}
