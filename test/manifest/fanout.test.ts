// Fan-out, pure: matrix combinations (GitHub Actions include/exclude semantics), instance names, bounds.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CtlError } from '../../src/errors.js'
import { instanceName, instanceNames, matrixCombinations, type InstanceAt } from '../../src/manifest/fanout.js'
import { checkFanoutSize, fanoutSizeProblem, MAX_FOREACH_ITEMS, MAX_MATRIX_COMBINATIONS } from '../../src/manifest/limits.js'
import type { MatrixSpec, MatrixValue } from '../../src/manifest/model.js'

const matrix = (m: Partial<MatrixSpec> & Pick<MatrixSpec, 'axes'>): MatrixSpec => ({ include: [], exclude: [], failFast: false, ...m })

describe('matrixCombinations', () => {
  it('the issue example: cross product in declared order, minus exclude, plus a new include', () => {
    const combos = matrixCombinations(
      matrix({ axes: { os: ['debian', 'alpine'], py: ['3.11', '3.12'] }, exclude: [{ os: 'alpine', py: '3.11' }], include: [{ os: 'debian', py: '3.13' }] }),
    )
    expect(combos).toEqual([
      { os: 'debian', py: '3.11' },
      { os: 'debian', py: '3.12' },
      { os: 'alpine', py: '3.12' },
      { os: 'debian', py: '3.13' },
    ])
    expect(combos.map((m) => instanceName('test', { matrix: m }))).toEqual(['test-debian-3.11', 'test-debian-3.12', 'test-alpine-3.12', 'test-debian-3.13'])
  })

  it('an exclude entry with fewer keys removes every combination it matches', () => {
    expect(matrixCombinations(matrix({ axes: { a: [1, 2], b: ['x', 'y'] }, exclude: [{ a: 1 }] }))).toEqual([
      { a: 2, b: 'x' },
      { a: 2, b: 'y' },
    ])
  })

  it('values compare strictly: 3.11 the number is not "3.11" the string', () => {
    expect(matrixCombinations(matrix({ axes: { py: ['3.11'] }, exclude: [{ py: 3.11 }] }))).toEqual([{ py: '3.11' }])
  })

  it('an include matching on its axis keys extends those combinations with its extra keys', () => {
    const combos = matrixCombinations(
      matrix({ axes: { os: ['debian', 'alpine'], py: ['3.11', '3.12'] }, include: [{ os: 'alpine', libc: 'musl' }, { experimental: true }] }),
    )
    expect(combos).toEqual([
      { os: 'debian', py: '3.11', experimental: true },
      { os: 'debian', py: '3.12', experimental: true },
      { os: 'alpine', py: '3.11', libc: 'musl', experimental: true },
      { os: 'alpine', py: '3.12', libc: 'musl', experimental: true },
    ])
    expect(instanceName('t', { matrix: combos[2]! })).toBe('t-alpine-3.11-musl-true')
  })

  it('an include that matches nothing is added once, axis keys first in declared order', () => {
    expect(matrixCombinations(matrix({ axes: { os: ['debian'], py: ['3.11'] }, include: [{ py: '3.9', os: 'arch' }, { py: '3.9', os: 'arch' }] }))).toEqual([
      { os: 'debian', py: '3.11' },
      { os: 'arch', py: '3.9' },
    ])
  })

  it('without axes only the includes are combinations', () => {
    expect(matrixCombinations(matrix({ axes: {}, include: [{ a: 1 }, { a: 2 }] }))).toEqual([{ a: 1 }, { a: 2 }])
  })

  it('refuses a cross product far over the bound before building it', () => {
    const values = Array.from({ length: 200 }, (_, i) => i)
    expect(() => matrixCombinations(matrix({ axes: { a: values, b: values, c: values } }))).toThrow(
      expect.objectContaining({ code: 'E_LIMIT', message: `matrix axes multiply to 8000000 combinations; at most ${MAX_MATRIX_COMBINATIONS} are allowed` }),
    )
  })
})

