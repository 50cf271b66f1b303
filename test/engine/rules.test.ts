// Trigger rules, allowed failures and handled failures (issue 12), pure: decideRule for each rule
// and each shape of dependency ends, dagOutcome by Argo's rule, and a property over random DAGs.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { evaluateDag, type DagStep } from '../../src/engine/dag.js'
import { dagOutcome, decideRule, effectiveState, handledFailures, type TriggerRule } from '../../src/engine/rules.js'
import type { StepState } from '../../src/store/types.js'

const deps = (o: Record<string, StepState>) => Object.entries(o).map(([name, state]) => ({ name, state }))
const st = (o: Record<string, StepState>) => new Map(Object.entries(o))
const kind = (rule: TriggerRule | undefined, o: Record<string, StepState>) => decideRule(rule, deps(o)).kind

describe('decideRule', () => {
  it('allSucceeded (the default): ready when all succeeded, skipped as soon as one failed, was skipped or cancelled', () => {
    expect(kind(undefined, { a: 'succeeded', b: 'succeeded' })).toBe('ready')
    expect(kind('allSucceeded', { a: 'succeeded', b: 'running' })).toBe('wait')
    for (const bad of ['failed', 'skipped', 'cancelled'] as const) {
      expect(decideRule('allSucceeded', deps({ a: bad, b: 'running' }))).toEqual({ kind: 'skip', reason: `dependency "a" ${bad}`, excused: false })
    }
  })

  it('allDone waits for every end, whatever it is', () => {
    expect(kind('allDone', { a: 'failed', b: 'running' })).toBe('wait')
    expect(kind('allDone', { a: 'failed', b: 'skipped', c: 'cancelled', d: 'succeeded' })).toBe('ready')
    expect(kind('allDone', { a: 'pending' })).toBe('wait')
  })

  it('anyFailed runs once all ended and one failed; skipped (excused) when none failed', () => {
    expect(kind('anyFailed', { a: 'failed', b: 'running' })).toBe('wait')
    expect(kind('anyFailed', { a: 'failed', b: 'succeeded' })).toBe('ready')
    expect(decideRule('anyFailed', deps({ a: 'succeeded', b: 'skipped', c: 'cancelled' }))).toEqual({ kind: 'skip', reason: 'runIf: anyFailed: no dependency failed', excused: true })
  })

  it('noneFailed runs when each succeeded or was skipped; a failure or a cancel skips it', () => {
    expect(kind('noneFailed', { a: 'succeeded', b: 'skipped' })).toBe('ready')
    expect(kind('noneFailed', { a: 'succeeded', b: 'running' })).toBe('wait')
    expect(decideRule('noneFailed', deps({ a: 'failed', b: 'running' }))).toMatchObject({ kind: 'skip', excused: false })
    expect(kind('noneFailed', { a: 'cancelled' })).toBe('skip')
  })

  it('a step without dependencies is ready under every rule but anyFailed', () => {
    for (const rule of ['allSucceeded', 'allDone', 'noneFailed'] as const) expect(kind(rule, {})).toBe('ready')
    expect(kind('anyFailed', {})).toBe('skip')
  })
})

describe('allowFailure', () => {
  it('an allowed failure counts as done well for dependents', () => {
    expect(effectiveState({ allowFailure: true }, 'failed')).toBe('succeeded')
    expect(effectiveState({ allowFailure: true }, 'cancelled')).toBe('cancelled')
    expect(effectiveState({}, 'failed')).toBe('failed')
  })

  it('the run goes on past an allowed failure and succeeds', () => {
    const dag: DagStep[] = [{ name: 'lint', depends: [], allowFailure: true }, { name: 'build', depends: ['lint'] }]
    expect(evaluateDag(dag, st({ lint: 'failed' })).ready).toEqual(['build'])
    expect(evaluateDag(dag, st({ lint: 'failed', build: 'succeeded' }))).toMatchObject({ finished: true, outcome: 'succeeded' })
    expect(evaluateDag(dag, st({ lint: 'failed', build: 'failed' })).outcome).toBe('failed')
  })

  it('an allowed failure does not trigger a fallback', () => {
    const dag: DagStep[] = [{ name: 'a', depends: [], allowFailure: true }, { name: 'fb', depends: ['a'], runIf: 'anyFailed' }]
    const e = evaluateDag(dag, st({ a: 'failed' }))
    expect(e.skip).toEqual([{ step: 'fb', reason: 'runIf: anyFailed: no dependency failed', excused: true }])
    expect(e.outcome).toBe('succeeded')
  })
})

