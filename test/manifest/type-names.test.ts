import { describe, expect, it } from 'vitest'
import { CtlError } from '../../src/errors.js'
import { RESOURCE_TYPES } from '../../src/manifest/model.js'
import { resourceType, TYPE_NAMES, typeNames } from '../../src/manifest/type-names.js'

describe('resource type names (kubectl style)', () => {
  it('takes every type by its name, plural and short names, in any case', () => {
    for (const type of RESOURCE_TYPES) {
      for (const name of [type, TYPE_NAMES[type].plural, ...TYPE_NAMES[type].short]) {
        expect(resourceType(name)).toBe(type)
        expect(resourceType(name.toUpperCase())).toBe(type)
      }
    }
    expect(resourceType('wf')).toBe('workflow')
    expect(resourceType('vol')).toBe('volume')
    expect(resourceType('secrets')).toBe('secret')
  })

  it('no name stands for two types', () => {
    expect(new Set(typeNames()).size).toBe(RESOURCE_TYPES.reduce((n, t) => n + 2 + TYPE_NAMES[t].short.length, 0))
  })

  it('refuses an unknown name with the nearest type and every spelling', () => {
    const err = (() => { try { resourceType('wrkflows') } catch (e) { return e as CtlError } })()!
    expect(err.code).toBe('E_USAGE')
    expect(err.message).toBe('unknown type "wrkflows"; did you mean "workflow"? Known: workflow (wf, workflows), secret (secrets), '
      + 'instance-secret (isecret, instance-secrets), volume (vol, volumes), compute (computes), stack (stacks)')
    expect(() => resourceType('pipeline')).toThrow(/^unknown type "pipeline"; known: workflow \(wf, workflows\)/)
  })

  it('points kubectl namespaces and ctl workspaces to workspace get', () => {
    for (const name of ['ws', 'workspaces', 'ns']) expect(() => resourceType(name)).toThrow('workspaces are not a resource type: list them with "ctl workspace get"')
  })
})
