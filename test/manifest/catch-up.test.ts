// schedule.catchUp and maxCatchUp at lint: the policies, the bound of maxCatchUp, and a normalized
// schedule that carries them only when written (older manifests keep their content hash).
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { lintValue, MANIFEST_LIMITS, schemaFor } from '../../src/manifest/index.js'
import type { WorkflowResource } from '../../src/manifest/model.js'
import { testContext } from './helpers.js'
import { workflowV2 } from './manifests.js'

function withSchedule(schedule: Record<string, unknown>) {
  const value = parse(workflowV2) as { spec: Record<string, unknown> }
  value.spec['schedule'] = { crons: ['*/5 * * * *'], ...schedule }
  return lintValue(value, testContext())
}
const codes = (r: ReturnType<typeof withSchedule>) => r.issues.map((i) => `${i.code} ${i.path}: ${i.message}`)
const scheduleOf = (r: ReturnType<typeof withSchedule>) => (r.documents[0]?.resource as WorkflowResource | undefined)?.workflow.schedule

describe('schedule.catchUp', () => {
  it('takes none, latest and all, with maxCatchUp from 1 to 1000', () => {
    for (const catchUp of ['none', 'latest', 'all']) expect(codes(withSchedule({ catchUp }))).toEqual([])
    const ok = withSchedule({ catchUp: 'all', maxCatchUp: 1000 })
    expect(codes(ok)).toEqual([])
    expect(scheduleOf(ok)).toMatchObject({ catchUp: 'all', maxCatchUp: 1000 })
    expect(codes(withSchedule({ catchUp: 'some' }))[0]).toMatch(/^E_SCHEMA spec.schedule.catchUp: /)
    expect(codes(withSchedule({ catchUp: 'all', maxCatchUp: 1001 }))).toEqual(['E_SCHEMA spec.schedule.maxCatchUp: must be at most 1000'])
    expect(codes(withSchedule({ catchUp: 'all', maxCatchUp: 0 }))).toEqual(['E_SCHEMA spec.schedule.maxCatchUp: must be at least 1'])
  })

  it('is absent from the normalized schedule when not written; the schema carries MANIFEST_LIMITS.maxCatchUp', () => {
    const plain = scheduleOf(withSchedule({}))
    expect(plain).toBeDefined()
    expect(plain && 'catchUp' in plain).toBe(false)
    expect(plain && 'maxCatchUp' in plain).toBe(false)
    for (const version of ['v1', 'v2alpha']) {
      expect(JSON.stringify(schemaFor('workflow', version))).toContain(`"maxCatchUp":{"type":"integer","minimum":1,"maximum":${MANIFEST_LIMITS.maxCatchUp}`)
    }
  })
})
