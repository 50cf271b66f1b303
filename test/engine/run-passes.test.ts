import { afterEach, describe, expect, it } from 'vitest'
import { RunPasses } from '../../src/engine/run-passes.js'
import { silentLogger } from '../../src/engine/context.js'

// The pass loop alone (run-passes.ts): which runs a pass advances, and who gets a freed slot. Each test waits for
// the passes it began (`done`), never for a time.

let passes: RunPasses | undefined
afterEach(() => passes?.stop())

function loop(active: string[], opts: { free?: () => number; advance?: (runId: string) => Promise<number | undefined> } = {}) {
  const advanced: string[] = []
  const set = new Set(active)
  passes = new RunPasses({
    ctx: { now: () => new Date(0), logger: silentLogger },
    active: set,
    advance: async (runId) => {
      advanced.push(runId)
      return opts.advance ? opts.advance(runId) : undefined
    },
    freeSlots: opts.free ?? (() => 0),
  })
  return { passes, advanced, active: set }
}

describe('RunPasses', () => {
  it('advances the runs woken while a pass goes in the next round of it, one at a time', async () => {
    let release!: () => void
    const first = new Promise<void>((r) => (release = r))
    const { passes, advanced } = loop(['a', 'b'], { advance: (runId) => (runId === 'a' && advanced.length === 1 ? first.then(() => undefined) : Promise.resolve(undefined)) })
    passes.start()
    passes.wake('a')
    expect(passes.passing).toBe(true)
    passes.wake('b')
    passes.wake('a')
    release()
    await passes.done
    expect(advanced).toEqual(['a', 'b', 'a'])
    expect(passes.passing).toBe(false)
  })

  it('begins nothing before start() nor after stop(), and marks wait for flush()', async () => {
    const { passes, advanced } = loop(['a'])
    passes.wake('a')
    await passes.done
    expect(advanced).toEqual([])
    passes.start()
    passes.mark('a')
    await passes.done
    expect(advanced).toEqual([])
    passes.flush()
    await passes.done
    expect(advanced).toEqual(['a'])
    passes.stop()
    passes.wake()
    await passes.done
    expect(advanced).toEqual(['a'])
  })

  it('a full pass leaves out a starved run that nothing woke and whose wait is not due', async () => {
    const { passes, advanced } = loop(['a', 'b', 'c'])
    passes.start()
    passes.setStarved('b', true)
    passes.wake()
    await passes.done
    expect(advanced).toEqual(['a', 'c'])
    passes.wake('b')
    await passes.done
    expect(advanced).toEqual(['a', 'c', 'b'])
  })

  it('gives free slots to the runs that waited longest, no more of them than there are slots', async () => {
    let free = 0
    // An advanced run takes a slot and leaves the queue, as the scheduler's advance does when it starts a step.
    const { passes, advanced, active } = loop(['a', 'b', 'c', 'd'], {
      free: () => free,
      advance: async (runId) => {
        free--
        passes.setStarved(runId, false)
        return undefined
      },
    })
    passes.start()
    for (const r of ['b', 'a', 'c']) passes.setStarved(r, true)
    free = 2
    // A run not among the starved ones queues behind them; a starved one may take what is free.
    expect(passes.slotsFor('d')).toBe(0)
    expect(passes.slotsFor('c')).toBe(2)
    passes.wakeStarved()
    passes.flush()
    await passes.done
    expect(advanced).toEqual(['b', 'a'])
    expect(passes.isStarved('c')).toBe(true)
    // A run that is no longer active leaves the queue when its turn comes.
    active.delete('c')
    free = 1
    passes.wakeStarved()
    expect(passes.isStarved('c')).toBe(false)
    expect(passes.slotsFor('d')).toBe(1)
  })

  it('a run no longer active leaves the queue without using up a free slot', async () => {
    const { passes, advanced, active } = loop(['x', 'y'], { free: () => 1 })
    passes.start()
    passes.setStarved('x', true)
    passes.setStarved('y', true)
    active.delete('x')
    passes.wakeStarved()
    passes.flush()
    await passes.done
    expect(passes.isStarved('x')).toBe(false)
    expect(advanced).toEqual(['y'])
  })
})
