import { describe, expect, it } from 'vitest'
import { latestFireTime, nextFireTime, planFires, validateSchedule } from '../../src/engine/cron.js'
import { CtlError } from '../../src/errors.js'

const d = (iso: string) => new Date(iso)
const iso = (x: Date | undefined) => x?.toISOString()

describe('nextFireTime', () => {
  it('is strictly after the given time', () => {
    const s = { crons: ['*/5 * * * *'] }
    expect(iso(nextFireTime(s, d('2024-01-01T10:05:00.000Z')))).toBe('2024-01-01T10:10:00.000Z')
    expect(iso(nextFireTime(s, d('2024-01-01T10:04:59.999Z')))).toBe('2024-01-01T10:05:00.000Z')
  })
  it('supports six-field (seconds) expressions', () => {
    expect(iso(nextFireTime({ crons: ['* * * * * *'] }, d('2024-01-01T10:05:00.500Z')))).toBe('2024-01-01T10:05:01.000Z')
  })
  it('takes the earliest of several expressions', () => {
    const s = { crons: ['0 12 * * *', '30 9 * * *', '0 0 1 1 *'] }
    expect(iso(nextFireTime(s, d('2024-03-01T10:00:00Z')))).toBe('2024-03-01T12:00:00.000Z')
    expect(iso(nextFireTime(s, d('2024-03-01T13:00:00Z')))).toBe('2024-03-02T09:30:00.000Z')
  })
  it('honours the time zone, including daylight saving changes', () => {
    const s = { crons: ['0 9 * * *'], timezone: 'America/New_York' }
    // 9:00 EST = 14:00 UTC; after the switch on 2024-03-10, 9:00 EDT = 13:00 UTC.
    expect(iso(nextFireTime(s, d('2024-03-09T12:00:00Z')))).toBe('2024-03-09T14:00:00.000Z')
    expect(iso(nextFireTime(s, d('2024-03-09T15:00:00Z')))).toBe('2024-03-10T13:00:00.000Z')
    const k = { crons: ['0 9 * * *'], timezone: 'Asia/Kolkata' }
    expect(iso(nextFireTime(k, d('2024-03-09T00:00:00Z')))).toBe('2024-03-09T03:30:00.000Z')
  })
  it('never fires after endOn', () => {
    const s = { crons: ['0 * * * *'], endOn: '2024-01-01T12:00:00Z' }
    expect(iso(nextFireTime(s, d('2024-01-01T10:30:00Z')))).toBe('2024-01-01T11:00:00.000Z')
    expect(iso(nextFireTime(s, d('2024-01-01T11:30:00Z')))).toBe('2024-01-01T12:00:00.000Z')
    expect(nextFireTime(s, d('2024-01-01T12:00:00Z'))).toBeUndefined()
    expect(nextFireTime({ ...s, endOn: '2023-12-31T00:00:00Z' }, d('2024-01-01T10:00:00Z'))).toBeUndefined()
  })
})

describe('latestFireTime', () => {
  const s = { crons: ['0 * * * *'] }
  it('is the latest time in (since, upTo], inclusive of upTo', () => {
    expect(iso(latestFireTime(s, d('2024-01-01T08:30:00Z'), d('2024-01-01T11:00:00Z')))).toBe('2024-01-01T11:00:00.000Z')
    expect(iso(latestFireTime(s, d('2024-01-01T08:30:00Z'), d('2024-01-01T11:59:59Z')))).toBe('2024-01-01T11:00:00.000Z')
  })
  it('excludes `since` itself (the fire already done)', () => {
    expect(latestFireTime(s, d('2024-01-01T11:00:00Z'), d('2024-01-01T11:30:00Z'))).toBeUndefined()
  })
  it('is undefined when nothing fell in the window', () => {
    expect(latestFireTime(s, d('2024-01-01T11:10:00Z'), d('2024-01-01T11:50:00Z'))).toBeUndefined()
    expect(latestFireTime(s, d('2024-01-01T11:10:00Z'), d('2024-01-01T11:00:00Z'))).toBeUndefined()
  })
  it('stops at endOn', () => {
    const e = { crons: ['0 * * * *'], endOn: '2024-01-01T09:30:00Z' }
    expect(iso(latestFireTime(e, d('2024-01-01T07:30:00Z'), d('2024-01-01T12:00:00Z')))).toBe('2024-01-01T09:00:00.000Z')
    expect(latestFireTime(e, d('2024-01-01T09:10:00Z'), d('2024-01-01T12:00:00Z'))).toBeUndefined()
  })
  it('takes the latest of several expressions', () => {
    const m = { crons: ['0 1 * * *', '0 5 * * *'] }
    expect(iso(latestFireTime(m, d('2024-01-01T00:00:00Z'), d('2024-01-02T03:00:00Z')))).toBe('2024-01-02T01:00:00.000Z')
  })
})

describe('planFires', () => {
  const s = { crons: ['*/10 * * * *'] }
  it('after downtime only the latest missed time runs, with how late it is', () => {
    const p = planFires(s, d('2024-01-01T08:00:00Z'), d('2024-01-01T10:07:30Z'))
    expect(iso(p.due?.fireAt)).toBe('2024-01-01T10:00:00.000Z')
    expect(p.due?.lateBySeconds).toBe(450)
    expect(iso(p.next)).toBe('2024-01-01T10:10:00.000Z')
  })
  it('on time: late by zero', () => {
    const p = planFires(s, d('2024-01-01T09:50:00Z'), d('2024-01-01T10:00:00.400Z'))
    expect(iso(p.due?.fireAt)).toBe('2024-01-01T10:00:00.000Z')
    expect(p.due?.lateBySeconds).toBe(0)
  })
  it('nothing due before the first fire time', () => {
    const p = planFires(s, d('2024-01-01T10:01:00Z'), d('2024-01-01T10:05:00Z'))
    expect(p.due).toBeUndefined()
    expect(iso(p.next)).toBe('2024-01-01T10:10:00.000Z')
  })
  it('an ended schedule still runs its last missed time, then nothing', () => {
    const e = { ...s, endOn: '2024-01-01T10:05:00Z' }
    const p = planFires(e, d('2024-01-01T09:55:00Z'), d('2024-01-01T11:00:00Z'))
    expect(iso(p.due?.fireAt)).toBe('2024-01-01T10:00:00.000Z')
    expect(p.next).toBeUndefined()
  })
})

describe('validateSchedule', () => {
  const code = (f: () => void) => {
    try {
      f()
    } catch (err) {
      return err instanceof CtlError ? err.code : 'not a CtlError'
    }
    return 'no error'
  }
  it('accepts good schedules', () => {
    expect(code(() => validateSchedule({ crons: ['*/5 * * * *', '0 0 * * 1-5'], timezone: 'Europe/Berlin', endOn: '2030-01-01T00:00:00Z' }))).toBe('no error')
  })
  it('rejects bad crons, zones, ends', () => {
    expect(code(() => validateSchedule({ crons: ['61 * * * *'] }))).toBe('E_CRON')
    expect(code(() => validateSchedule({ crons: ['nonsense'] }))).toBe('E_CRON')
    expect(code(() => validateSchedule({ crons: [] }))).toBe('E_CRON')
    expect(code(() => validateSchedule({ crons: ['* * * * *'], timezone: 'Mars/Olympus' }))).toBe('E_TIMEZONE')
    expect(code(() => validateSchedule({ crons: ['* * * * *'], endOn: 'tomorrow' }))).toBe('E_END_ON')
  })
})
