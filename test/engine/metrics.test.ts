// The engine's figures with a fake clock: a scheduled run created late counts its lag, and the run and its
// step attempt are counted as they start and end (src/metrics through EngineOptions.metrics).
import { afterEach, expect, it } from 'vitest'
import { createMetrics } from '../../src/metrics/metrics.js'
import { parsePrometheusText, total } from '../support/prom-text.js'
import { harness, waitFor, workflow, type Harness } from './support.js'

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

const T0 = Date.parse('2030-01-01T00:00:00.000Z')

it('schedule lag: the :05 run created at 6.5 s is 1.5 s late; the run and its attempt are counted', async () => {
  let clock = T0 + 4_900
  h = await harness({ start: false, maxTimerSleepMs: 50 })
  const metrics = createMetrics({ processMetrics: false })
  const engine = h.newEngine({ now: () => new Date(clock), metrics })
  h.engine = engine
  await engine.start()
  const r = await h.apply(workflow('lagging', [{ name: 'work', script: 'echo hi' }], { schedule: { crons: ['*/5 * * * * *'], timezone: 'UTC', concurrencyPolicy: 'Forbid' } }))
  await engine.idle()
  clock = T0 + 6_500
  const run = await waitFor('the :05 run to end', async () => {
    const x = (await h!.store.listRuns({ resourceId: r.id }))[0]
    return x && ['succeeded', 'failed'].includes(x.state) ? x : undefined
  })
  expect(run.state).toBe('succeeded')
  const f = parsePrometheusText(await metrics.exposition())
  expect(total(f, 'ctl_schedule_lag_seconds_count')).toBe(1)
  expect(total(f, 'ctl_schedule_lag_seconds_sum')).toBeCloseTo(1.5, 3)
  expect(total(f, 'ctl_runs_started_total', { workspace: 'public', workflow: 'lagging', trigger: 'schedule' })).toBe(1)
  expect(total(f, 'ctl_runs_finished_total', { workspace: 'public', workflow: 'lagging', state: 'succeeded' })).toBe(1)
  expect(total(f, 'ctl_step_attempt_duration_seconds_count', { workspace: 'public', state: 'succeeded' })).toBe(1)
  expect(total(f, 'ctl_step_queue_delay_seconds_count', { workspace: 'public' })).toBe(1)
  expect(total(f, 'ctl_log_bytes_ingested_total', { workspace: 'public' })).toBe(2)
})
