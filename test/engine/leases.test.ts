// Several engines (replicas) on one store: each run is driven by the replica holding its lease; a run whose
// lease ran out is adopted (its running step reattached, never restarted); a replica that lost a lease lets
// the run go without killing its steps; actions on a run another replica owns reach the owner through the store.
import { readFileSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { createEngine, type Engine } from '../../src/engine/index.js'
import type { Store } from '../../src/store/types.js'
import { newReplicaId, ownerProvablyDead } from '../../src/engine/ownership.js'
import { byStep, harness, logText, waitFor, workflow, type Harness } from './support.js'

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

const TTL = 1_500
const lines = (n: number) => Array.from({ length: n }, (_, i) => `line-${i + 1}`)
/** Marks its start in the volume, then prints `n` numbered lines slowly. */
const counted = (name: string, n: number, pause = 0.1) => `echo start >> /data/count/${name}; i=1; while [ $i -le ${n} ]; do echo line-$i; i=$((i+1)); sleep ${pause}; done`

async function twoReplicas(): Promise<{ a: Engine; b: Engine }> {
  h = await harness({ start: false, replicaId: 'replica-a', leaseTtlMs: TTL })
  const a = h.engine
  await a.start()
  const b = h.newEngine({ replicaId: 'replica-b', leaseTtlMs: TTL })
  await b.start()
  await h.applyVolume('count')
  return { a, b }
}

async function leaseOf(runId: string): Promise<string | undefined> {
  return (await h!.store.listRunLeases()).find((l) => l.runId === runId)?.owner
}

async function runningStep(resourceId: string, step: string) {
  return waitFor(`step ${step} running with some output`, async () => {
    const run = (await h!.store.listRuns({ resourceId }))[0]
    const s = run ? (await h!.store.listStepRuns(run.id)).find((x) => x.step === step) : undefined
    return s && s.state === 'running' && s.logSeq > 0 ? s : undefined
  })
}

describe('run leases across replicas', () => {
  it('the creating replica leases and drives its run; the lease goes when the run ends', async () => {
    const { a, b } = await twoReplicas()
    const r = await h!.apply(workflow('owned', [{ name: 'one', script: counted('one', 5, 0.05), volumes: ['count'] }, { name: 'two', script: 'echo two', depends: ['one'] }]))
    const step = await runningStep(r.id, 'one')
    expect(await leaseOf(step.runId)).toBe('replica-a')
    expect(a.ownedRuns()).toEqual([step.runId])
    expect(b.ownedRuns()).toEqual([])
    await waitFor('the run to end', async () => ((await h!.store.getRun(step.runId))?.state === 'succeeded' ? true : undefined))
    await waitFor('the lease to go', async () => ((await leaseOf(step.runId)) === undefined ? true : undefined))
    expect(readFileSync(`${h!.volume('count')}/one`, 'utf8')).toBe('start\n')
  })

  it('a run whose owner stopped renewing is adopted: its running step reattached, not restarted, no log line lost or doubled', async () => {
    const { a, b } = await twoReplicas()
    const r = await h!.apply(workflow('adopted', [{ name: 'long', script: counted('long', 15), volumes: ['count'] }, { name: 'after', script: 'echo after', depends: ['long'] }]))
    const step = await runningStep(r.id, 'long')
    // A dies as far as the others can tell: it stops (lets go without killing), and its lease is as it left it
    // in a crash (held, running out later), not handed over.
    await a.stop()
    await h!.store.acquireRunLease(step.runId, 'replica-a', new Date().toISOString(), new Date(Date.now() + TTL).toISOString())
    // B, the only replica left, adopts it; with fast sandboxes it may also finish it (and let the lease go) between two
    // looks, so its lease is not required to be seen: the run ending, its step not restarted (below), is the proof.
    await waitFor('replica b to adopt the run', async () => ((await leaseOf(step.runId)) === 'replica-b' || (await h!.store.getRun(step.runId))?.state === 'succeeded' ? true : undefined))
    await waitFor('the run to end', async () => ((await h!.store.getRun(step.runId))?.state === 'succeeded' ? true : undefined), 20_000)
    const steps = byStep(await h!.store.listStepRuns(step.runId))
    expect(steps.long!.map((s) => [s.attempt, s.state])).toEqual([[1, 'succeeded']])
    expect(steps.after!.map((s) => [s.attempt, s.state])).toEqual([[1, 'succeeded']])
    expect(await logText(h!.store, step.runId, 'long')).toEqual(lines(15))
    expect(readFileSync(`${h!.volume('count')}/long`, 'utf8')).toBe('start\n')
    await waitFor('the lease to go', async () => ((await leaseOf(step.runId)) === undefined ? true : undefined))
    expect(b.ownedRuns()).toEqual([])
  })

  it('a replica that lost its lease lets the run go without killing its step and starts nothing more', async () => {
    const { a, b } = await twoReplicas()
    await b.stop() // only A and a thief for now
    const r = await h!.apply(workflow('stolen', [{ name: 'first', script: counted('first', 20), volumes: ['count'] }, { name: 'second', script: counted('second', 2), depends: ['first'], volumes: ['count'] }]))
    const step = await runningStep(r.id, 'first')
    // Another replica took the lease while A stalled: A must notice and stop driving the run.
    await h!.store.releaseRunLease(step.runId, 'replica-a')
    await h!.store.acquireRunLease(step.runId, 'thief', new Date().toISOString(), new Date(Date.now() + 3_600_000).toISOString())
    await waitFor('A to let the run go', async () => (a.ownedRuns().length === 0 ? true : undefined))
    // Its step was not killed: it runs on; nobody records its end while the thief holds the run.
    expect((await h!.store.getStepRun(step.id))?.state).toBe('running')
    // The thief dies (its lease runs out now): a new replica adopts the run and finishes it.
    await h!.store.acquireRunLease(step.runId, 'thief', new Date().toISOString(), new Date().toISOString())
    const c = h!.newEngine({ replicaId: 'replica-c', leaseTtlMs: TTL })
    await c.start()
    await waitFor('the run to end', async () => ((await h!.store.getRun(step.runId))?.state === 'succeeded' ? true : undefined), 20_000)
    const steps = byStep(await h!.store.listStepRuns(step.runId))
    expect(steps.first!.map((s) => [s.attempt, s.state])).toEqual([[1, 'succeeded']])
    expect(steps.second!.map((s) => [s.attempt, s.state])).toEqual([[1, 'succeeded']])
    expect(await logText(h!.store, step.runId, 'first')).toEqual(lines(20))
    expect(readFileSync(`${h!.volume('count')}/first`, 'utf8')).toBe('start\n')
    expect(readFileSync(`${h!.volume('count')}/second`, 'utf8')).toBe('start\n')
  })

  it('suspend, resume and stop through another replica reach the owner', async () => {
    const { a, b } = await twoReplicas()
    const r = await h!.apply(workflow('remote', [{ name: 'a1', script: counted('a1', 10), volumes: ['count'] }, { name: 'b1', script: counted('b1', 1), depends: ['a1'], volumes: ['count'] }]))
    const step = await runningStep(r.id, 'a1')
    expect(a.ownedRuns()).toEqual([step.runId])
    const [held] = await b.suspendRuns(r, 'bob', step.runId)
    expect(held?.state).toBe('suspended')
    // The owner records a1's end and starts nothing while suspended.
    await waitFor('a1 to end', async () => ((await h!.store.getStepRun(step.id))?.state === 'succeeded' ? true : undefined), 20_000)
    await a.idle()
    expect(byStep(await h!.store.listStepRuns(step.runId)).b1!.map((s) => s.state)).toEqual(['pending'])
    expect(a.ownedRuns()).toEqual([step.runId])
    await b.resumeRuns(r, 'bob', step.runId)
    await waitFor('the run to end', async () => ((await h!.store.getRun(step.runId))?.state === 'succeeded' ? true : undefined), 20_000)

    // A stop through B of a run A drives: its running step is killed, its row closed, the run killed.
    const second = await a.runNow(r, 'alice')
    const running = await waitFor('the second run to run a1', async () => {
      const s = (await h!.store.listStepRuns(second!.id)).find((x) => x.step === 'a1')
      return s?.state === 'running' && s.logSeq > 0 ? s : undefined
    })
    expect(await leaseOf(second!.id)).toBe('replica-a')
    const stopped = await b.stopRuns(r, 'bob', second!.id)
    expect(stopped.map((x) => x.state)).toEqual(['killed'])
    await waitFor('a1 to end cancelled', async () => ((await h!.store.getStepRun(running.id))?.state === 'cancelled' ? true : undefined), 20_000)
    await waitFor('the lease to go', async () => ((await leaseOf(second!.id)) === undefined ? true : undefined))
    expect(byStep(await h!.store.listStepRuns(second!.id)).b1!.map((s) => s.state)).toEqual(['cancelled'])
  })

  it('an approval decided and a graceful stop (finally steps run) through another replica reach the owner', async () => {
    const { a, b } = await twoReplicas()
    const wf = workflow('gated', [{ name: 'gate', script: counted('gate', 1), volumes: ['count'] }, { name: 'then', script: counted('then', 1), depends: ['gate'], volumes: ['count'] }])
    wf.workflow.dag[0]!.approval = { required: true, approvers: [] }
    const r = await h!.apply(wf)
    const row = await waitFor('gate to wait for approval', async () => {
      const run = (await h!.store.listRuns({ resourceId: r.id }))[0]
      const s = run ? (await h!.store.listStepRuns(run.id)).find((x) => x.step === 'gate') : undefined
      return s?.state === 'waiting' ? s : undefined
    })
    expect(a.ownedRuns()).toEqual([row.runId])
    await b.decideApproval(row, 'approve', 'alice')
    await waitFor('the approved run to end', async () => ((await h!.store.getRun(row.runId))?.state === 'succeeded' ? true : undefined), 20_000)
    expect(readFileSync(`${h!.volume('count')}/gate`, 'utf8')).toBe('start\n')

    // A stop through B of a run with a finally step: A kills the DAG's step, then runs the finally step.
    const fin = workflow('cleanup', [{ name: 'long', script: counted('long', 100), volumes: ['count'] }, { name: 'tidy', script: counted('tidy', 1), volumes: ['count'] }])
    fin.workflow.finally = fin.workflow.dag.splice(1).map((step, i) => ({ ...step, path: ['spec', 'finally', i] }))
    const fr = await h!.apply(fin)
    const long = await runningStep(fr.id, 'long')
    expect(await leaseOf(long.runId)).toBe('replica-a')
    await b.stopRuns(fr, 'bob', long.runId)
    await waitFor('the stopped run to end', async () => ((await h!.store.getRun(long.runId))?.state === 'killed' ? true : undefined), 20_000)
    const steps = byStep(await h!.store.listStepRuns(long.runId))
    expect(steps.long!.map((s) => s.state)).toEqual(['cancelled'])
    expect(steps.tidy!.map((s) => s.state)).toEqual(['succeeded'])
    expect(readFileSync(`${h!.volume('count')}/tidy`, 'utf8')).toBe('start\n')
  })

  it('a replica id names its machine, boot and process; only a local owner whose process is gone is provably dead', () => {
    const id = newReplicaId()
    expect(id.split('/')).toHaveLength(5)
    expect(ownerProvablyDead(id)).toBe(false) // this very process
    expect(ownerProvablyDead('r-3f9a')).toBe(false) // not ours to judge: its lease expires
    const [host, boot, ns] = id.split('/')
    expect(boot).toBe(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim())
    expect(ownerProvablyDead(`${host}/${boot}/${ns}/999999999/ab`)).toBe(true)
    expect(ownerProvablyDead(`other-host/${boot}/${ns}/999999999/ab`)).toBe(false)
    // Another machine with the same host name (a cloned image) and the same initial pid namespace: its pids are not ours.
    expect(ownerProvablyDead(`${host}/00000000-0000-4000-8000-000000000000/${ns}/999999999/ab`)).toBe(false)
    // An id of the former layout (no boot id) is never judged here.
    expect(ownerProvablyDead(`${host}/${ns}/999999999/ab`)).toBe(false)
  })

  it('refuses a lease TTL out of bounds', async () => {
    h = await harness({ start: false })
    expect(() => h!.newEngine({ leaseTtlMs: 10 })).toThrow(/lease TTL 10 ms/)
  })
})

describe('a lease this replica holds but does not drive', () => {
  it('is adopted once a TTL old: a run whose lease was taken but never handed to the scheduler (a lost answer, a store error) still runs', async () => {
    const { a } = await twoReplicas()
    const r = await h!.apply(workflow('orphan', [{ name: 'one', script: 'echo one' }]))
    await waitFor('the apply run to end', async () => ((await h!.store.listRuns({ resourceId: r.id }))[0]?.state === 'succeeded' ? true : undefined))
    // A second run stored and leased in A's name, as if A's createRun had failed right after its lease was taken.
    const { run } = await h!.store.createRun({ resourceId: r.id, revision: r.revision, trigger: 'manual', steps: ['one'] })
    const now = new Date()
    expect(await h!.store.acquireRunLease(run.id, 'replica-a', now.toISOString(), new Date(now.getTime() + TTL).toISOString())).toBe(true)
    await waitFor('the leased but undriven run to be adopted and end', async () => ((await h!.store.getRun(run.id))?.state === 'succeeded' ? true : undefined))
    // The release follows the run's end in a later commit (SQLite's group commit), not in the same one.
    await waitFor('the lease to go', async () => ((await leaseOf(run.id)) === undefined ? true : undefined))
    expect(a.ownedRuns()).not.toContain(run.id)
  })
})

describe('the lease of a run its replica creates', () => {
  it('is written with the run, and a lease the store confirmed lately is not asked for again before each step start', async () => {
    h = await harness({ start: false })
    // Counts the lease writes of this replica (the default TTL: every step below starts well within half of it).
    const calls = { acquire: 0 }
    const counted = new Proxy(h.store, {
      get(t, p) {
        const v = Reflect.get(t, p, t)
        if (typeof v !== 'function') return v
        return (...args: unknown[]) => {
          if (p === 'acquireRunLease') calls.acquire++
          return (v as (...a: unknown[]) => unknown).apply(t, args)
        }
      },
    }) as Store
    const engine = createEngine({ store: counted, runtime: h.runtime, dataDir: h.dir, replicaId: 'replica-a' })
    await engine.start()
    try {
      const wf = workflow('chain', [{ name: 'one', script: 'echo one' }, { name: 'two', script: 'echo two', depends: ['one'] }, { name: 'three', script: 'echo three', depends: ['two'] }])
      const { resource } = await h.store.applyResource({ workspace: 'public', type: 'workflow', name: 'chain', version: wf.meta.version, manifest: wf, owner: 'alice' })
      const run = await engine.runNow(resource, 'alice')
      expect(engine.ownedRuns()).toContain(run.id)
      expect((await h.store.listRunLeases()).find((l) => l.runId === run.id)?.owner).toBe('replica-a')
      await waitFor('the run to end', async () => ((await h!.store.getRun(run.id))?.state === 'succeeded' ? true : undefined))
      expect(calls.acquire).toBe(0)
      await waitFor('the lease to go', async () => ((await leaseOf(run.id)) === undefined ? true : undefined))
    } finally {
      await engine.stop()
    }
  })

  it('is not judged lost by a renew that was answered before the run existed', async () => {
    h = await harness({ start: false })
    // Holds one renew's answer (its UPDATE already done) until a run has been created meanwhile.
    let hold: { entered: () => void; release: Promise<void> } | undefined
    const held = new Proxy(h.store, {
      get(t, p) {
        const v = Reflect.get(t, p, t)
        if (typeof v !== 'function') return v
        return async (...args: unknown[]) => {
          const answer = await (v as (...a: unknown[]) => Promise<unknown>).apply(t, args)
          const gate = p === 'renewRunLeases' ? hold : undefined
          if (gate) {
            hold = undefined
            gate.entered()
            await gate.release
          }
          return answer
        }
      },
    }) as Store
    const engine = createEngine({ store: held, runtime: h.runtime, dataDir: h.dir, replicaId: 'replica-a', leaseTtlMs: TTL })
    await engine.start()
    try {
      const wf = workflow('during', [{ name: 'one', script: 'sleep 1; echo one' }])
      const { resource } = await h.store.applyResource({ workspace: 'public', type: 'workflow', name: 'during', version: wf.meta.version, manifest: wf, owner: 'alice' })
      let release!: () => void
      const entered = new Promise<void>((resolve) => {
        hold = { entered: resolve, release: new Promise<void>((r) => (release = r)) }
      })
      await entered
      const run = await engine.runNow(resource, 'alice')
      release()
      await new Promise((r) => setTimeout(r, 50))
      expect(engine.ownedRuns()).toContain(run.id)
      await waitFor('the run to end', async () => ((await h!.store.getRun(run.id))?.state === 'succeeded' ? true : undefined))
    } finally {
      await engine.stop()
    }
  })
})
