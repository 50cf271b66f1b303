// The ids of a run's trace, derived from stored facts only. Several replicas share a run (the one that ends it
// may not be the one that started it), so no replica may remember a span id: the run's span id and each attempt's
// are hashes of the run id (and step and attempt), and the trace id is stored with the run (RunRecord.traceId).
// The control plane's exporter (src/controlplane/traces) and the TRACEPARENT given to steps both use these.
import { createHash, randomBytes } from 'node:crypto'

/** A new W3C trace id: 16 random bytes as 32 lower-case hex digits (never all zero). */
export function newTraceId(): string {
  for (;;) {
    const id = randomBytes(16).toString('hex')
    if (!/^0+$/.test(id)) return id
  }
}

/** The first 8 bytes of sha256(text) as 16 hex digits; all zero (invalid) is mapped to 1. */
function spanIdOf(text: string): string {
  const id = createHash('sha256').update(text).digest('hex').slice(0, 16)
  return /^0+$/.test(id) ? '0000000000000001' : id
}

/** The span id of a run's span. */
export function runSpanId(runId: string): string {
  return spanIdOf(`run\0${runId}`)
}

/** The span id of one attempt of a step (an instance by its own name, e.g. `shard-0`). */
export function attemptSpanId(runId: string, step: string, attempt: number): string {
  return spanIdOf(`attempt\0${runId}\0${step}\0${attempt}`)
}

/** A W3C traceparent header value, sampled: `00-<trace id>-<span id>-01`. */
export function traceparentOf(traceId: string, spanId: string): string {
  return `00-${traceId}-${spanId}-01`
}
