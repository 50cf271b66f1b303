// What the engine answers without changing anything: a run's detail (with the runtime's live view of its
// running steps), one node's attempts, the RUNTIME column of resources and a workflow's next fire time.
// Read from the store and the runtime only; the engine (engine.ts) wires these beside its actions.

import type { ResourceRecord, ResourceSummary, RunRecord, ScheduleRecord, StepRunRecord } from '../store/types.js'
import { ACTIVE_RUN_STATES } from '../store/types.js'
import type { EngineApi, NodeDetail, RunDetail, RuntimeSummary } from './api.js'
import type { EngineContext } from './context.js'
import { StepRowsReader, type RunChanges } from './run-changes.js'
import { isRuntimeHandle } from './attempts.js'
import { progressOf } from './dag.js'
import { ruleFacts } from './finally.js'
import { latestAttempts } from './fanout-run.js'
import { scheduleOf } from './schedules.js'

/** RFC 3339 without needless milliseconds: `2024-05-01T12:00:00Z`. */
export function rfc3339(iso: string): string {
  return iso.replace(/\.000Z$/, 'Z')
}

// A suspended run is active: a scheduled workflow holding one shows `suspended`, not its next fire time.
const isActive = (run: RunRecord | undefined) => run !== undefined && ACTIVE_RUN_STATES.includes(run.state)

/** The RUNTIME column: `next:<time>` for a scheduled workflow between runs, else the state of its newest run. */
function summaryOf(resource: ResourceSummary, last: RunRecord | undefined, schedule: ScheduleRecord | undefined): RuntimeSummary {
  if (resource.type !== 'workflow') return ''
  if (schedule?.nextFireAt && !isActive(last)) return `next:${rfc3339(schedule.nextFireAt)}`
  return last?.state ?? 'pending'
}

export type RunQueries = Pick<EngineApi, 'runDetail' | 'runDetailReader' | 'nodeDetail' | 'runtimeSummary' | 'runtimeSummaries' | 'nextFireTime'>

/** `owned`: whether this replica drives the run (its step rows' writes are noted here, run-changes.ts). */
export function createRunQueries(ctx: EngineContext, changes: RunChanges, owned: (runId: string) => boolean): RunQueries {
  const { store } = ctx

  /** A run's detail (EngineApi.runDetail) with its step rows from `stepRows` (read after the run). */
  async function detailOf(runId: string, stepRows: (run: RunRecord) => Promise<StepRunRecord[]>): Promise<RunDetail | undefined> {
    const run = await store.getRun(runId)
    if (!run) return undefined
    const steps = await stepRows(run)
    const latest = latestAttempts(steps)
    // Progress counts the workflow's steps: a fanned-out step once (its row carries its instances' state).
    const own = [...latest.values()].filter((a) => a.parent === undefined)
    const detail: RunDetail = { run, steps, progress: progressOf(own.map((a) => a.state), own.length) }
    Object.assign(detail, await ruleFacts(store, run, latest))
    const peek = ctx.runtime.peek?.bind(ctx.runtime)
    if (!peek) return detail
    // A failing peek only loses the live column; the stored run is the answer.
    const live = await Promise.all(
      [...latest.values()].map(async (s) => {
        const handle = s.runtimeHandle
        if (s.state !== 'running' || !isRuntimeHandle(handle)) return undefined
        const seen = await peek(handle).catch(() => undefined)
        return seen ? ([s.id, seen] as const) : undefined
      }),
    )
    const found = live.filter((x) => x !== undefined)
    if (found.length) detail.live = Object.fromEntries(found)
    return detail
  }

  return {
    async runtimeSummary(resource): Promise<RuntimeSummary> {
      if (resource.type !== 'workflow') return ''
      const last = (await store.listRuns({ resourceId: resource.id, limit: 1 }))[0]
      const schedule = scheduleOf(resource) && !isActive(last) ? await store.getSchedule(resource.id) : undefined
      return summaryOf(resource, last, schedule)
    },

    async runtimeSummaries(resources): Promise<Map<string, RuntimeSummary>> {
      // Two queries whatever the number of resources: the newest run of each, and the schedules.
      const out = new Map<string, RuntimeSummary>()
      const workflows = resources.filter((r) => r.type === 'workflow')
      for (const r of resources) if (r.type !== 'workflow') out.set(r.id, '')
      if (workflows.length === 0) return out
      const latest = new Map((await store.listLatestRuns(workflows.map((r) => r.id))).map((run) => [run.resourceId, run]))
      const schedules = new Map((await store.listSchedules()).map((s) => [s.resourceId, s]))
      for (const r of workflows) {
        const last = latest.get(r.id)
        // A schedule stored for this very revision is the workflow's own: no manifest to read.
        const stored = schedules.get(r.id)
        let schedule = stored && r.status !== 'deleted' && stored.revision === r.revision ? stored : undefined
        if (stored && !schedule && r.status !== 'deleted') {
          const full = 'manifest' in r ? (r as ResourceRecord) : await store.getResourceById(r.id)
          if (full && scheduleOf(full)) schedule = stored
        }
        out.set(r.id, summaryOf(r, last, schedule))
      }
      return out
    },

    runDetail(runId): Promise<RunDetail | undefined> {
      return detailOf(runId, () => store.listStepRuns(runId))
    },

    runDetailReader(runId) {
      const rows = new StepRowsReader(store, changes, runId, () => owned(runId))
      return () => detailOf(runId, (run) => rows.read(run))
    },

    async nodeDetail(runId, node): Promise<NodeDetail | undefined> {
      const run = await store.getRun(runId)
      if (!run) return undefined
      const steps = await store.listStepRuns(runId)
      const m = /^(.*)-(\d+)$/.exec(node)
      // `extract` names every attempt of step extract; `extract-2` its second (unless a step is named so).
      let attempts = steps.filter((s) => s.step === node)
      if (attempts.length === 0 && m) attempts = steps.filter((s) => s.step === m[1] && s.attempt === Number(m[2]))
      if (attempts.length === 0) return undefined
      const out: NodeDetail = { run, attempts }
      const last = attempts[attempts.length - 1]!
      const describe = ctx.runtime.describe?.bind(ctx.runtime)
      if (describe && isRuntimeHandle(last.runtimeHandle)) {
        try {
          out.description = await describe(last.runtimeHandle)
        } catch (err) {
          out.descriptionError = ctx.redact(runId, (err as Error).message)
        }
      }
      return out
    },

    async nextFireTime(resource) {
      const schedule = await store.getSchedule(resource.id)
      return schedule?.nextFireAt !== undefined ? rfc3339(schedule.nextFireAt) : undefined
    },
  }
}
