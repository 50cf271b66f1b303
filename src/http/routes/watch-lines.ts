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
    if (value === undefined || typeof value === 'function') continue
    if (key !== 'steps') {
      parts.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`)
      continue
    }
    parts.push(`"steps":[${(value as StepRunRecord[]).map((row) => textOf(row, rowText)).join(',')}]`)
  }
  return `{${parts.join(',')}}`
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
    const texts = detail.steps.map((row) => textOf(row, this.rowText))
    const sent = this.sent
    let whole = final || sent === undefined
    const changed: string[] = []
    if (!whole) {
      let kept = 0
      detail.steps.forEach((row, i) => {
        const before = sent!.get(row.id)
        if (before !== undefined) kept++
        if (before !== texts[i]) changed.push(texts[i]!)
      })
      // A row sent before is gone: the client could not tell it from a row merely unchanged.
      whole = kept < sent!.size
    }
    if (!whole && changed.length === 0 && head === this.last) return undefined
    this.last = head
    if (whole || !sent) {
      this.sent = new Map(detail.steps.map((row, i) => [row.id, texts[i]!]))
      // The very text of a full line (the rows' texts are remembered already).
      return detailText(detail, this.rowText)
    }
    detail.steps.forEach((row, i) => sent.set(row.id, texts[i]!))
    return `{${head}${head ? ',' : ''}"changedSteps":[${changed.join(',')}]}`
  }
}

/** The detail's members but its steps, as JSON.stringify writes them (without the braces). */
function headText(detail: RunDetail): string {
  const parts: string[] = []
  for (const [key, value] of Object.entries(detail)) {
    if (key === 'steps' || value === undefined || typeof value === 'function') continue
    parts.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`)
  }
  return parts.join(',')
}
