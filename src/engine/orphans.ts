// Self-healing for attempts of owned runs that nobody follows: a store error on an error path (the end of an
// attempt could not be recorded, its handle could not be stored) ends the task here while the row stays
// `running`. Nothing else would look at it again (adoption happens only on a lease takeover, and this replica
// keeps renewing), so the run would hang; the owner's per-second check reattaches such rows instead.

import type { RunRecord, StepRunRecord } from '../store/types.js'
import type { EngineContext } from './context.js'

export interface OrphanDeps {
  ctx: EngineContext
  /** Runs this replica owns and drives, as last read from the store. */
  owned: ReadonlyMap<string, RunRecord>
  followed: (stepRunId: string) => boolean
  isFannedRow: (run: RunRecord, step: string) => Promise<boolean>
  reattach: (row: StepRunRecord) => void
}

export async function reattachOrphans(deps: OrphanDeps): Promise<void> {
  const { ctx, owned, followed } = deps
  for (const row of await ctx.store.listActiveStepRuns()) {
    const run = owned.get(row.runId)
    if (!run || row.state !== 'running' || followed(row.id)) continue
    // A fanned step's own row is `running` while its instances run: there is no process to follow.
    if (row.parent === undefined && (await deps.isFannedRow(run, row.step))) continue
    // Read again: the task may have recorded the end and let go since the list was read.
    const fresh = await ctx.store.getStepRun(row.id)
    if (fresh?.state !== 'running' || followed(row.id)) continue
    ctx.logger.warn('reattaching a running attempt nobody followed', { stepRunId: row.id, runId: row.runId })
    deps.reattach(fresh)
  }
}
