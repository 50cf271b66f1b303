// OpenTelemetry traces of the control plane (issue 14), on only when an OTLP endpoint is set: the option, else
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is), else OTEL_EXPORTER_OTLP_ENDPOINT (+ /v1/traces). Off, nothing of
// the SDK is loaded (traces-sdk.ts is imported lazily): the CLI and a control plane without traces pay nothing.
// Spans: one per apply request, one per run (created → ended), one per step attempt as a child of its run's.
import { CtlError } from '../errors.js'
import type { RunTracing } from '../engine/tracing.js'
import type { Store } from '../store/types.js'
import type { ResourceService } from '../http/routes/resources.js'

export interface TracesOptions {
  store: Store
  /** service.instance.id of the spans. */
  replicaId: string
  /** The base endpoint, like OTEL_EXPORTER_OTLP_ENDPOINT (spans go to `<endpoint>/v1/traces`); beats the environment. */
  otlpEndpoint?: string
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv
}

/** The control plane's tracer: the engine's hooks, apply spans, and a close that exports every span left. */
export interface ControlPlaneTracer extends RunTracing {
  /** Runs one apply inside its span (ended with the outcome, linked to the runs it started). */
  traceApply<T extends { results: { runId?: string }[] }>(facts: ApplyFacts, apply: () => Promise<T>): Promise<T>
  /** Waits for the spans being built, exports every span not yet sent, stops the exporter. */
  close(): Promise<void>
  /** Where spans go, its password (if any) hidden: for the operator's start notice. */
  readonly shownEndpoint: string
}

export interface ApplyFacts {
  workspace: string
  user: string
  documents: number
  dryRun: boolean
}

/** The OTLP/HTTP traces URL from the option and the environment; undefined: traces are off. E_USAGE for a bad URL. */
export function tracesUrl(otlpEndpoint: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const pick = (value: string | undefined): string | undefined => (value === undefined || value.trim() === '' ? undefined : value.trim())
  let url: string | undefined
  let from: string
  const base = pick(otlpEndpoint)
  if (base !== undefined) {
    url = withTracesPath(base)
    from = 'the OTLP endpoint option'
  } else if ((url = pick(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)) !== undefined) {
    from = 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'
  } else {
    const generic = pick(env.OTEL_EXPORTER_OTLP_ENDPOINT)
    if (generic === undefined) return undefined
    url = withTracesPath(generic)
    from = 'OTEL_EXPORTER_OTLP_ENDPOINT'
  }
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new CtlError('E_USAGE', `${from} is not a URL (give e.g. http://collector:4318)`, { field: from })
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new CtlError('E_USAGE', `${from} must be an http:// or https:// URL (OTLP over HTTP), not ${parsed.protocol}`, { field: from })
  }
  return parsed.toString()
}

function withTracesPath(base: string): string {
  return `${base.replace(/\/+$/, '')}/v1/traces`
}

/** The URL without its user and password: what may be printed. */
export function shownUrl(url: string): string {
  const u = new URL(url)
  if (u.username || u.password) {
    u.username = '***'
    u.password = ''
  }
  return u.toString()
}

/** The tracer when traces are on, else undefined (and no SDK module is loaded). */
export async function startTraces(opts: TracesOptions): Promise<ControlPlaneTracer | undefined> {
  const url = tracesUrl(opts.otlpEndpoint, opts.env ?? process.env)
  if (url === undefined) return undefined
  const { createSdkTracer } = await import('./traces-sdk.js')
  return createSdkTracer({ store: opts.store, replicaId: opts.replicaId, url })
}

/** The resource service with each apply in its span. */
export function tracedResources(service: ResourceService, tracer: ControlPlaneTracer | undefined): ResourceService {
  if (!tracer) return service
  return {
    ...service,
    apply: (principal, workspace, items, dryRun, params) =>
      tracer.traceApply({ workspace, user: principal.id, documents: items.length, dryRun }, () => service.apply(principal, workspace, items, dryRun, params)),
  }
}
