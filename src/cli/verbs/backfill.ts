// `ctl resource runtime backfill`: one run per fire time of a scheduled workflow in a range; --dry-run
// lists the times. The server plans, bounds and stores the backfill; this prints its answer.
import type { BackfillResponse } from '../../api/types.js'
import type { Io } from '../io.js'
import { printReport, renderTable, type OutputFormat } from '../output.js'
import type { Session } from './session.js'
import { validateRuntimeTarget, type RuntimeTarget } from './runtime.js'
import { CtlError } from '../../errors.js'

export interface BackfillOptions extends RuntimeTarget {
  from: string
  to: string
  parallel?: number
  dryRun: boolean
  output: OutputFormat
}

/** Flags the server would refuse anyway, refused here with exit 2 before any request. */
export function validateBackfillFlags(o: Pick<BackfillOptions, 'name' | 'type' | 'parallel'>): void {
  validateRuntimeTarget(o)
  if (o.parallel !== undefined && (!Number.isInteger(o.parallel) || o.parallel < 1)) {
    throw new CtlError('E_USAGE', `--parallel ${o.parallel}: give a whole number of runs at once, 1 or more`)
  }
}

export async function runRuntimeBackfill(session: Session, o: BackfillOptions, io: Io): Promise<void> {
  const ref = { workspace: session.workspace, type: o.type, name: o.name }
  const answer: BackfillResponse = await session.client.backfill(ref, { from: o.from, to: o.to, parallel: o.parallel, dryRun: o.dryRun })
  printReport(io, o.output, answer, () => {
    if (answer.dryRun) {
      io.out(`${o.name}: a backfill would start ${answer.times.length} run${answer.times.length === 1 ? '' : 's'} (dry run: nothing started)`)
      if (answer.times.length > 0) io.out(renderTable(['SCHEDULED TIME'], answer.times.map((t) => [rfc3339(t)])))
      return
    }
    const b = answer.backfill
    io.out(`backfill ${b?.id ?? ''} of ${o.name}: ${answer.times.length} fire time${answer.times.length === 1 ? '' : 's'}, at most ${b?.parallel ?? 1} at once; ${answer.runs.length} started now, the others as these end`)
    if (answer.runs.length > 0) io.out(renderTable(['RUN ID', 'SCHEDULED TIME', 'STATE'], answer.runs.map((r) => [r.id, rfc3339(r.scheduledAt ?? ''), r.state])))
  })
}

function rfc3339(iso: string): string {
  return iso.replace(/\.000Z$/, 'Z')
}
