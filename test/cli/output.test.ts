// renderTable: the one table look of the CLI and of the server-printed `get` table.
import { describe, expect, it } from 'vitest'
import { renderTable } from '../../src/cli/output.js'

describe('renderTable', () => {
  it('pads every column to its widest cell and drops the trailing blanks of a line', () => {
    expect(renderTable(['name', 'runtime', 'owner'], [['a', 'next:2099-01-01T06:00:00Z', 'bob'], ['longer-name', '', '']])).toBe(
      'NAME        | RUNTIME                   | OWNER\n' +
      '----------- | ------------------------- | -----\n' +
      'a           | next:2099-01-01T06:00:00Z | bob\n' +
      'longer-name |                           |\n',
    )
  })

  it('prints numbers, null and undefined cells, and keeps a cell on one line', () => {
    expect(renderTable(['n', 'x'], [[1, null], [undefined, 'two\nlines\r\nhere']])).toBe('N | X\n- | --------------\n1 |\n  | two lines here\n')
  })

  it('prints the header and the rule alone when there are no rows', () => {
    expect(renderTable(['a', 'bb'], [])).toBe('A | BB\n- | --\n')
  })
})
