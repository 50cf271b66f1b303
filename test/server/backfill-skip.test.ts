// Through the real HTTP API: POST .../runs with skip / only (422 naming unknown steps, bounded lists),
// and POST .../runs/backfill (dry run changes nothing, runs with trigger backfill, bounded, refusals).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { doc, startTestServer, waitFor, waitForRunEnd, workflow, type TestServer } from './helpers.js'

let t: TestServer

beforeAll(async () => {
  t = await startTestServer()
})
afterAll(async () => {
  await t?.stop()
})

const ref = (name: string) => ({ workspace: 'public', type: 'workflow', name })

async function post(path: string, body: unknown, query = ''): Promise<{ status: number; json: { error?: { code: string; message: string } } & Record<string, unknown> }> {
  const res = await fetch(`${t.plane.url}/api/v1/workspaces/public/resources/workflow/${path}${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return { status: res.status, json: (await res.json()) as never }
}

describe('POST .../runs with skip and only', () => {
  beforeAll(async () => {
    const wf = workflow('chain', { a: 'echo a', b: 'echo b', c: 'echo c' })
    const dag = (wf.spec as { dag: { depends?: string[] }[] }).dag
    dag[1]!.depends = ['a']
    dag[2]!.depends = ['b']
    await t.client.apply('public', [doc(wf)])
    await waitForRunEnd(t.client, (await waitFor('the apply run', () => t.client.runs(ref('chain')), (r) => r.length > 0))[0]!.id)
  })

  it('skips on request; the run succeeds; the step says why', async () => {
    const run = await t.client.runNow(ref('chain'), undefined, { skip: ['b'] })
    const ended = await waitForRunEnd(t.client, run.id)
    expect(ended.run.state).toBe('succeeded')
    const detail = await t.client.run(run.id)
    const b = detail.steps.find((s) => s.step === 'b')
    expect(b).toMatchObject({ state: 'skipped', reason: 'SkippedOnRequest', message: 'skipped on request (--skip)' })
    expect(detail.steps.find((s) => s.step === 'c')?.state).toBe('skipped')
  })

  it('only: the step and its ancestors', async () => {
    const run = await t.client.runNow(ref('chain'), undefined, { only: ['b'] })
    await waitForRunEnd(t.client, run.id)
    const detail = await t.client.run(run.id)
    expect(Object.fromEntries(detail.steps.map((s) => [s.step, s.state]))).toEqual({ a: 'succeeded', b: 'succeeded', c: 'skipped' })
    expect(detail.run.state).toBe('succeeded')
  })

  it('422 names unknown steps; a list over the bound is refused; nothing starts', async () => {
    const before = (await t.client.runs(ref('chain'))).length
    const bad = await post('chain/runs', { skip: ['nope'], only: ['zilch'] })
    expect(bad.status).toBe(422)
    expect(bad.json.error).toMatchObject({ code: 'E_PARAMS', message: expect.stringContaining('unknown steps "nope", "zilch"') })
    const many = await post('chain/runs', { skip: Array.from({ length: 101 }, () => 'a') })
    expect(many.status).toBe(400)
    expect((await t.client.runs(ref('chain'))).length).toBe(before)
  })
})

describe('POST .../runs/backfill', () => {
  beforeAll(async () => {
    await t.client.apply('public', [doc(workflow('nightly', { work: 'echo "$CTL_RUN_ID"' }, { schedule: { crons: ['0 2 * * *'], timezone: 'Europe/Berlin', concurrencyPolicy: 'Forbid' } }))])
    await t.client.apply('public', [doc(workflow('unscheduled', { work: 'true' }))])
  })

  it('dryRun lists the fire times (dates in the schedule zone) and starts nothing', async () => {
    const dry = await t.client.backfill(ref('nightly'), { from: '2024-05-01', to: '2024-05-03', dryRun: true })
    expect(dry).toEqual({ times: ['2024-05-01T00:00:00.000Z', '2024-05-02T00:00:00.000Z', '2024-05-03T00:00:00.000Z'], runs: [], dryRun: true })
    expect(await t.client.runs(ref('nightly'))).toEqual([])
  })

  it('starts one run per fire time, trigger backfill, one at a time under Forbid', async () => {
    const answer = await t.client.backfill(ref('nightly'), { from: '2024-05-01', to: '2024-05-03', parallel: 3 })
    expect(answer.times).toHaveLength(3)
    expect(answer.backfill).toMatchObject({ trigger: 'backfill', parallel: 3, state: 'running' })
    expect(answer.runs.map((r) => [r.trigger, r.scheduledAt])).toEqual([['backfill', '2024-05-01T00:00:00.000Z']])
    const runs = await waitFor('three backfill runs', () => t.client.runs(ref('nightly')), (r) => r.length === 3 && r.every((x) => x.state === 'succeeded'))
    expect(runs.map((r) => r.scheduledAt).reverse()).toEqual(answer.times)
  })

  it('refuses: no schedule (400), too many fire times (422 naming the count), unknown fields (400), bad parallel (400)', async () => {
    const none = await post('unscheduled/runs/backfill', { from: '2024-05-01', to: '2024-05-02' })
    expect(none.status).toBe(400)
    expect(none.json.error?.message).toMatch(/has no schedule/)
    const big = await post('nightly/runs/backfill', { from: '2020-01-01', to: '2024-01-01' })
    expect(big.status).toBe(422)
    expect(big.json.error).toMatchObject({ code: 'E_LIMIT', message: expect.stringContaining('the range holds 1462 fire times') })
    expect((await post('nightly/runs/backfill', { from: '2024-05-01', to: '2024-05-02', extra: 1 })).status).toBe(400)
    expect((await post('nightly/runs/backfill', { from: '2024-05-01', to: '2024-05-02', parallel: 0 })).status).toBe(400)
    expect((await post('nightly/runs/backfill', { from: 'then', to: '2024-05-02' })).status).toBe(400)
  })
})
