// A step whose launch a control-plane crash interrupted: marked running, never handed to the step host. The new
// engine's find() claims the attempt and, within the launch grace (another replica might still be launching it),
// leaves it; the next orphan check asks find() again. The step must then end Lost as not started. Before, that
// second find() took the engine's own claim for a host that died, waited 15 s and the step ended Lost as "the
// step's supervisor is gone". The crash is set up in the store, not timed.
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { harness, waitFor, workflow, type Harness } from './support.js'

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

it('a step marked running but never handed to the runtime ends Lost as not started after the launch grace', async () => {
  // A short lease: the launch grace is two of them, and the owner looks at unfollowed attempts every second.
  h = await harness({ start: false, leaseTtlMs: 1000 })
  const wf = workflow('interrupted', [{ name: 'only', script: 'echo never' }])
  const { resource } = await h.store.applyResource({ workspace: 'public', type: 'workflow', name: 'interrupted', version: 'v2alpha', manifest: wf, owner: 'alice' })
  await h.store.setResourceStatus(resource.id, 'active')
  const { run, steps } = await h.store.createRun({ resourceId: resource.id, revision: 1, trigger: 'apply', steps: ['only'] })
  await h.store.updateRun(run.id, { state: 'running', startedAt: new Date().toISOString() })
  const key = { runId: run.id, step: 'only', attempt: 1 }
  // The previous engine marked the attempt and died before runtime.start.
  await h.store.updateStepRun(steps[0]!.id, { state: 'running', startedAt: new Date().toISOString(), runtimeHandle: { launching: true, key } })

  await h.engine.start()
  const ended = await waitFor('the attempt to end', async () => {
    const s = await h!.store.getStepRun(steps[0]!.id)
    return s?.state !== 'running' ? s : undefined
  }, 25_000)
  expect([ended?.state, ended?.reason, ended?.message]).toEqual(['failed', 'Lost', 'the control plane stopped while starting the step; it did not start'])
  // It never ran: no output of its own in the logs.
  expect((await h.store.readLogs({ runId: run.id })).map((l) => l.text)).not.toContain('never')
  // find()'s claim stays in the logs folder, and its fence against a host of the last version in the run folder: the
  // fences against a start still on its way; nothing of the step is left.
  expect(fs.readdirSync(path.join(h.dir, 'state', run.id))).toEqual(['only.1.ndjson'])
  expect(fs.readdirSync(path.join(h.dir, 'state', '.logs')).filter((f) => f.startsWith(`${run.id}+`))).toEqual([`${run.id}+only.1.ndjson`])
}, 40_000)