describe('Argo outcome', () => {
  const withFallback = (handles?: string[]): DagStep[] => [
    { name: 'main', depends: [] },
    { name: 'fallback', depends: ['main'], runIf: 'anyFailed', ...(handles ? { handles } : {}) },
    { name: 'after', depends: ['main'] },
    { name: 'cleanup', depends: ['main', 'fallback'], runIf: 'allDone' },
  ]

  it('a failed step fails the run even when a fallback succeeded', () => {
    const dag = withFallback()
    const e = evaluateDag(dag, st({ main: 'failed' }))
    expect(e.ready).toEqual(['fallback'])
    expect(e.skip).toEqual([{ step: 'after', reason: 'dependency "main" failed' }])
    const end = evaluateDag(dag, st({ main: 'failed', fallback: 'succeeded', after: 'skipped', cleanup: 'succeeded' }))
    expect(end).toMatchObject({ finished: true, outcome: 'failed' })
  })

  it('a failure handled by a succeeded `handles:` step does not fail the run (nor the skips it caused)', () => {
    const dag = withFallback(['main'])
    const end = evaluateDag(dag, st({ main: 'failed', fallback: 'succeeded', after: 'skipped', cleanup: 'succeeded' }))
    expect(end).toMatchObject({ finished: true, outcome: 'succeeded' })
    expect(handledFailures(dag, st({ main: 'failed', fallback: 'succeeded' }))).toEqual(new Set(['main']))
  })

  it('a handler that failed handles nothing', () => {
    const dag = withFallback(['main'])
    expect(evaluateDag(dag, st({ main: 'failed', fallback: 'failed', after: 'skipped', cleanup: 'succeeded' })).outcome).toBe('failed')
  })

  it('a fallback skipped because nothing failed is no failure; cleanup runs after it', () => {
    const dag = withFallback(['main'])
    const e = evaluateDag(dag, st({ main: 'succeeded', after: 'succeeded' }))
    expect(e.skip).toEqual([{ step: 'fallback', reason: 'runIf: anyFailed: no dependency failed', excused: true }])
    // Stored with its reason, the skip is passed back as excused on the next pass.
    const next = evaluateDag(dag, st({ main: 'succeeded', after: 'succeeded', fallback: 'skipped' }), new Set(['fallback']))
    expect(next.ready).toEqual(['cleanup'])
    expect(evaluateDag(dag, st({ main: 'succeeded', after: 'succeeded', fallback: 'skipped', cleanup: 'succeeded' }), new Set(['fallback'])).outcome).toBe('succeeded')
  })

  it('a cleanup that runs after a cancelled step leaves the run cancelled', () => {
    const dag: DagStep[] = [{ name: 'a', depends: [] }, { name: 'c', depends: ['a'], runIf: 'allDone' }]
    expect(dagOutcome(dag, st({ a: 'cancelled', c: 'succeeded' }), new Set())).toBe('cancelled')
  })

  it('an unexplained skip (cycle) still fails the run', () => {
    const dag: DagStep[] = [{ name: 'x', depends: ['y'] }, { name: 'y', depends: ['x'] }]
    expect(dagOutcome(dag, st({ x: 'skipped', y: 'skipped' }), new Set())).toBe('failed')
  })
})

// Random acyclic DAGs (a step depends only on earlier ones) with random rules and random ends: driving
// evaluateDag like the scheduler does, every run ends, no step runs twice, and only ready steps run.
describe('property: every run ends', () => {
  const rules: (TriggerRule | undefined)[] = [undefined, 'allSucceeded', 'allDone', 'anyFailed', 'noneFailed']
  const dagArb = fc.integer({ min: 1, max: 8 }).chain((n) =>
    fc.tuple(
      ...Array.from({ length: n }, (_, i) =>
        fc.record({
          deps: fc.subarray(Array.from({ length: i }, (_, j) => `s${j}`)),
          rule: fc.constantFrom(...rules),
          allow: fc.boolean(),
          fails: fc.boolean(),
          handles: fc.boolean(),
        }),
      ),
    ),
  )

  it('terminates with every step ended, each run at most once', () => {
    fc.assert(
      fc.property(dagArb, (spec) => {
        const dag: DagStep[] = spec.map((x, i) => {
          const step: DagStep = { name: `s${i}`, depends: x.deps }
          if (x.rule) step.runIf = x.rule
          if (x.allow) step.allowFailure = true
          if (x.handles && x.rule === 'anyFailed') step.handles = x.deps
          return step
        })
        const states = new Map<string, StepState>()
        const excused = new Set<string>()
        const ran: string[] = []
        for (let pass = 0; pass < 100; pass++) {
          const e = evaluateDag(dag, states, excused)
          for (const s of e.skip) {
            states.set(s.step, 'skipped')
            if (s.excused) excused.add(s.step)
          }
          if (e.finished) {
            expect(new Set(ran).size).toBe(ran.length)
            expect(dag.every((s) => ['succeeded', 'failed', 'skipped', 'cancelled'].includes(states.get(s.name)!))).toBe(true)
            expect(['succeeded', 'failed', 'cancelled']).toContain(e.outcome)
            // Argo's rule: a failure neither allowed nor handled always fails the run.
            const handled = handledFailures(dag, states)
            if (dag.some((s, i) => states.get(s.name) === 'failed' && !spec[i]!.allow && !handled.has(s.name))) expect(e.outcome).toBe('failed')
            return
          }
          expect(e.ready.length + e.running.length).toBeGreaterThan(0)
          // Every ready step runs and ends in the same pass: simplest order, still every interleaving of rules.
          for (const name of e.ready) {
            ran.push(name)
            states.set(name, spec[Number(name.slice(1))]!.fails ? 'failed' : 'succeeded')
          }
        }
        throw new Error('the run never ended')
      }),
      { numRuns: 500 },
    )
  })
})
