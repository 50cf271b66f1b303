// The lines of a run's watch (GET /api/v1/runs/:id/watch), from the details as the caller may see them.
// Full lines: each the whole detail. Change lines (a client that asked with ?changes=true): the detail with, instead
// of `steps`, only the rows that differ from the ones this stream sent before (`changedSteps`); the first line, the
// last one (the run in a final state) and any line after a row went away are whole. A change line is cut from the
// very detail its full line would be, so it never carries what that full line would not.
import type { RunDetail } from '../../engine/api.js'
import type { StepRunRecord } from '../../store/types.js'

/**
 * JSON.stringify(detail), with each step row written out once per row object: the rows the reader did not read again
 * are the same objects look after look (records are never changed in place), and most rows of a big run are those.
 */
export function detailText(detail: RunDetail, rowText: WeakMap<object, string>): string {
  const parts: string[] = []
  for (const [key, value] of Object.entries(detail)) {
    if (key === 'steps') parts.push(`"steps":[${(value as StepRunRecord[]).map((row) => textOf(row, rowText)).join(',')}]`)
    else pushMember(parts, key, value)
  }
  return `{${parts.join(',')}}`
}

/** A member as JSON.stringify writes it in an object (none for undefined or a function). */
function pushMember(parts: string[], key: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') parts.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`)
}

function textOf(row: StepRunRecord, rowText: WeakMap<object, string>): string {
  let text = rowText.get(row)
  if (text === undefined) rowText.set(row, (text = JSON.stringify(row)))
  return text
}

/** One watch's lines, look after look: `next` answers the line to send for a look, or undefined when nothing changed. */
export class WatchLines {
  private readonly rowText = new WeakMap<object, string>()
  private last = ''
  /** Change lines: each row's text as last sent, by row id; undefined until a full line went out. */
  private sent: Map<string, string> | undefined

  constructor(private readonly changes: boolean) {}

  next(detail: RunDetail, final: boolean): string | undefined {
    if (!this.changes) {
      const line = detailText(detail, this.rowText)
      if (line === this.last) return undefined
      return (this.last = line)
    }
    const head = headText(detail)
    const sent = this.sent
    if (final || sent === undefined) return this.whole(detail, head)
    const known = sent.size
    let kept = 0
    const changed: string[] = []
    for (const row of detail.steps) {
      const before = sent.get(row.id)
      // A row object written out before is not written again (records are never changed in place).
      const text = textOf(row, this.rowText)
      if (before !== undefined) kept++
      if (before !== text) {
        changed.push(text)
        sent.set(row.id, text)
      }
    }
    // A row sent before is gone: the client could not tell it from a row merely unchanged.
    if (kept < known) return this.whole(detail, head)
    if (changed.length === 0 && head === this.last) return undefined
    this.last = head
    return `{${head}${head ? ',' : ''}"changedSteps":[${changed.join(',')}]}`
  }

  /** A whole line (the very text of a full line), after which changes are counted from it. */
  private whole(detail: RunDetail, head: string): string {
    this.last = head
    const line = detailText(detail, this.rowText)
    this.sent = new Map(detail.steps.map((row) => [row.id, textOf(row, this.rowText)]))
    return line
  }
}

/** The detail's members but its steps, as JSON.stringify writes them (without the braces). */
function headText(detail: RunDetail): string {
  const parts: string[] = []
  for (const [key, value] of Object.entries(detail)) if (key !== 'steps') pushMember(parts, key, value)
  return parts.join(',')
}
