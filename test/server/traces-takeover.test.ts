// Traces across replicas: the replica that starts a run stops while the run is held (suspended, a step running);
// another takes the run over (its lease), is asked to resume it, starts the last step and finishes the run. The spans
// it exports are built from stored facts: the run's stored trace id and creation time, each attempt's stored times,
// span ids derived from the run id, whichever replica stored what.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { startControlPlane, type ControlPlane } from '../../src/controlplane/control-plane.js'
import { runSpanId } from '../../src/engine/trace-ids.js'
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js'
import { doc, waitFor, waitForRunEnd, workflow } from './helpers.js'

describe('traces across a lease takeover', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ctl-traces-takeover-'))
  const planes: ControlPlane[] = []
  let receiver: OtlpReceiver | undefined

  afterAll(async () => {
    for (const p of planes) await p.close()
    await receiver?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('the replica that finishes the run exports its span in the run\'s stored trace, with the stored times', async () => {
    receiver = await startOtlpReceiver()
    const common = { dataDir, port: 0, leaseTtlMs: 1000, otlpEndpoint: receiver.endpoint }
    const a = await startControlPlane({ ...common, replicaId: 'replica-a' })
    planes.push(a)
    const clientA = new CtlClient({ baseUrl: a.url, apiKey: a.adminToken! })
    const ref = { workspace: 'public', type: 'workflow', name: 'handed-over' }
    const wf = workflow('handed-over', { slow: 'sleep 1; echo slow done', after: 'echo after' })
    ;(wf.spec as { dag: Record<string, unknown>[] }).dag[1]!.depends = ['slow']
    const runId = (await clientA.apply('public', [doc(wf)])).results[0]!.runId!
    await waitFor('slow to run', () => clientA.run(runId), (d) => d.steps.some((s) => s.step === 'slow' && s.state === 'running'))
    // Held: A starts nothing more, whenever `slow` ends; A stops (its leases go back), B takes the run over.
    await clientA.suspend(ref, runId)
    await a.close()
    const b = await startControlPlane({ ...common, replicaId: 'replica-b' })
    planes.push(b)
    const clientB = new CtlClient({ baseUrl: b.url, apiKey: a.adminToken! })
    await clientB.resume(ref, runId)
    const detail = await waitForRunEnd(clientB, runId)
    expect(detail.run.state, JSON.stringify(detail.steps.map((s) => [s.step, s.state, s.message]))).toBe('succeeded')
    await b.close()

    const traceId = detail.run.traceId!
    const ofRun = receiver.spans.filter((s) => s.traceId === traceId)
    expect(ofRun.map((s) => s.name).sort()).toEqual(['run handed-over', 'step after', 'step slow'])
    const run = ofRun.find((s) => s.name.startsWith('run '))!
    expect(run.resource['service.instance.id']).toBe('replica-b')
    expect(run.spanId).toBe(runSpanId(runId))
    // Created on A: the span starts at the stored creation time.
    expect(BigInt(run.startTimeUnixNano)).toBe(BigInt(Date.parse(detail.run.createdAt)) * 1_000_000n)
    expect(ofRun.find((s) => s.name === 'step after')!.resource['service.instance.id']).toBe('replica-b')
    for (const step of ['slow', 'after']) {
      const span = ofRun.find((s) => s.name === `step ${step}`)!
      const stored = detail.steps.find((s) => s.step === step)!
      expect(span.parentSpanId).toBe(run.spanId)
      expect(BigInt(span.startTimeUnixNano)).toBe(BigInt(Date.parse(stored.startedAt!)) * 1_000_000n)
      expect(BigInt(span.endTimeUnixNano)).toBe(BigInt(Date.parse(stored.finishedAt!)) * 1_000_000n)
    }
    // The apply span came from A, before it stopped.
    expect(receiver.spans.filter((s) => s.name === 'apply').map((s) => s.resource['service.instance.id'])).toEqual(['replica-a'])
  })
})
