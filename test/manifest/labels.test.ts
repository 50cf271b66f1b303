// Labels (Kubernetes syntax, located errors, absent stays absent) and the label selector parser (kubectl's
// grammar), the parser also as properties with fast-check: what it formats it reads back, and matching
// agrees with a plain reading of each requirement.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { offlineManifestContext } from '../../src/cli/offline.js'
import { formatIssue } from '../../src/errors.js'
import { lintSources } from '../../src/manifest/index.js'
import { labelKeyProblem, labelValueProblem } from '../../src/manifest/labels.js'
import { formatSelector, matchesSelector, parseSelector, type Requirement } from '../../src/manifest/selector.js'

const ctx = offlineManifestContext()
const lintText = (text: string) => lintSources([{ file: 'v.yaml', text }], ctx, { interpolate: false, env: {} })
const volume = (labels: string) => `name: data
version: v1beta
type: volume
${labels}volume:
  size: 1Gi
  accessMode: ReadWriteOnce
  type: temp
`

describe('labels', () => {
  it('are normalized into meta beside tags; absent stays absent', () => {
    const r = lintText(volume('labels:\n  team: core\n  example.com/tier: gold\n  empty: ""\n'))
    expect(r.issues.map(formatIssue)).toEqual([])
    expect(r.documents[0]!.resource.meta.labels).toEqual({ team: 'core', 'example.com/tier': 'gold', empty: '' })
    expect('labels' in lintText(volume('')).documents[0]!.resource.meta).toBe(false)
  })

  it('bad keys and values are located errors', () => {
    const r = lintText(volume(`labels:\n  "-bad": x\n  ${'k'.repeat(64)}: x\n  ok: "has space"\n  Upper.Case/x: y\n  team: ${'v'.repeat(64)}\n`))
    expect(r.issues.map(formatIssue)).toEqual([
      'v.yaml:5:3  invalid label key "-bad": it must use letters, digits, "-", "_" and ".", start and end with a letter or digit, optionally after a "prefix/" (labels.-bad)',
      `v.yaml:6:3  invalid label key "${'k'.repeat(64)}": it has a name of 64 characters; at most 63 are allowed (labels.${'k'.repeat(64)})`,
      'v.yaml:7:3  invalid value of label "ok": "has space" must be empty or use letters, digits, "-", "_" and ".", starting and ending with a letter or digit (labels.ok)',
      'v.yaml:8:3  invalid label key "Upper.Case/x": it has prefix "Upper.Case", which is no DNS subdomain (lowercase letters, digits, "-" and ".") (labels["Upper.Case/x"])',
      `v.yaml:9:3  invalid value of label "team": "${'v'.repeat(64)}" is 64 characters long; at most 63 are allowed (labels.team)`,
    ])
  })

  it('a value that is not a string is a schema error', () => {
    expect(lintText(volume('labels:\n  replicas: 3\n')).issues.map((i) => i.code)).toEqual(['E_SCHEMA'])
  })
})

describe('label selectors', () => {
  it('reads every form of kubectl\'s grammar', () => {
    expect(parseSelector('team=core,env!=dev, tier in (a, b),zone notin (x),has-it,!gone,k==v')).toEqual([
      { key: 'team', op: 'in', values: ['core'] },
      { key: 'env', op: 'notin', values: ['dev'] },
      { key: 'tier', op: 'in', values: ['a', 'b'] },
      { key: 'zone', op: 'notin', values: ['x'] },
      { key: 'has-it', op: 'exists' },
      { key: 'gone', op: 'notexists' },
      { key: 'k', op: 'in', values: ['v'] },
    ])
    expect(parseSelector('')).toEqual([])
    expect(parseSelector('example.com/team=core')).toEqual([{ key: 'example.com/team', op: 'in', values: ['core'] }])
  })

  it('refuses what it cannot read, saying why', () => {
    for (const [text, why] of [
      ['team in core', 'cannot read "team in core"'],
      ['a,,b', 'an empty requirement'],
      ['bad key=x', 'cannot read'],
      ['k=has space', 'value "has space"'],
      ['-k=v', 'key "-k"'],
      ['a'.repeat(5000), 'at most 4096'],
      [Array.from({ length: 40 }, (_, i) => `k${i}`).join(','), 'at most 32 are allowed'],
    ] as const) {
      expect(() => parseSelector(text), text.slice(0, 40)).toThrow(why)
    }
  })

  it('matches as kubectl does: != and notin also match resources without the key', () => {
    const sel = parseSelector('team=core,env!=dev')
    expect(matchesSelector(sel, { team: 'core', env: 'prod' })).toBe(true)
    expect(matchesSelector(sel, { team: 'core' })).toBe(true)
    expect(matchesSelector(sel, { team: 'core', env: 'dev' })).toBe(false)
    expect(matchesSelector(sel, undefined)).toBe(false)
    expect(matchesSelector(parseSelector('!team'), undefined)).toBe(true)
  })

  const key = fc.stringMatching(/^[a-z0-9]([a-z0-9._-]{0,10}[a-z0-9])?$/)
  const value = fc.stringMatching(/^([A-Za-z0-9]([A-Za-z0-9._-]{0,8}[A-Za-z0-9])?)?$/)
  const nonEmpty = value.filter((v) => v !== '')
  const requirement: fc.Arbitrary<Requirement> = fc.oneof(
    fc.record({ key, op: fc.constantFrom('in' as const, 'notin' as const), values: fc.array(nonEmpty, { minLength: 1, maxLength: 4 }) }),
    fc.record({ key, op: fc.constantFrom('exists' as const, 'notexists' as const) }),
  )

  it('property: what formatSelector writes, parseSelector reads back', () => {
    fc.assert(fc.property(fc.array(requirement, { minLength: 1, maxLength: 8 }), (reqs) => {
      expect(parseSelector(formatSelector(reqs))).toEqual(reqs)
    }))
  })

  it('property: a selector matches exactly when each requirement holds on its own', () => {
    fc.assert(fc.property(fc.array(requirement, { maxLength: 5 }), fc.dictionary(key, value, { maxKeys: 5 }), (reqs, labels) => {
      const each = reqs.every((r) => {
        const has = Object.hasOwn(labels, r.key)
        if (r.op === 'exists') return has
        if (r.op === 'notexists') return !has
        if (r.op === 'in') return has && r.values.includes(labels[r.key]!)
        if (r.op === 'notin') return !has || !r.values.includes(labels[r.key]!)
        return false
      })
      expect(matchesSelector(reqs, labels)).toBe(each)
    }))
  })

  it('property: the parser never throws anything but a usage error', () => {
    fc.assert(fc.property(fc.string({ maxLength: 60 }), (text) => {
      try {
        parseSelector(text)
      } catch (err) {
        expect((err as { code?: string }).code).toBe('E_USAGE')
      }
    }))
  })

  it('label keys and values are checked like Kubernetes', () => {
    expect(labelKeyProblem('a/b/c')).toBeDefined()
    expect(labelKeyProblem(`${'p'.repeat(254)}/x`)).toMatch(/at most 253/)
    expect(labelKeyProblem('app.kubernetes.io/name')).toBeUndefined()
    expect(labelValueProblem('')).toBeUndefined()
    expect(labelValueProblem('a_b.c-d')).toBeUndefined()
  })
})
