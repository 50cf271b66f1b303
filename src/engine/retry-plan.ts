// What `runtime retry` carries over, pure: the steps kept (succeeded, or skipped by a false
// condition or on request, with nothing they depend on rerun) and, of a fanned step, the instances kept:
// all of them when the step is kept, its succeeded ones when only its own instances failed
// (its inputs are unchanged, so the same items expand into the same instance names).

import type { StepModel } from '../manifest/model.js'
import type { StepRunRecord } from '../store/types.js'
import { excusedSkips, stepsToRerun } from './dag.js'
import { excusedSkipped, isFanned, viewOf } from './fanout-run.js'

/** One kept step run (a step or an instance): the run that really ran it and its latest attempt there. */
export interface KeptRow {
  from: string
  row: StepRunRecord
}

export interface KeptStep extends KeptRow {
  /** Instances of a fanned step carried over; the others run again. */
  instances: KeptRow[]
}

export interface RetryPlan {
  rerun: Set<string>
  /** Step name → what is carried over: the step itself, or (step rerun) only some of its instances. */
  keep: Map<string, KeptStep>
  /** Fanned steps that rerun but keep their succeeded instances. */
  partial: Map<string, KeptRow[]>
}

export function retryPlan(dag: readonly StepModel[], latest: ReadonlyMap<string, StepRunRecord>, runId: string): RetryPlan {
  const view = viewOf(latest)
  const states = new Map([...view.steps].map(([name, a]) => [name, a.state]))
  const rerun = stepsToRerun(dag, states, excusedSkips(dag, states, excusedSkipped(view)))
  // A step this run had itself kept points past it, to the run that really ran it.
  const kept = (row: StepRunRecord): KeptRow => ({ from: row.keptFrom ?? runId, row })
  const keep = new Map<string, KeptStep>()
  const partial = new Map<string, KeptRow[]>()
  for (const step of dag) {
    const row = view.steps.get(step.name)
    if (!row) continue
    const instances = view.instances.get(step.name) ?? []
    if (!rerun.has(step.name)) keep.set(step.name, { ...kept(row), instances: instances.map(kept) })
    else if (isFanned(step) && step.depends.every((d) => !rerun.has(d))) {
      const ok = instances.filter((i) => i.state === 'succeeded').map(kept)
      if (ok.length > 0) partial.set(step.name, ok)
    }
  }
  return { rerun, keep, partial }
}
