// OpenTelemetry traces (issue 14): a control plane exporting to an in-test OTLP/HTTP receiver. One trace per run:
// the run's span (its id derived from the run id) and one child span per step attempt, built from stored facts; the
// apply's span links to the run's; TRACEPARENT in each step names its attempt's span; no param or secret value is
// ever exported; everything is flushed when the control plane stops.
import { afterEach, describe, expect, it } from 'vitest'
import { attemptSpanId, runSpanId } from '../../src/engine/trace-ids.js'
import { tracesUrl } from '../../src/controlplane/traces.js'
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js'
import { doc, startTestServer, waitForRunEnd, workflow, type TestServer } from './helpers.js'

const PLAIN = 'pl4in-param-v4lue'
const SECRET = 's3cr3t-t0ken-v4lue'
const PROJECTED = 'pr0jected-s3cret-v4lue'
const secretDoc = { name: 'db', version: 'v1', type: 'secret', secret: { type: 'key-value', acl: 'r', data: { PASSWORD: PROJECTED } } }

function tracedWorkflow(name: string): Record<string, unknown> {
  const wf = workflow(name, {
    first: `echo "tp=$TRACEPARENT"; echo "{{.params.region}} {{.params.token}} $PW"`,
    flaky: 'if [ "$CTL_RUN_ATTEMPT" = 1 ]; then echo "failing once"; exit 3; fi; echo "tp=$TRACEPARENT"',
    last: 'echo "tp=$TRACEPARENT"',
  }, {
    params: [
      { name: 'region', type: 'string', default: 'nowhere' },
      { name: 'token', type: 'string', default: 'none', secret: true },
    ],
  })
  const dag = (wf.spec as { dag: Record<string, unknown>[] }).dag
  dag[1]!.depends = ['first']
  dag[1]!.retry = { count: 2, strategy: 'OnFailure' }
  dag[2]!.depends = ['flaky']
  // The user's own TRACEPARENT wins over the run's (documented: not reserved).
  ;(dag[2]!.spec as Record<string, unknown>).envs = { TRACEPARENT: 'users-own' }
  ;(wf.spec as Record<string, unknown>).use = {
    projection: { secrets: [{ id: 'db', contextAlias: 'db' }], projections: { envVars: [{ key: 'PW', value: '{{.secrets.db.PASSWORD}}' }] } },
  }
  return wf
}

