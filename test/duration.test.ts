import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { DurationError, formatDuration, MS, parseDuration, parseSince, readDuration } from '../src/duration.js'

const YEAR = 365 * MS.d
const ms = (text: string | number, opts: Partial<Parameters<typeof readDuration>[1]> = {}): number | string => {
  const r = readDuration(text, { maxMs: YEAR, ...opts })
  return r.ok ? r.ms : r.reason
}

describe('the one duration grammar', () => {
  it('sits at the bottom of the layering, beside errors.ts, so that every folder may use it', () => {
    const text = readFileSync(new URL('../src/duration.ts', import.meta.url), 'utf8')
    expect([...text.matchAll(/^import .* from '([^']+)'/gm)].map((m) => m[1])).toEqual(['./errors.js'])
  })

  it('reads what Go, Argo and Kestra users write', () => {
    expect(ms('500ms')).toBe(500)
    expect(ms('30s')).toBe(30_000)
    expect(ms('1m30s')).toBe(90_000)
    expect(ms('1h')).toBe(MS.h)
    expect(ms('2d')).toBe(2 * MS.d)
    expect(ms('1w')).toBe(MS.w)
    expect(ms('1w2d3h4m5s6ms')).toBe(MS.w + 2 * MS.d + 3 * MS.h + 4 * MS.m + 5 * MS.s + 6)
    expect(ms('1.5h')).toBe(90 * MS.m)
    expect(ms('0.5s')).toBe(500)
    expect(ms(' 10m ')).toBe(10 * MS.m)
    expect(ms('PT1H30M')).toBe(90 * MS.m)
    expect(ms('P1DT12H')).toBe(36 * MS.h)
    expect(ms('P2W')).toBe(2 * MS.w)
    expect(ms('PT0.5S')).toBe(500)
  })

  it('refuses garbage precisely, with the reason in the message', () => {
    for (const bad of ['', ' ', 'h', '10', '10x', '10 parsecs', '1h garbage 30m', '-1h', '+1h', '1y', '1M', '1.h', '.5s', '1e3s', 'P', 'PT', 'P1H', 'pt1h', '30s1m', '1h1h', '1m1m', 'NaN', 'Infinity', '1\u00001s']) {
      expect(ms(bad), bad).toBe('syntax')
    }
    expect(readDuration('30s1m', { maxMs: YEAR, what: 'timeout' })).toEqual({
      ok: false,
      reason: 'syntax',
      message: 'timeout "30s1m" is not a duration (units go from largest to smallest, each at most once: "m" comes too late); write for example 500ms, 30s, 1m30s, 2h, 1d, 1w or PT1H',
    })
    expect(readDuration('10x', { maxMs: YEAR })).toMatchObject({ message: expect.stringContaining('unknown unit in "10x"') })
    expect(ms('x'.repeat(10_000))).toBe('syntax')
  })

  it('refuses zero unless the use allows it', () => {
    expect(ms('0s')).toBe('zero')
    expect(ms('0')).toBe('zero')
    expect(ms('0s', { allowZero: true })).toBe(0)
    expect(ms('0', { allowZero: true })).toBe(0)
  })

  it('takes a bare number as seconds only where the use says so', () => {
    expect(ms('90')).toBe('syntax')
    expect(ms('90', { bareSeconds: true })).toBe(90_000)
    expect(ms(1.5, { bareSeconds: true })).toBe(1500)
    expect(ms(90)).toBe('syntax')
    expect(ms(-5, { bareSeconds: true })).toBe('syntax')
    expect(ms(Number.NaN, { bareSeconds: true })).toBe('syntax')
  })

  it('refuses what overflows or passes the maximum of its use', () => {
    expect(ms('99999999999999d')).toBe('too-long')
    expect(ms(`${'9'.repeat(60)}s`)).toBe('too-long')
    expect(ms('366d')).toBe('too-long')
    expect(ms('365d')).toBe(YEAR)
    expect(readDuration('8d', { maxMs: 7 * MS.d, what: 'timeout' })).toMatchObject({ reason: 'too-long', message: 'timeout "8d" is too long: at most 7d is allowed' })
  })

  it('throws a typed error with the code of its use (E_USAGE by default)', () => {
    const err = (() => {
      try {
        parseDuration('soon', { maxMs: YEAR, what: '--pod-ttl' })
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(DurationError)
    expect(err).toMatchObject({ code: 'E_USAGE', reason: 'syntax' })
    expect(() => parseDuration('2y', { maxMs: YEAR, code: 'E_DURATION' })).toThrow(expect.objectContaining({ code: 'E_DURATION' }))
    expect(parseDuration('1d12h', { maxMs: YEAR })).toBe(36 * MS.h)
  })
})

describe('parseSince', () => {
  const now = Date.parse('2024-05-01T12:00:00Z')
  it('reads a duration back from now or an RFC 3339 time', () => {
    expect(parseSince('1h', now)).toBe('2024-05-01T11:00:00.000Z')
    expect(parseSince('1d12h', now)).toBe('2024-04-30T00:00:00.000Z')
    expect(parseSince('2024-05-01T12:00:00+02:00')).toBe('2024-05-01T10:00:00.000Z')
  })
  it('refuses what is neither, and durations that reach past any date (no RangeError)', () => {
    for (const bad of ['yesterday-ish', '99999999999999d', '0s', '+275760-09-13T00:00:01Z']) {
      expect(() => parseSince(bad, now), bad).toThrow(expect.objectContaining({ code: 'E_USAGE' }))
    }
  })
})

describe('formatDuration', () => {
  it('prints kubectl-style ages, in days past two days', () => {
    expect([0, 999, 45_000, 90_000, 3 * MS.h + 5 * MS.m, 47 * MS.h, 7 * MS.d, 7 * MS.d + 5 * MS.h].map(formatDuration)).toEqual(['0s', '0s', '45s', '1m30s', '3h5m', '47h', '7d', '7d5h'])
    expect(formatDuration(-1)).toBe('')
    expect(formatDuration(Number.NaN)).toBe('')
  })
})
