import { describe, expect, it } from 'vitest'
import { evaluateDag, excusedSkips, outcomeOf, progressOf, startable, stepsToRerun, isTerminalStepState, type DagStep } from '../../src/engine/dag.js'
import type { StepState } from '../../src/store/types.js'

const s = (name: string, ...depends: string[]): DagStep => ({ name, depends })
const st = (o: Record<string, StepState>) => new Map(Object.entries(o))

// a → b → d, a → c → d
const diamond = [s('a'), s('b', 'a'), s('c', 'a'), s('d', 'b', 'c')]

describe('evaluateDag', () => {
  it('starts roots first, nothing else', () => {
    const e = evaluateDag(diamond, new Map())
    expect(e).toEqual({ ready: ['a'], skip: [], running: [], finished: false, outcome: undefined })
  })

  it('independent roots are all ready at once', () => {
    const e = evaluateDag([s('x'), s('y'), s('z', 'x', 'y')], new Map())
    expect(e.ready).toEqual(['x', 'y'])
  })

  it('a running root blocks dependents', () => {
    const e = evaluateDag(diamond, st({ a: 'running' }))
    expect(e.ready).toEqual([])
    expect(e.running).toEqual(['a'])
    expect(e.finished).toBe(false)
  })

  it('both branches become ready when their dependency succeeds', () => {
    const e = evaluateDag(diamond, st({ a: 'succeeded' }))
    expect(e.ready).toEqual(['b', 'c'])
  })

  it('a join waits for every dependency', () => {
    expect(evaluateDag(diamond, st({ a: 'succeeded', b: 'succeeded', c: 'running' })).ready).toEqual([])
    expect(evaluateDag(diamond, st({ a: 'succeeded', b: 'succeeded', c: 'succeeded' })).ready).toEqual(['d'])
  })

  it('all succeeded → finished succeeded', () => {
    const e = evaluateDag(diamond, st({ a: 'succeeded', b: 'succeeded', c: 'succeeded', d: 'succeeded' }))
    expect(e.finished).toBe(true)
    expect(e.outcome).toBe('succeeded')
  })

  it('a failure skips dependents transitively, lets independent branches finish, fails the run', () => {
    const e = evaluateDag(diamond, st({ a: 'succeeded', b: 'failed', c: 'running' }))
    expect(e.skip).toEqual([{ step: 'd', reason: 'dependency "b" failed' }])
    expect(e.finished).toBe(false)
    const e2 = evaluateDag(diamond, st({ a: 'succeeded', b: 'failed', c: 'succeeded', d: 'skipped' }))
    expect(e2.finished).toBe(true)
    expect(e2.outcome).toBe('failed')
  })

  it('skips a whole chain at once, even when the manifest order is not topological', () => {
    const steps = [s('d', 'c'), s('c', 'b'), s('b', 'a'), s('a'), s('other')]
    const e = evaluateDag(steps, st({ a: 'failed', other: 'running' }))
    expect(e.skip.map((x) => x.step).sort()).toEqual(['b', 'c', 'd'])
    expect(e.skip.find((x) => x.step === 'c')?.reason).toBe('dependency "b" skipped')
    expect(e.finished).toBe(false)
  })

  it('a cancelled dependency skips and the run ends cancelled', () => {
    const e = evaluateDag([s('a'), s('b', 'a')], st({ a: 'cancelled' }))
    expect(e.skip).toEqual([{ step: 'b', reason: 'dependency "a" cancelled' }])
    expect(e.finished).toBe(true)
    expect(e.outcome).toBe('cancelled')
  })

  it('failure wins over cancellation', () => {
    const e = evaluateDag([s('a'), s('b')], st({ a: 'cancelled', b: 'failed' }))
    expect(e.outcome).toBe('failed')
  })

  it('an unknown dependency skips the step instead of hanging', () => {
    const e = evaluateDag([s('a', 'ghost')], new Map())
    expect(e.skip).toEqual([{ step: 'a', reason: 'unknown dependency "ghost"' }])
    expect(e.finished).toBe(true)
    expect(e.outcome).toBe('failed')
  })

  it('a cycle is skipped once nothing else can make progress', () => {
    const steps = [s('root'), s('x', 'y'), s('y', 'x')]
    const e1 = evaluateDag(steps, new Map())
    expect(e1.ready).toEqual(['root'])
    expect(e1.skip).toEqual([])
    const e2 = evaluateDag(steps, st({ root: 'succeeded' }))
    expect(e2.skip.map((x) => x.step)).toEqual(['x', 'y'])
    expect(e2.outcome).toBe('failed')
  })

  it('a pending retry attempt of a failed step keeps dependents waiting (latest attempt counts)', () => {
    const e = evaluateDag([s('a'), s('b', 'a')], st({ a: 'pending' }))
    expect(e.ready).toEqual(['a'])
    expect(e.skip).toEqual([])
  })

  it('an empty workflow is finished and succeeded', () => {
    expect(evaluateDag([], new Map())).toMatchObject({ finished: true, outcome: 'succeeded' })
  })

  it('does not mutate the input states', () => {
    const states = st({ a: 'failed' })
    evaluateDag([s('a'), s('b', 'a')], states)
    expect([...states.entries()]).toEqual([['a', 'failed']])
  })

  // Exhaustive: every assignment of states to a 4-step diamond obeys the invariants.
  it('invariants hold for every combination of states on the diamond', () => {
    const all: StepState[] = ['pending', 'running', 'succeeded', 'failed', 'skipped', 'cancelled']
    let count = 0
    for (const a of all) for (const b of all) for (const c of all) for (const d of all) {
      const states = st({ a, b, c, d })
      const e = evaluateDag(diamond, states)
      count++
      for (const r of e.ready) {
        expect(states.get(r)).toBe('pending')
        for (const dep of diamond.find((x) => x.name === r)!.depends) expect(states.get(dep)).toBe('succeeded')
      }
      for (const k of e.skip) expect(states.get(k.step)).toBe('pending')
      expect(new Set([...e.ready, ...e.skip.map((x) => x.step)]).size).toBe(e.ready.length + e.skip.length)
      const after = new Map(states)
      for (const k of e.skip) after.set(k.step, 'skipped')
      const stillOpen = [...after.values()].some((v) => v === 'pending' || v === 'running')
      expect(e.finished).toBe(!stillOpen)
      if (e.finished) {
        const vals = [...after.values()]
        if (vals.includes('failed')) expect(e.outcome).toBe('failed')
        else if (vals.includes('cancelled')) expect(e.outcome).toBe('cancelled')
        else if (vals.every((v) => v === 'succeeded')) expect(e.outcome).toBe('succeeded')
      } else {
        expect(e.outcome).toBeUndefined()
        // Progress is always possible: something runs or is ready.
        expect(e.ready.length + e.running.length).toBeGreaterThan(0)
      }
    }
    expect(count).toBe(6 ** 4)
  })
})

