// Catch-up and backfill planning, pure: which missed fire times run by policy, the fire times of a
// backfill range (RFC 3339 or dates in the schedule's zone), its bound, and the scheduled time runs carry.
import { describe, expect, it } from 'vitest'
import { fireTimesBetween, planCatchUp, recentFireTimes, scheduledTimeOf } from '../../src/engine/cron.js'
import { backfillTimes, readBound } from '../../src/engine/backfill-plan.js'
import { defaultProjectionValues } from '../../src/projection/check.js'
import { evaluateCondition } from '../../src/expr/index.js'
import { checkExpression } from '../../src/expr/index.js'

const T0 = Date.parse('2030-01-01T00:00:00.000Z')
const at = (s: number) => new Date(T0 + s * 1000)
const iso = (s: number) => at(s).toISOString()
const every5 = { crons: ['*/5 * * * * *'], timezone: 'UTC' }

describe('catch-up plan', () => {
  // Last handled: :00; down until 23.5 s, so :05, :10, :15 and :20 were missed.
  const since = new Date(T0)
  const now = at(23.5)
  const online = at(23.5)
  const times = (p: { due: { fireAt: Date }[] }) => p.due.map((d) => d.fireAt.toISOString())

  it('latest runs the latest missed time (the behaviour before catchUp); none runs nothing missed', () => {
    expect(times(planCatchUp(every5, 'latest', 10, since, now, online))).toEqual([iso(20)])
    expect(planCatchUp(every5, 'latest', 10, since, now, online).due[0]?.lateBySeconds).toBe(3)
    expect(times(planCatchUp(every5, 'none', 10, since, now, online))).toEqual([])
    expect(planCatchUp(every5, 'none', 10, since, now, online).next).toEqual(at(25))
    // Due while the control plane was up (not missed): none runs it too.
    expect(times(planCatchUp(every5, 'none', 10, at(19.9), at(20.01), at(1)))).toEqual([iso(20)])
  })

  it('all runs each missed time oldest first, the most recent maxCatchUp of them', () => {
    expect(times(planCatchUp(every5, 'all', 10, since, now, online))).toEqual([iso(5), iso(10), iso(15), iso(20)])
    expect(times(planCatchUp(every5, 'all', 2, since, now, online))).toEqual([iso(15), iso(20)])
    // A week of downtime of a 5-second cron costs maxCatchUp steps, not 120,960.
    expect(recentFireTimes(every5, since, new Date(T0 + 7 * 86_400_000), 3).map((d) => d.toISOString())).toEqual([
      new Date(T0 + 7 * 86_400_000 - 10_000).toISOString(), new Date(T0 + 7 * 86_400_000 - 5_000).toISOString(), new Date(T0 + 7 * 86_400_000).toISOString(),
    ])
    // Several expressions merge; a shared time counts once.
    expect(recentFireTimes({ crons: ['*/5 * * * * *', '*/10 * * * * *'] }, since, now, 10).map((d) => d.toISOString())).toEqual([iso(5), iso(10), iso(15), iso(20)])
  })
})

describe('backfill range', () => {
  it('includes both ends; dates are days in the schedule zone, --to through its end', () => {
    expect(fireTimesBetween(every5, at(5), at(15), 100).times.map((d) => d.toISOString())).toEqual([iso(5), iso(10), iso(15)])
    const daily = { crons: ['0 6 * * *'], timezone: 'Europe/Berlin' }
    expect(readBound('2030-01-02', 'from', 'Europe/Berlin').toISOString()).toBe('2030-01-01T23:00:00.000Z')
    expect(readBound('2030-01-02', 'to', 'Europe/Berlin').toISOString()).toBe('2030-01-02T22:59:59.999Z')
    expect(backfillTimes(daily, '2030-01-01', '2030-01-03')).toEqual(['2030-01-01T05:00:00.000Z', '2030-01-02T05:00:00.000Z', '2030-01-03T05:00:00.000Z'])
    expect(backfillTimes(daily, '2030-01-01T05:00:00Z', '2030-01-02T04:59:59Z')).toEqual(['2030-01-01T05:00:00.000Z'])
  })

  it('refuses a bad bound, a reversed range, and more than 1,000 fire times naming the count', () => {
    expect(() => backfillTimes(every5, 'yesterday', '2030-01-01')).toThrow(/--from "yesterday" is neither an RFC 3339 time/)
    expect(() => backfillTimes(every5, '2030-01-02', '2030-01-01')).toThrow(/is before --from/)
    const minutely = { crons: ['* * * * *'], timezone: 'UTC' }
    expect(() => backfillTimes(minutely, '2030-01-01', '2030-01-01')).toThrow('the range holds 1440 fire times; one backfill may run at most 1000: split the range')
    expect(() => backfillTimes(every5, '2030-01-01', '2030-01-01')).toThrow('the range holds more than 2000 fire times')
    expect(backfillTimes(minutely, '2030-01-01T00:00:00Z', '2030-01-01T16:39:00Z')).toHaveLength(1000)
  })
})

describe('scheduled time', () => {
  it('is the fire time of a scheduled run, else its creation; in projections and in CEL', () => {
    expect(scheduledTimeOf({ scheduledAt: '2030-01-01T00:00:05.000Z', createdAt: '2030-01-01T00:00:06.123Z' })).toBe('2030-01-01T00:00:05Z')
    expect(scheduledTimeOf({ createdAt: '2030-01-01T00:00:06.123Z' })).toBe('2030-01-01T00:00:06.123Z')
    const ctx = { runId: 'r-1', revision: 1, runStartTime: '2030-01-01T00:00:07Z', owner: 'alice', workspace: 'public' }
    expect(defaultProjectionValues({ ...ctx, scheduledTime: '2030-01-01T00:00:05Z' }, 'load').scheduledTime).toBe('2030-01-01T00:00:05Z')
    expect(defaultProjectionValues(ctx, 'load').scheduledTime).toBe('2030-01-01T00:00:07Z')
    const vars = { params: {}, steps: {}, workflow: { name: 'wf', workspace: 'public', runId: 'r-1', trigger: 'backfill', scheduledTime: '2030-01-01T00:00:05Z' } }
    expect(evaluateCondition("workflow.scheduledTime.startsWith('2030-01-01')", vars)).toBe(true)
    expect(checkExpression("workflow.scheduledTime != ''", { params: [], steps: [], allSteps: [], fannedOut: [] }, 'bool')).toEqual([])
  })
})
