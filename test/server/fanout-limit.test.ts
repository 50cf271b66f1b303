// The forEach bound is the server's setting (maxForEachItems, default 1,000): a literal list over it is refused
// at apply with its place, and a list an expression yields at run time fails the step, never runs part of it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { doc, rejection, startTestServer, waitForRunEnd, workflow, type TestServer } from './helpers.js'

let t: TestServer
beforeAll(async () => {
  t = await startTestServer({ maxForEachItems: 3 })
})
afterAll(async () => {
  await t?.stop()
})

const fanned = (name: string, items: unknown) => {
  const wf = workflow(name, { each: 'echo "{{.item}}"' }, { params: [{ name: 'xs', type: 'array', default: [1, 2, 3, 4] }] })
  ;((wf.spec as { dag: Record<string, unknown>[] }).dag[0]!).forEach = { items }
  return wf
}

describe('a server with maxForEachItems: 3', () => {
  it('refuses a literal list of 4 at apply, naming the place and the bound', async () => {
    const e = await rejection(t.client.apply('public', [doc(fanned('literal', [1, 2, 3, 4]))]))
    expect(e.code).toBe('E_LIMIT')
    expect(JSON.stringify(e)).toContain('forEach yields 4 items; at most 3 are allowed')
    expect(JSON.stringify(e)).toContain('spec.dag[0].forEach.items')
  })

  it('fails the step whose expression yields 4 items, and runs 3', async () => {
    const applied = await t.client.apply('public', [doc(fanned('expr', 'params.xs'))])
    const end = await waitForRunEnd(t.client, applied.results[0]!.runId!)
    expect(end.run.state).toBe('failed')
    const each = end.steps.find((s) => s.step === 'each')!
    expect([each.state, each.reason]).toEqual(['failed', 'FanoutLimit'])
    expect(each.message).toContain('forEach yields 4 items; at most 3 are allowed')
    expect(end.steps.filter((s) => s.parent === 'each')).toEqual([])
    const ok = await t.client.runNow({ workspace: 'public', type: 'workflow', name: 'expr' }, { xs: ['a', 'b', 'c'] })
    expect((await waitForRunEnd(t.client, ok.id)).run.state).toBe('succeeded')
  })
})
