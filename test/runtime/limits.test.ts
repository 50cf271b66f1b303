// resources.limits of local steps: the one quantity parser, and how each limit is enforced.
import { describe, expect, it } from 'vitest'
import { parseQuantity } from '../../src/manifest/quantity.js'
import { enforce, readLimits } from '../../src/runtime/local/limits.js'

describe('parseQuantity', () => {
  it('reads Kubernetes quantities in base units', () => {
    expect(parseQuantity('256Mi')).toBe(256 * 2 ** 20)
    expect(parseQuantity('1Gi')).toBe(2 ** 30)
    expect(parseQuantity('1.5G')).toBe(1.5e9)
    expect(parseQuantity('128M')).toBe(128e6)
    expect(parseQuantity('500m')).toBe(0.5)
    expect(parseQuantity('2')).toBe(2)
    expect(parseQuantity(2)).toBe(2)
    expect(parseQuantity('1e3')).toBe(1000)
    expect(parseQuantity('100k')).toBe(100e3)
  })

  it('refuses what is not a quantity', () => {
    for (const q of ['', 'Mi', '256MB', '-1', '1..2', '12 Mi', 'lots', '1e999']) expect(parseQuantity(q), q).toBeUndefined()
    expect(parseQuantity(-1)).toBeUndefined()
    expect(parseQuantity(Number.NaN)).toBeUndefined()
  })
})

describe('enforcement of limits', () => {
  const limits = readLimits({ memory: '256Mi', cpu: '500m' })

  it('uses a cgroup v2 of the step when one may be made', () => {
    const e = enforce(limits, { cgroupParent: '/sys/fs/cgroup/ctl', noCgroup: '', prlimitPath: '/usr/bin/prlimit' }, 'ctl-r-s.1')
    expect(e.wrap).toEqual([])
    expect(e.cgroup).toEqual({ dir: '/sys/fs/cgroup/ctl/ctl-r-s.1', files: { 'memory.max': String(256 * 2 ** 20), 'cpu.max': '50000 100000' } })
    expect(e.notes).toEqual(['memory limit 256Mi enforced by cgroup v2 (memory.max)', 'cpu limit 500m enforced by cgroup v2 (cpu.max)'])
  })

  it('else limits memory by prlimit and says that cpu is not enforced', () => {
    const e = enforce(limits, { noCgroup: 'no cgroup v2 here', prlimitPath: '/usr/bin/prlimit' }, 'x')
    expect(e.wrap).toEqual(['/usr/bin/prlimit', `--as=${256 * 2 ** 20}`, '--'])
    expect(e.cgroup).toBeUndefined()
    expect(e.notes).toEqual(['memory limit 256Mi enforced by prlimit (address space)', 'cpu limit 500m not enforced: no cgroup v2 here'])
  })

  it('says so when nothing can enforce memory either', () => {
    expect(enforce(limits, { noCgroup: 'no cgroup v2 here' }, 'x').notes[0]).toBe('memory limit 256Mi not enforced: no cgroup v2 here and no prlimit')
  })

  it('a step without limits gets nothing', () => {
    expect(enforce(readLimits(undefined), { noCgroup: 'no cgroup v2 here', prlimitPath: '/usr/bin/prlimit' }, 'x')).toEqual({ wrap: [], notes: [] })
  })

  it('a limit that is not a quantity cannot start', () => {
    expect(() => readLimits({ memory: 'lots' })).toThrow(/resources.limits.memory "lots" is not a positive quantity/)
    expect(() => readLimits({ cpu: '0' })).toThrow(/not a positive quantity/)
  })
})
