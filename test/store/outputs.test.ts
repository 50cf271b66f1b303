// Step outputs stored with the attempt (migration 0007) and read back for the steps downstream.
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { MIGRATIONS } from '../../src/store/migrations/index.js'
import { SqliteDb } from '../../src/store/sqlite-db.js'
import { freshStore, seedRun, tempDbFile } from './helpers.js'

describe('migration 7 (step_outputs)', () => {
  it('adds the outputs column to a database made by the migrations before it', () => {
    const file = tempDbFile()
    new SqliteDb(file, {}, MIGRATIONS.filter((m) => m.version < 7)).close()
    const db = new SqliteDb(file)
    const cols = db.raw.prepare('PRAGMA table_info(step_runs)').all() as { name: string; type: string }[]
    expect(cols.find((c) => c.name === 'outputs')).toMatchObject({ type: 'TEXT' })
    db.close()
    const raw = new Database(file, { readonly: true })
    expect(raw.prepare('SELECT name FROM schema_migrations WHERE version = 7').get()).toEqual({ name: 'step_outputs' })
    raw.close()
  })
})

describe('step outputs', () => {
  it('round-trips with the attempt, in the same update as its final state', async () => {
    const { store } = freshStore()
    const { run, steps } = await seedRun(store, ['build', 'test'])
    const build = steps[0]!
    const outputs = { artifact: 'app-1.2.3.tar', notes: 'line one\nline two', empty: '', odd: 'é "quoted" \\ \u0000' }
    expect(await store.updateStepRun(build.id, { state: 'succeeded', exitCode: 0, outputs }, ['pending'])).toBe(true)
    expect((await store.getStepRun(build.id))?.outputs).toEqual(outputs)
    expect((await store.listStepRuns(run.id)).find((s) => s.step === 'build')?.outputs).toEqual(outputs)
    // An attempt without outputs has none (not `{}`).
    expect((await store.getStepRun(steps[1]!.id))?.outputs).toBeUndefined()
  })

  it('stepOutputs: the latest attempt of each succeeded step; failed and pending steps are left out', async () => {
    const { store } = freshStore()
    const { run, steps } = await seedRun(store, ['a', 'b', 'c'])
    const [a, b] = steps
    await store.updateStepRun(a!.id, { state: 'failed', outputs: { v: 'first' } })
    const a2 = await store.createStepAttempt(run.id, 'a', 2)
    await store.updateStepRun(a2.id, { state: 'succeeded', outputs: { v: 'second' } })
    await store.updateStepRun(b!.id, { state: 'succeeded' })
    expect(await store.stepOutputs(run.id)).toEqual(new Map([['a', { v: 'second' }], ['b', {}]]))
    const b2 = await store.createStepAttempt(run.id, 'b', 2)
    await store.updateStepRun(b2.id, { state: 'failed', outputs: { x: '1' } })
    expect([...(await store.stepOutputs(run.id)).keys()]).toEqual(['a'])
  })

  it('stepOutputs of a step a retry carried over: those of the run that ran it', async () => {
    const { store } = freshStore()
    const { resource, run, steps } = await seedRun(store, ['a', 'b'])
    await store.updateStepRun(steps[0]!.id, { state: 'succeeded', outputs: { artifact: 'x' } })
    await store.updateStepRun(steps[1]!.id, { state: 'failed' })
    const retry = await store.createRun({ resourceId: resource.id, revision: 1, trigger: 'retry', retryOf: run.id, steps: ['a', 'b'] })
    await store.updateStepRun(retry.steps[0]!.id, { state: 'succeeded', keptFrom: run.id })
    expect(await store.stepOutputs(retry.run.id)).toEqual(new Map([['a', { artifact: 'x' }]]))
  })
})
