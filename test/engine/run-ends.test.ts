// The end of a run wakes its followers at once (the watch stream behind `--wait`), instead of on their next read.
import { describe, expect, it } from 'vitest'
import { RunEnds } from '../../src/engine/run-ends.js'

describe('RunEnds', () => {
  it('wakes every waiter of the run that ended, and only them', async () => {
    const ends = new RunEnds()
    const never = new AbortController().signal
    const woke: string[] = []
    // An hour: only ended() can settle these within the test.
    const a = ends.wait('r-1', 3_600_000, never).then(() => woke.push('a'))
    const b = ends.wait('r-1', 3_600_000, never).then(() => woke.push('b'))
    const other = new AbortController()
    const c = ends.wait('r-2', 3_600_000, other.signal).then(() => woke.push('c'))
    ends.ended('r-1')
    await Promise.all([a, b])
    expect(woke.sort()).toEqual(['a', 'b'])
    other.abort() // a follower that goes away is let go too
    await c
    expect(woke).toContain('c')
    ends.ended('r-1') // nobody waits any more: nothing happens
  })

  it('resolves after its pause when the run goes on, and at once for an aborted signal', async () => {
    const ends = new RunEnds()
    await ends.wait('r-1', 1, new AbortController().signal)
    const gone = new AbortController()
    gone.abort()
    await ends.wait('r-1', 3_600_000, gone.signal)
  })
})