describe('traces', () => {
  let receiver: OtlpReceiver | undefined
  let t: TestServer | undefined

  afterEach(async () => {
    await t?.stop()
    await receiver?.close()
    t = undefined
    receiver = undefined
  })

  it('exports one trace per run: the run span and a child span per attempt, with the apply linked, flushed at stop', async () => {
    receiver = await startOtlpReceiver()
    t = await startTestServer({ otlpEndpoint: receiver.endpoint, replicaId: 'replica-traces-1' })
    expect(t.plane.notices).toContain(`traces: exporting spans to ${receiver.endpoint}/v1/traces`)
    const answer = await t.client.apply('public', [doc(secretDoc), doc(tracedWorkflow('traced'), 'test.yaml', 1)], { params: { region: PLAIN, token: SECRET } })
    const runId = answer.results.find((r) => r.runId)!.runId!
    const detail = await waitForRunEnd(t.client, runId)
    expect(detail.run.state).toBe('succeeded')
    const traceId = detail.run.traceId!
    expect(traceId).toMatch(/^[0-9a-f]{32}$/)

    // TRACEPARENT names the attempt's span in the run's trace; the user's own wins.
    const log = (await t.client.logPage(runId)).map((l) => l.text)
    expect(log).toContain(`tp=00-${traceId}-${attemptSpanId(runId, 'first', 1)}-01`)
    expect(log).toContain(`tp=00-${traceId}-${attemptSpanId(runId, 'flaky', 2)}-01`)
    expect(log).toContain('tp=users-own')

    // Stopped gracefully: nothing is lost (the batch processor would otherwise wait seconds to send).
    await t.stop()
    t = undefined
    const spans = receiver.spans
    const ofRun = spans.filter((s) => s.attributes['ctl.run.id'] === runId)
    // Exactly one trace for the run, and nothing else in it.
    expect(new Set(ofRun.map((s) => s.traceId))).toEqual(new Set([traceId]))
    expect(spans.filter((s) => s.traceId === traceId)).toHaveLength(ofRun.length)

    const runSpans = ofRun.filter((s) => s.name.startsWith('run '))
    expect(runSpans).toHaveLength(1)
    const run = runSpans[0]!
    expect(run.spanId).toBe(runSpanId(runId))
    expect(run.parentSpanId ?? '').toBe('')
    expect(run.name).toBe('run traced')
    expect(run.attributes).toMatchObject({ 'ctl.workspace': 'public', 'ctl.workflow': 'traced', 'ctl.revision': 1, 'ctl.trigger': 'apply', 'ctl.run.state': 'succeeded' })
    expect(run.resource).toMatchObject({ 'service.name': 'ctl', 'service.instance.id': 'replica-traces-1' })
    expect(typeof run.resource['service.version']).toBe('string')
    expect(BigInt(run.startTimeUnixNano)).toBe(BigInt(Date.parse(detail.run.createdAt)) * 1_000_000n)
    expect(BigInt(run.endTimeUnixNano)).toBe(BigInt(Date.parse(detail.run.finishedAt!)) * 1_000_000n)

    // One span per attempt (the retried step twice), each a child of the run's span.
    const attempts = ofRun.filter((s) => s.name.startsWith('step ')).sort((a, b) => key(a).localeCompare(key(b)))
    expect(attempts.map(key)).toEqual(['first-1', 'flaky-1', 'flaky-2', 'last-1'])
    for (const a of attempts) {
      expect(a.parentSpanId).toBe(run.spanId)
      expect(a.spanId).toBe(attemptSpanId(runId, String(a.attributes['ctl.step']), Number(a.attributes['ctl.attempt'])))
      expect(typeof a.attributes['ctl.step.queue_delay_ms']).toBe('number')
    }
    expect(attempts[1]!.attributes).toMatchObject({ 'ctl.step.state': 'failed', 'ctl.step.exit_code': 3, 'ctl.step.end_reason': 'Error' })
    expect(attempts[1]!.status?.code).toBe(2)
    expect(attempts[2]!.attributes).toMatchObject({ 'ctl.step.state': 'succeeded', 'ctl.step.exit_code': 0, 'ctl.step.end_reason': 'Completed' })
    const stored = detail.steps.find((s) => s.step === 'flaky' && s.attempt === 2)!
    expect(BigInt(attempts[2]!.startTimeUnixNano)).toBe(BigInt(Date.parse(stored.startedAt!)) * 1_000_000n)

    // The apply's span (a trace of its own) links to the run's span.
    const apply = spans.filter((s) => s.name === 'apply')
    expect(apply).toHaveLength(1)
    expect(apply[0]!.traceId).not.toBe(traceId)
    expect(apply[0]!.links).toEqual([{ traceId, spanId: run.spanId, attributes: { 'ctl.run.id': runId } }])
    expect(apply[0]!.attributes).toMatchObject({ 'ctl.workspace': 'public', 'ctl.user': 'admin', 'ctl.apply.documents': 2, 'ctl.apply.runs': 1 })

    // No param or secret value anywhere in what was exported.
    const exported = receiver.bodies.join('\n')
    expect(exported).not.toContain(PLAIN)
    expect(exported).not.toContain(SECRET)
    expect(exported).not.toContain(PROJECTED)
    // (They did reach the step: the log shows the plain param, the others redacted.)
    expect(log).toContain(`${PLAIN} [redacted] [redacted]`)
  })

  it('off without an endpoint: runs get no trace id and steps no TRACEPARENT', async () => {
    expect(tracesUrl(undefined, {})).toBeUndefined()
    t = await startTestServer()
    expect(t.plane.notices.some((n) => n.startsWith('traces:'))).toBe(false)
    const answer = await t.client.apply('public', [doc(workflow('untraced', { only: 'echo "tp=[$TRACEPARENT]"' }))])
    const detail = await waitForRunEnd(t.client, answer.results[0]!.runId!)
    expect(detail.run.traceId).toBeUndefined()
    expect((await t.client.logPage(detail.run.id)).map((l) => l.text)).toContain('tp=[]')
  })

  it('reads the endpoint from the option, then OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, then OTEL_EXPORTER_OTLP_ENDPOINT', () => {
    expect(tracesUrl('http://a:4318/', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:4318' })).toBe('http://a:4318/v1/traces')
    expect(tracesUrl(undefined, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/custom', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:4318' })).toBe('http://c:4318/custom')
    expect(tracesUrl(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:4318' })).toBe('http://b:4318/v1/traces')
    expect(tracesUrl(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: '  ' })).toBeUndefined()
    expect(() => tracesUrl(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT must be an http/)
    expect(() => tracesUrl(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT is not a URL/)
  })
})

function key(s: ReceivedSpan): string {
  return `${String(s.attributes['ctl.step'])}-${String(s.attributes['ctl.attempt'])}`
}
