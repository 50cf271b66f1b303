// The plain-text table of `get` and every other listing: upper-case headers,
// columns separated by ` | `, as dataos-ctl prints them. Shared by the CLI and
// by the server, which prints big listings itself (like Kubernetes Tables), so
// both give the same bytes.

type Cell = string | number | undefined | null

/**
 * A table in dataos-ctl's look: upper-case headers, columns separated by ` | `.
 * Plain text (no box drawing) so it stays greppable and copyable. The server prints
 * the `get` table with it too, so both sides agree on the look to the byte.
 */
export function renderTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const columns = headers.length
  if (columns === 0) return '\n'.repeat(rows.length + 2)
  const widths = headers.map((h) => h.length)
  // One flat array of cell texts and one string build: 10,000 rows make no per-row arrays.
  const cells = new Array<string>(rows.length * columns)
  let k = 0
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!
    for (let c = 0; c < columns; c++) {
      const text = cellText(row[c])
      cells[k++] = text
      if (text.length > widths[c]!) widths[c] = text.length
    }
  }
  const last = columns - 1
  const line = (values: readonly string[], from: number): string => {
    let text = ''
    for (let c = 0; c < last; c++) text += values[from + c]!.padEnd(widths[c]!) + ' | '
    text += values[from + last]!
    return text.trimEnd() + '\n'
  }
  let out = line(headers.map((h) => h.toUpperCase()), 0) + line(widths.map((w) => '-'.repeat(w)), 0)
  for (let i = 0; i < cells.length; i += columns) out += line(cells, i)
  return out
}

function cellText(value: Cell): string {
  if (value === undefined || value === null) return ''
  const text = typeof value === 'string' ? value : String(value)
  return text.includes('\n') ? text.replace(/\r?\n/g, ' ') : text
}
