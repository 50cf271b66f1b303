// Issue 13 acceptance, local runtime on one machine: three control-plane replicas (real child processes) on
// ONE store and one data folder (so one step host and one runs folder). The replica that owns ten running
// runs is SIGKILLed; the others take its leases over when they expire, adopt the running steps (reattach to
// the shared step host) and finish every run: no step attempt starts twice (each start appends to a file,
// and the store has one attempt per step), no log line is lost or doubled. The store is a parameter: one
// shared SQLite file, and a real PostgreSQL.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { RunRecord } from '../../src/api/types.js'
import { openStore } from '../../src/store/open.js'
import type { Store } from '../../src/store/types.js'
import { freshDatabase } from '../support/postgres.js'
import { doc, waitFor } from './helpers.js'
import { builtDist, numbered, startReplicas, type Replica } from './replicas.js'

const RUNS = 10
const LINES = 30
/** Lines printed before the gate opens. */
const BEFORE = 10
const TTL_MS = 2_000
const FINAL = ['succeeded', 'failed', 'cancelled', 'killed']

/** The stores the test runs on (a store URL each). */
const STORES: { name: string; url: (dataDir: string) => Promise<string> }[] = [
  { name: 'one shared SQLite file', url: async (dataDir) => join(dataDir, 'ctl.db') },
  { name: 'PostgreSQL', url: () => freshDatabase() },
]

describe.each(STORES)('three local replicas on $name: the owner of ten running runs is SIGKILLed', ({ url }) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ctl-replicas-'))
  const logDir = mkdtempSync(join(tmpdir(), 'ctl-replicas-logs-'))
  let replicas: Replica[] = []
  let store: Store | undefined

  afterAll(async () => {
    for (const r of replicas) await r.stop()
    await store?.close()
    rmSync(dataDir, { recursive: true, force: true })
    rmSync(logDir, { recursive: true, force: true })
  })

  it('another replica finishes every run; no step starts twice; no log line lost or doubled', async () => {
    expect(builtDist(), 'npm test builds dist/ first').toBe(true)
    const storeUrl = await url(dataDir)
    replicas = await startReplicas({ dataDir, storeUrl, leaseTtlMs: TTL_MS }, logDir, 'local')
    store = await openStore(storeUrl)
    const [owner, ...others] = replicas as [Replica, Replica, Replica]

    // Each attempt appends its run id to one file of the shared volume (a start count), prints the first numbered
    // lines, waits for the gate (so all ten are running when the owner dies, however slow the machine), then the rest.
    const script = [
      'echo "$CTL_RUN_ID" >> /marks/starts',
      `i=1; while [ $i -le ${BEFORE} ]; do echo "$CTL_RUN_ID line $i"; i=$((i+1)); sleep 0.02; done`,
      'while [ ! -e /marks/go ]; do sleep 0.05; done',
      `while [ $i -le ${LINES} ]; do echo "$CTL_RUN_ID line $i"; i=$((i+1)); sleep 0.1; done`,
    ].join('\n')
    const volume = { name: 'marks', version: 'v1', type: 'volume', volume: { size: '1Gi', accessMode: 'ReadWriteMany', type: 'temp' } }
    const wf = {
      name: 'shared', version: 'v2alpha', type: 'workflow',
      spec: { dag: [{ name: 'work', spec: { use: { volumes: [{ id: 'marks', directory: '/marks' }] }, stack: 'script', stackSpec: { interpreter: 'sh', script } } }] },
    }
    await owner.client.apply('public', [doc(volume), doc(wf, 'shared.yaml', 1)])
    const ref = { workspace: 'public', type: 'workflow', name: 'shared' }
    // The apply started one run; nine more through the same replica: it creates, so it owns all ten.
    await waitFor('the applied run', () => owner.client.runs(ref), (runs) => runs.length === 1)
    for (let i = 1; i < RUNS; i++) await owner.client.runNow(ref)
    const runs: RunRecord[] = await owner.client.runs(ref)
    expect(runs).toHaveLength(RUNS)
    const ids = runs.map((r) => r.id)

    // Compact rows (state, lines, why) so that a failed wait says what it saw.
    await waitFor('every step running, its first lines stored', async () => (await Promise.all(ids.map((id) => store!.listStepRuns(id))))
      .map((steps) => steps.map((x) => ({ state: x.state, logSeq: x.logSeq, reason: x.reason, message: x.message }))),
      (all) => all.every((steps) => steps.length === 1 && steps[0]!.state === 'running' && steps[0]!.logSeq >= BEFORE), 60_000)
    const leases = (await store.listRunLeases()).filter((l) => ids.includes(l.runId))
    expect(leases.map((l) => l.owner)).toEqual(ids.map(() => owner.id))

    // A watch stream and a log follow answered by a replica that does not own the run: they end when the run
    // ends, whoever drives it then (they read the store, not the owner's memory).
    const watcher = others[1]!
    const watched = (async () => {
      let last: string | undefined
      for await (const d of watcher.client.watchRun(ids[0]!)) last = d.run.state
      return last
    })()
    const followed = (async () => {
      const out: string[] = []
      for await (const batch of watcher.client.logs(ids[1]!, { step: 'work', follow: true })) out.push(...batch.map((l) => l.text))
      return out
    })()

    await owner.kill()
    // The rest of the lines are printed while nobody follows the steps, then while their adopters do.
    writeFileSync(join(dataDir, 'volumes', 'public', 'marks', 'go'), '')
    // Any surviving replica answers for every run, whoever owns it now.
    const done = await waitFor('every run to end', () => Promise.all(ids.map((id) => others[1]!.client.run(id))),
      (all) => all.every((d) => FINAL.includes(d.run.state)), 120_000)

    const starts = readFileSync(join(dataDir, 'volumes', 'public', 'marks', 'starts'), 'utf8').trim().split('\n')
    for (const d of done) {
      expect(d.run.state, `run ${d.run.id}`).toBe('succeeded')
      expect(d.steps.map((s) => [s.attempt, s.state]), `run ${d.run.id} has one attempt`).toEqual([[1, 'succeeded']])
      expect(starts.filter((s) => s === d.run.id), `run ${d.run.id} started once`).toHaveLength(1)
      const lines = await others[0]!.client.logPage(d.run.id, { step: 'work' })
      expect(lines.map((l) => l.text)).toEqual(numbered(d.run.id, LINES))
      expect(lines.map((l) => l.seq)).toEqual(Array.from({ length: LINES }, (_, i) => i + 1))
    }
    expect(starts).toHaveLength(RUNS)
    expect(await watched).toBe('succeeded')
    expect(await followed).toEqual(numbered(ids[1]!, LINES))
    // The runs ended under the survivors, which gave their leases back.
    await waitFor('the leases to go', () => store!.listRunLeases(), (all) => all.filter((l) => ids.includes(l.runId)).length === 0)
  }, 240_000)
})