describe('instanceName', () => {
  it('forEach instances are step-index', () => {
    expect([0, 1, 12].map((index) => instanceName('shard', { index }))).toEqual(['shard-0', 'shard-1', 'shard-12'])
  })

  it('lowercases, turns other characters into dashes and collapses them', () => {
    expect(instanceName('build', { matrix: { os: 'Ubuntu 22.04', arch: '--x86_64/' } })).toBe('build-ubuntu-22.04-x86-64')
  })

  it('cuts a long name and adds a stable hash', () => {
    const at = { matrix: { image: 'registry.example.com/team/some-very-long-image-name', tag: 'v1.2.3-rc.1' } }
    const name = instanceName('integration-tests', at)
    expect(name.length).toBeLessThanOrEqual(63)
    expect(name).toMatch(/^integration-tests-registry\.example\.com-team-some-very-[0-9a-f]{8}$/)
    expect(instanceName('integration-tests', { matrix: { ...at.matrix } })).toBe(name)
  })

  it('two combinations that read the same both get a hash, and differ', () => {
    const names = instanceNames('s', [{ matrix: { a: 'x-y', b: 'z' } }, { matrix: { a: 'x', b: 'y-z' } }, { matrix: { a: 'p', b: 'q' } }])
    expect(names[0]).toMatch(/^s-x-y-z-[0-9a-f]{8}$/)
    expect(names[1]).toMatch(/^s-x-y-z-[0-9a-f]{8}$/)
    expect(names[0]).not.toBe(names[1])
    expect(names[2]).toBe('s-p-q')
  })
})

describe('instance names, property', () => {
  const value: fc.Arbitrary<MatrixValue> = fc.oneof(fc.string({ maxLength: 30 }), fc.integer(), fc.boolean(), fc.double({ noNaN: true }))
  const stepName = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,46}[a-z0-9])?$/)
  const ats: fc.Arbitrary<InstanceAt[]> = fc.oneof(
    fc.integer({ min: 1, max: 50 }).map((n) => Array.from({ length: n }, (_, index) => ({ index }))),
    fc
      .dictionary(fc.string({ minLength: 1, maxLength: 12 }), fc.uniqueArray(value, { minLength: 1, maxLength: 4, selector: (v) => `${typeof v}:${String(v)}` }), { minKeys: 1, maxKeys: 3 })
      .map((axes) => matrixCombinations(matrix({ axes })).map((m) => ({ matrix: m }))),
  )

  it('are unique within a step, DNS-safe, at most 63 characters and the same on every call', () => {
    fc.assert(
      fc.property(stepName, ats, (step, at) => {
        const names = instanceNames(step, at)
        expect(new Set(names).size).toBe(names.length)
        for (const name of names) {
          expect(name.length).toBeLessThanOrEqual(63)
          expect(name).toMatch(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/)
          expect(name).not.toMatch(/--/)
        }
        expect(instanceNames(step, structuredClone(at))).toEqual(names)
      }),
      { numRuns: 300 },
    )
  })
})

describe('fan-out bounds', () => {
  it('one check for lint and engine, with a stable code', () => {
    expect(fanoutSizeProblem(MAX_FOREACH_ITEMS, 'forEach')).toBeUndefined()
    expect(fanoutSizeProblem(MAX_FOREACH_ITEMS + 1, 'forEach')).toBe('forEach yields 1001 items; at most 1000 are allowed')
    expect(fanoutSizeProblem(257, 'matrix')).toBe('matrix yields 257 combinations; at most 256 are allowed')
    expect(fanoutSizeProblem(20, 'forEach', 10)).toBe('forEach yields 20 items; at most 10 are allowed')
    expect(() => checkFanoutSize(257, 'matrix')).toThrow(CtlError)
    expect(() => checkFanoutSize(257, 'matrix')).toThrow(expect.objectContaining({ code: 'E_LIMIT' }))
    expect(() => checkFanoutSize(256, 'matrix')).not.toThrow()
  })
})