describe('condition skips', () => {
  it('a run whose only non-successes are condition skips (and their transitive skips) succeeds', () => {
    const e = evaluateDag(diamond, st({ a: 'succeeded', b: 'skipped', c: 'succeeded' }), new Set(['b']))
    expect(e.skip).toEqual([{ step: 'd', reason: 'dependency "b" skipped' }])
    expect(e).toMatchObject({ finished: true, outcome: 'succeeded' })
  })
  it('a failure still fails the run, whatever a condition skipped', () => {
    const e = evaluateDag(diamond, st({ a: 'succeeded', b: 'skipped', c: 'failed' }), new Set(['b']))
    expect(e).toMatchObject({ finished: true, outcome: 'failed' })
  })
  it('cycle and unknown-dependency skips still fail the run, even next to a condition skip', () => {
    const cyc = [s('a'), s('x', 'y'), s('y', 'x')]
    const e = evaluateDag(cyc, st({ a: 'skipped' }), new Set(['a']))
    expect(e.skip.map((k) => k.step).sort()).toEqual(['x', 'y'])
    expect(e).toMatchObject({ finished: true, outcome: 'failed' })
    expect(evaluateDag([s('a'), s('b', 'ghost')], st({ a: 'skipped' }), new Set(['a']))).toMatchObject({ finished: true, outcome: 'failed' })
  })
  it('excuses only skips reachable from a condition skip', () => {
    const steps = [s('a'), s('b', 'a'), s('c', 'b'), s('x', 'y'), s('y', 'x')]
    const states = st({ a: 'skipped', b: 'skipped', c: 'skipped', x: 'skipped', y: 'skipped' })
    expect([...excusedSkips(steps, states, new Set(['a']))].sort()).toEqual(['a', 'b', 'c'])
    // A step named as condition-skipped but not skipped (rerun since) is not excused.
    expect([...excusedSkips(steps, st({ a: 'succeeded' }), new Set(['a']))]).toEqual([])
  })
})

