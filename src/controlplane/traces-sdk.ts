// The OpenTelemetry SDK side of traces.ts, loaded only when traces are on. Spans are built from stored facts (the
// run's trace id, its and its attempts' times) with span ids derived from the run id (engine/trace-ids.ts), so the
// replica that ends a run or an attempt exports its span, whichever replica started it; a run's span is its trace's
// root, each attempt's span its child. The SDK's id generator is pinned to those ids for the one synchronous
// startSpan call that builds each span (JavaScript runs it without interleaving).
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Attributes, type Context, type Link, type Span } from '@opentelemetry/api'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BasicTracerProvider, BatchSpanProcessor, RandomIdGenerator, type IdGenerator } from '@opentelemetry/sdk-trace-base'
import { attemptSpanId, newTraceId, runSpanId } from '../engine/trace-ids.js'
import { packageVersion } from '../package-root.js'
import type { RunRecord, StepRunRecord, Store } from '../store/types.js'
import { shownUrl, type ApplyFacts, type ControlPlaneTracer } from './traces.js'

/** Ids the next startSpan gets; random when nothing is pinned (the apply span). */
class PinnedIds implements IdGenerator {
  private readonly random = new RandomIdGenerator()
  pinned: { traceId?: string; spanId: string } | undefined
  generateTraceId(): string {
    return this.pinned?.traceId ?? this.random.generateTraceId()
  }
  generateSpanId(): string {
    return this.pinned?.spanId ?? this.random.generateSpanId()
  }
}

const ms = (iso: string): number => Date.parse(iso)

/** A run's facts as span attributes: names, numbers and states only, never a param or secret value, never free text. */
function runAttributes(run: RunRecord): Attributes {
  return {
    'ctl.run.id': run.id,
    'ctl.workspace': run.workspace ?? '',
    'ctl.workflow': run.resourceName,
    'ctl.revision': run.revision,
    'ctl.trigger': run.trigger,
    'ctl.run.state': run.state,
    ...(run.retryOf ? { 'ctl.run.retry_of': run.retryOf } : {}),
    ...(run.scheduledAt ? { 'ctl.run.scheduled_at': run.scheduledAt } : {}),
  }
}

function attemptAttributes(run: RunRecord, a: StepRunRecord): Attributes {
  // Waiting for a slot or a backoff: from when the attempt could start (created, or its retry's notBefore) to its start.
  const ready = Math.max(ms(a.createdAt), a.notBefore ? ms(a.notBefore) : 0)
  return {
    'ctl.run.id': run.id,
    'ctl.workspace': run.workspace ?? '',
    'ctl.workflow': run.resourceName,
    'ctl.step': a.step,
    ...(a.parent !== undefined ? { 'ctl.step.parent': a.parent } : {}),
    'ctl.attempt': a.attempt,
    'ctl.step.state': a.state,
    ...(a.exitCode !== undefined ? { 'ctl.step.exit_code': a.exitCode } : {}),
    ...(a.reason !== undefined ? { 'ctl.step.end_reason': a.reason } : {}),
    ...(a.keptFrom !== undefined ? { 'ctl.step.kept_from': a.keptFrom } : {}),
    'ctl.step.queue_delay_ms': Math.max(0, ms(a.startedAt!) - ready),
  }
}

export function createSdkTracer(opts: { store: Store; replicaId: string; url: string }): ControlPlaneTracer {
  const ids = new PinnedIds()
  const exporter = new OTLPTraceExporter({ url: opts.url })
  const provider = new BasicTracerProvider({
    idGenerator: ids,
    resource: resourceFromAttributes({ 'service.name': 'ctl', 'service.version': packageVersion(), 'service.instance.id': opts.replicaId }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  })
  const tracer = provider.getTracer('ctl', packageVersion())
  const { store } = opts
  /** Spans being built (their facts being read): close() waits for them before the last export. */
  const pending = new Set<Promise<void>>()
  let closed: Promise<void> | undefined

  const startPinned = (name: string, pinned: PinnedIds['pinned'], options: Parameters<typeof tracer.startSpan>[1], parent: Context): Span => {
    ids.pinned = pinned
    try {
      return tracer.startSpan(name, options, parent)
    } finally {
      ids.pinned = undefined
    }
  }

  /** Builds a span in the background; a failure is the exporter's loss, never the engine's. */
  const build = (work: () => Promise<void>): void => {
    if (closed) return
    const p = work()
      .catch(() => undefined)
      .finally(() => pending.delete(p))
    pending.add(p)
  }

  const endStatus = (span: Span, failed: boolean): void => {
    if (failed) span.setStatus({ code: SpanStatusCode.ERROR })
  }

  return {
    shownEndpoint: shownUrl(opts.url),
    newTraceId,

    runEnded(runId) {
      build(async () => {
        const run = await store.getRun(runId)
        if (!run?.traceId) return
        const span = startPinned(`run ${run.resourceName}`, { traceId: run.traceId, spanId: runSpanId(run.id) }, {
          root: true, kind: SpanKind.INTERNAL, startTime: ms(run.createdAt), attributes: runAttributes(run),
        }, ROOT_CONTEXT)
        if (run.startedAt) span.addEvent('started', ms(run.startedAt))
        endStatus(span, run.state === 'failed')
        span.end(run.finishedAt ? ms(run.finishedAt) : Date.now())
      })
    },

    attemptEnded(stepRunId) {
      build(async () => {
        const attempt = await store.getStepRun(stepRunId)
        // An attempt that never started (skipped, cancelled while pending) has no span.
        if (!attempt?.startedAt) return
        const run = await store.getRun(attempt.runId)
        if (!run?.traceId) return
        const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId: run.traceId, spanId: runSpanId(run.id), traceFlags: TraceFlags.SAMPLED, isRemote: true })
        const span = startPinned(`step ${attempt.step}`, { spanId: attemptSpanId(run.id, attempt.step, attempt.attempt) }, {
          kind: SpanKind.INTERNAL, startTime: ms(attempt.startedAt), attributes: attemptAttributes(run, attempt),
        }, parent)
        endStatus(span, attempt.state === 'failed')
        span.end(attempt.finishedAt ? ms(attempt.finishedAt) : Date.now())
      })
    },

    async traceApply(facts: ApplyFacts, apply) {
      const span = tracer.startSpan('apply', {
        root: true, kind: SpanKind.SERVER,
        attributes: { 'ctl.workspace': facts.workspace, 'ctl.user': facts.user, 'ctl.apply.documents': facts.documents, 'ctl.apply.dry_run': facts.dryRun },
      }, ROOT_CONTEXT)
      try {
        const answer = await apply()
        // The runs it started have traces of their own (one per run): linked, from stored trace ids.
        const links: Link[] = []
        for (const id of answer.results.flatMap((r) => (r.runId ? [r.runId] : []))) {
          const run = await store.getRun(id).catch(() => undefined)
          if (run?.traceId) links.push({ context: { traceId: run.traceId, spanId: runSpanId(run.id), traceFlags: TraceFlags.SAMPLED, isRemote: true }, attributes: { 'ctl.run.id': run.id } })
        }
        for (const link of links) span.addLink(link)
        span.setAttribute('ctl.apply.runs', links.length)
        span.end()
        return answer
      } catch (err) {
        span.setAttribute('ctl.error.code', typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'E_INTERNAL')
        span.setStatus({ code: SpanStatusCode.ERROR })
        span.end()
        throw err
      }
    },

    close() {
      return (closed ??= (async () => {
        while (pending.size > 0) await Promise.all([...pending])
        await provider.shutdown().catch(() => undefined)
      })())
    },
  }
}
