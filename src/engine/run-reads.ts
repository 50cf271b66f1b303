// What a pass reads of a run, kept between its passes while the run is driven here: its scope (its resource,
// the workflow of its revision, who applied it) and its step rows (read again only where this process wrote
// since, run-changes.ts). A new run's first pass reads neither again: its creation hands them over (seed).
// All of a run's is dropped once it is over here (forget).

import type { ResourceRecord, RunRecord, StepRunRecord } from '../store/types.js'
import type { WorkflowResource } from '../manifest/model.js'
import { CtlError } from '../errors.js'
import { openRunParams } from '../secrets/params.js'
import type { EngineContext, RunScope } from './context.js'
import { StepRowsReader } from './run-changes.js'
import { storedRevision } from './revisions.js'
import { isFanned, stepIndex } from './fanout-run.js'

/** What a run's creation stored (Scheduler.add): the changes log was at `seq` when the store answered. */
export interface CreatedRun {
  resource: ResourceRecord
  run: RunRecord
  steps: readonly StepRunRecord[]
  seq?: number
}

export class RunReads {
  private readonly scopes = new Map<string, RunScope>()
  /** Per run: its step rows as the last pass read them, read again where this process wrote since (run-changes.ts). */
  private readonly stepRows = new Map<string, StepRowsReader>()
  /** Per new run not passed yet: its resource as its creation read it (seed). */
  private readonly created = new Map<string, ResourceRecord>()

  /** `owned`: whether this replica drives the run (its step rows' writes are noted here). */
  constructor(
    private readonly ctx: EngineContext,
    private readonly owned: (runId: string) => boolean,
  ) {}

  /**
   * What a new run's creation stored and read back, so that its first pass reads neither its resource nor its step
   * rows again (the rows written since are noted, run-changes.ts); its revision comes from the parsed-revision cache
   * (revisions.ts).
   */
  seed(runId: string, created: CreatedRun): void {
    this.created.set(runId, created.resource)
    const { changes, store } = this.ctx
    if (changes && created.seq !== undefined) {
      const reader = new StepRowsReader(store, changes, runId, () => this.owned(runId))
      reader.seed(created.run, created.steps, created.seq)
      this.stepRows.set(runId, reader)
    }
  }

  async scope(run: RunRecord): Promise<RunScope> {
    const cached = this.scopes.get(run.id)
    if (cached) {
      cached.run = run
      return cached
    }
    const { store } = this.ctx
    const given = this.created.get(run.id)
    this.created.delete(run.id)
    const resource = given?.id === run.resourceId ? given : await store.getResourceById(run.resourceId)
    const revision = await storedRevision(store, run.resourceId, run.revision)
    if (!resource || !revision) throw new CtlError('E_NOT_FOUND', `the workflow of run ${run.id} (revision ${run.revision}) no longer exists`)
    const scope: RunScope = { run, resource, workflow: revision.manifest as WorkflowResource, appliedBy: revision.createdBy }
    this.scopes.set(run.id, scope)
    return scope
  }

  /** The run's scope if one is kept (nothing is read). */
  keptScope(runId: string): RunScope | undefined {
    return this.scopes.get(runId)
  }

  dropScope(runId: string): void {
    this.scopes.delete(runId)
  }

  /**
   * The run's step rows, as listStepRuns answers: read again only where this process wrote since the last pass, while
   * the run is driven here (StepRowsReader reads it whole otherwise, and once a second). Rows another replica wrote
   * meanwhile are at worst a second old: every step start is still a compare-and-set on the stored row.
   */
  steps(run: RunRecord, whole: boolean): Promise<StepRunRecord[]> {
    const { changes, store } = this.ctx
    if (!changes || whole) {
      this.stepRows.delete(run.id)
      return store.listStepRuns(run.id)
    }
    let reader = this.stepRows.get(run.id)
    if (!reader) this.stepRows.set(run.id, (reader = new StepRowsReader(store, changes, run.id, () => this.owned(run.id))))
    return reader.read(run)
  }

  /** Whether a stored step row is a fanned step's own (which has no process). */
  async isFannedRow(run: RunRecord, step: string): Promise<boolean> {
    const s = await this.scope(run).then((scope) => stepIndex(scope.workflow).get(step), () => undefined)
    return s !== undefined && isFanned(s)
  }

  /** The run with its secret params open: conditions, items and templates read them in clear; the store keeps them sealed. */
  async withOpenParams(run: RunRecord): Promise<RunRecord> {
    if (!run.params || !this.ctx.box) return run
    // A run whose workflow is gone fails in the scheduler's advance(), which loads the scope again.
    const workflow = (await this.scope(run).catch(() => undefined))?.workflow
    if (!workflow) return run
    return { ...run, params: openRunParams(workflow.workflow.params, run.params, this.ctx.box, run.resourceId) }
  }

  forget(runId: string): void {
    this.scopes.delete(runId)
    this.stepRows.delete(runId)
    this.created.delete(runId)
  }
}