describe('outcomeOf / progressOf / isTerminalStepState', () => {
  it('orders failed > cancelled > succeeded, a causeless skip fails', () => {
    expect(outcomeOf(['succeeded', 'succeeded'])).toBe('succeeded')
    expect(outcomeOf(['succeeded', 'cancelled', 'skipped'])).toBe('cancelled')
    expect(outcomeOf(['failed', 'cancelled'])).toBe('failed')
    expect(outcomeOf(['succeeded', 'skipped'])).toBe('failed')
    expect(outcomeOf([])).toBe('succeeded')
  })
  it('counts succeeded, failed and skipped steps each on its own (a skip is no progress)', () => {
    expect(progressOf(['succeeded', 'failed', 'skipped'], 3)).toBe('1 succeeded, 1 failed, 1 skipped of 3 steps')
    expect(progressOf(['succeeded', 'skipped', 'failed', 'running', 'pending'], 5)).toBe('1 succeeded, 1 failed, 1 skipped, 1 running of 5 steps')
    expect(progressOf(['cancelled'], 1)).toBe('0 succeeded, 0 failed, 0 skipped, 1 cancelled of 1 step')
    expect(progressOf([], 0)).toBe('0 succeeded, 0 failed, 0 skipped of 0 steps')
  })
  it('knows terminal states', () => {
    expect(['pending', 'running'].map((x) => isTerminalStepState(x as StepState))).toEqual([false, false])
    expect(['succeeded', 'failed', 'skipped', 'cancelled'].every((x) => isTerminalStepState(x as StepState))).toBe(true)
  })
})

describe('startable', () => {
  const ready = ['a', 'b', 'c', 'd']
  it('unlimited parallelism takes every ready step within the server slots', () => {
    expect(startable(ready, 0, undefined, 100)).toEqual(ready)
    expect(startable(ready, 5, undefined, 2)).toEqual(['a', 'b'])
  })
  it('parallelism counts the steps already running in the run', () => {
    expect(startable(ready, 0, 1, 100)).toEqual(['a'])
    expect(startable(ready, 1, 1, 100)).toEqual([])
    expect(startable(ready, 1, 3, 100)).toEqual(['a', 'b'])
    expect(startable(ready, 4, 3, 100)).toEqual([])
  })
  it('no free slot, nothing starts', () => {
    expect(startable(ready, 0, undefined, 0)).toEqual([])
    expect(startable(ready, 0, 2, -1)).toEqual([])
  })
})

describe('stepsToRerun', () => {
  it('keeps succeeded steps and reruns the failed and skipped ones', () => {
    const r = stepsToRerun(diamond, st({ a: 'succeeded', b: 'failed', c: 'succeeded', d: 'skipped' }))
    expect([...r].sort()).toEqual(['b', 'd'])
  })
  it('reruns cancelled and never-run steps, and whatever depends on them', () => {
    const r = stepsToRerun(diamond, st({ a: 'cancelled', b: 'succeeded' }))
    expect([...r].sort()).toEqual(['a', 'b', 'c', 'd'])
  })
  it('keeps condition skips (and what they skipped) unless an input reruns', () => {
    const states = st({ a: 'succeeded', b: 'failed', c: 'skipped', d: 'skipped' })
    const excused = excusedSkips(diamond, states, new Set(['c']))
    expect([...stepsToRerun(diamond, states, excused)].sort()).toEqual(['b', 'd'])
    const early = st({ a: 'failed', b: 'skipped', c: 'skipped', d: 'skipped' })
    expect([...stepsToRerun(diamond, early, excusedSkips(diamond, early, new Set(['c'])))].sort()).toEqual(['a', 'b', 'c', 'd'])
  })
  it('a fully succeeded run has nothing to rerun', () => {
    expect(stepsToRerun(diamond, st({ a: 'succeeded', b: 'succeeded', c: 'succeeded', d: 'succeeded' })).size).toBe(0)
  })
})
