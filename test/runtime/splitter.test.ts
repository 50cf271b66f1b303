// The step host's line splitter: what it keeps between reads must never be a view into the read buffer (the spawner
// passes every step's output of a turn in one buffer; a step printing one byte at a time without a newline would
// otherwise keep each whole buffer alive, outside the V8 heap).
import { describe, expect, it } from 'vitest'
import { Splitter } from '../../src/runtime/local/step-files.mjs'

const asText = (_stream: 'stdout' | 'stderr', _time: string, buf: Buffer, truncated: boolean) => `${buf.toString()}${truncated ? '[cut]' : ''}\n`

describe('Splitter', () => {
  it('keeps an unfinished line as a copy, not as a view into the shared read buffer', () => {
    const s = new Splitter('stdout', asText, 1024)
    const shared = Buffer.alloc(64 * 1024, 0x41)
    shared[shared.length - 2] = 10 // a whole line, then one byte of the next
    expect(s.push(shared.subarray(shared.length - 5))).toBe('AAA\n')
    const kept = (s as unknown as { parts: Buffer[] }).parts
    expect(kept).toHaveLength(1)
    expect(kept[0]!.buffer).not.toBe(shared.buffer)
    expect(kept[0]!.buffer.byteLength).toBeLessThan(shared.length)
    expect(s.push(Buffer.from('B\n'))).toBe('AB\n')
  })

  it('still joins a line spread over many reads and cuts one longer than the bound', () => {
    const s = new Splitter('stdout', asText, 8)
    let out = ''
    for (const c of 'abcdef') out += s.push(Buffer.from(c))
    out += s.push(Buffer.from('\nxyz0123456789\nend'))
    out += s.flush()
    expect(out).toBe('abcdef\nxyz01234[cut]\nend\n')
  })
})
