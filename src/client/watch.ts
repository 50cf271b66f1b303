// A run's watch as the client reads it: whole lines, or change lines (the server's `changedSteps`: only the step
// attempts that changed since the line before, matched by id) merged into the detail the previous lines built.
import type { RunDetail, StepRunRecord } from '../api/types.js'
import { CtlError } from '../errors.js'

/** One NDJSON line of GET /api/v1/runs/:id/watch: a whole detail, or a change line (asked for with changes=true). */
export type WatchLine = RunDetail | (Omit<RunDetail, 'steps'> & { changedSteps: StepRunRecord[] })

export class WatchedRun {
  /** The steps the lines so far built; undefined until a whole line came. */
  private steps: StepRunRecord[] | undefined
  /** Where each step attempt is in `steps`, by id. */
  private at = new Map<string, number>()

  /** The detail after this line; each one a new object, so a caller may keep it. */
  take(line: WatchLine): RunDetail {
    if (!('changedSteps' in line)) {
      this.steps = line.steps
      this.at = new Map(line.steps.map((s, i) => [s.id, i]))
      return line
    }
    // A change line applies to a whole detail only: the server sends one first, on every stream.
    if (this.steps === undefined) throw new CtlError('E_INTERNAL', 'the watch stream sent changes before a whole run detail')
    const { changedSteps, ...rest } = line
    const steps = [...this.steps]
    for (const s of changedSteps) {
      const i = this.at.get(s.id)
      if (i === undefined) this.at.set(s.id, steps.push(s) - 1)
      else steps[i] = s
    }
    this.steps = steps
    return { ...rest, steps }
  }
}
