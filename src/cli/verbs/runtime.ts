// `ctl resource runtime get|run|stop|suspend|resume|retry` (approve|reject: approvals.ts): a workflow's runs, as dataos-ctl
// shows them — the resource, its steps, the run, the nodes, recent runs.
import { dagThenFinally, finallyMarker, shownRunState, shownState } from './rules-display.js'
import type { NodeDetail, RunDetail, RunRecord } from '../../api/types.js'
import type { StepDescription } from '../../runtime/types.js'
import { CtlError } from '../../errors.js'
import type { WorkflowResource } from '../../manifest/model.js'
import { resourceType } from '../../manifest/type-names.js'
import type { StepRunRecord } from '../../store/types.js'
import type { Io } from '../io.js'
import { formatDuration } from '../../duration.js'
import { printReport, progressToStderr, renderTable, toJson, toYaml, type OutputFormat } from '../output.js'
import type { Session } from './session.js'
import { endReason, everyAttempt, fannedSteps, shownName, waitForRun } from './wait.js'
import { hasParamFlags, paramsFromFlags, type ParamFlags } from './run-params.js'
import { printWaiting } from './approvals.js'

export interface RuntimeTarget {
  name: string
  /** Only workflows have runs. */
  type: string
}

/** Also turns a plural or short type name (`wf`) into the type, in place: commands read it afterwards. */
export function validateRuntimeTarget(t: RuntimeTarget): void {
  t.type = resourceType(t.type)
  if (t.type !== 'workflow') throw new CtlError('E_USAGE', `only workflows have runs; got -t ${t.type}`)
}

function refOf(session: Session, t: RuntimeTarget) {
  return { workspace: session.workspace, type: t.type, name: t.name }
}

interface HandleData {
  mode?: string
  stepPid?: number | null
  image?: string
  notes?: string[]
}

function handleOf(step: StepRunRecord): { id?: string; data: HandleData } {
  const h = step.runtimeHandle as { id?: string; data?: HandleData } | undefined
  return { id: h?.id, data: h?.data ?? {} }
}

function when(iso: string | undefined): string {
  return iso ?? ''
}

function lasted(from: string | undefined, to: string | undefined): string {
  if (!from || !to) return ''
  return formatDuration(Date.parse(to) - Date.parse(from))
}

export interface RuntimeGetOptions extends RuntimeTarget {
  node?: string
  runId?: string
  output: OutputFormat
  refresh: number
}

export async function runRuntimeGet(session: Session, o: RuntimeGetOptions, io: Io): Promise<void> {
  for (;;) {
    await printRuntime(session, o, io)
    if (o.refresh <= 0) return
    await new Promise((resolve) => setTimeout(resolve, o.refresh * 1000))
    io.out(io.isTty ? '\x1b[2J\x1b[H' : '')
  }
}

async function printRuntime(session: Session, o: RuntimeGetOptions, io: Io): Promise<void> {
  const ref = refOf(session, o)
  const [detail, runs, info, rows] = await Promise.all([
    session.client.get(ref),
    session.client.runs(ref, { limit: 10 }),
    session.client.info(),
    session.client.list({ workspace: session.workspace, type: o.type, name: o.name }),
  ])
  const workflow = detail.manifest as WorkflowResource
  const runId = o.runId ?? runs[0]?.id
  const run: RunDetail | undefined = runId ? await session.client.run(runId) : undefined
  const row = rows.find((r) => r.name === o.name)
  if (o.output !== 'table') {
    const value = { resource: detail.resource, runtime: row?.runtime, run, recentRuns: runs, runtimeInfo: info.runtime }
    io.out(o.output === 'json' ? toJson(value) : toYaml(value))
    return
  }
  if (o.node) return printNode(session, run, o.node, io, info.runtime.sandbox)
  const r = detail.resource
  io.out(renderTable(['NAME', 'VERSION', 'TYPE', 'WORKSPACE', 'TITLE', 'OWNER'], [[r.name, r.version, r.type, r.workspace ?? '', workflow.workflow.title ?? '', r.owner]]))
  io.out(
    renderTable(
      ['JOB NAME', 'STACK', 'JOB TITLE', 'JOB DEPENDENCIES'],
      [...workflow.workflow.dag, ...(workflow.workflow.finally ?? []).map((s) => ({ ...s, name: `${s.name} (finally)` }))].map((s) => [s.name, `${s.spec.stack.name}${s.spec.stack.version ? `:${s.spec.stack.version}` : ''}`, s.title ?? '', s.depends.join(', ')]),
    ),
  )
  const schedule = workflow.workflow.schedule
  if (schedule) {
    const lastScheduled = runs.find((x) => x.trigger === 'schedule')
    io.out(
      renderTable(
        ['SCHEDULE', 'TIMEZONE', 'CONCURRENCY', 'SCHEDULED RUNTIME', 'LAST SCHEDULED TIME', 'LATE BY'],
        [[schedule.crons.join(', '), schedule.timezone, schedule.concurrencyPolicy, row?.runtime ?? '', lastScheduled?.scheduledAt ?? '', lastScheduled?.lateBySeconds ? formatDuration(lastScheduled.lateBySeconds * 1000) : '']],
      ),
    )
  }
  if (!run) {
    io.out(`no runs yet${row?.runtime ? ` (runtime ${row.runtime})` : ''}`)
    return
  }
  io.out(renderTable(['RUN ID', 'TRIGGER', 'RUNTIME', 'PROGRESS', 'STARTED', 'FINISHED'], [[run.run.id, run.run.trigger, shownRunState(run), run.progress, when(run.run.startedAt), when(run.run.finishedAt)]]))
  printParams(run.run.params, io)
  if (run.run.traceId) io.out(`trace: ${run.run.traceId}`)
  if (run.run.trigger === 'backfill' && run.run.scheduledAt) io.out(`this run backfills the fire time ${run.run.scheduledAt}`)
  if (run.run.lateBySeconds) io.out(`this run started late: scheduled for ${run.run.scheduledAt}, ${formatDuration(run.run.lateBySeconds * 1000)} late (the control plane was down)`)
  // A running attempt the runtime still reports Pending (an unschedulable Pod, an image being pulled) shows as
  // `pending`, with the runtime's reason (the scheduler's message) in MESSAGE.
  // Every attempt is a node of its own: a retried step shows why each earlier attempt ended, a kept one where from.
  // A fanned-out step's row (no process of its own) comes first, its instances indented under it.
  const fanned = fannedSteps(run.steps)
  const nodes = dagThenFinally(run, everyAttempt(run.steps)).map((s) => {
    const h = handleOf(s)
    const live = run.live?.[s.id]
    const phase = s.state === 'running' && live?.phase === 'Pending' ? 'pending' : shownState(run, s)
    const group = fanned.has(s.step) && s.parent === undefined
    const node = group ? s.step : `${shownName(s)}-${s.attempt}`
    // A fanned-out step's own row stands for its instances; a step that never started has no process.
    const type = group ? 'instances' : h.id === undefined && h.data.mode === undefined ? '' : processType(h.data.mode)
    return [node, shownName(s) + finallyMarker(run, s), h.id ?? '', type, h.data.image ?? '', phase, live?.message ?? endReason(s)]
  })
  const withMessage = nodes.some((n) => n[6])
  io.out(
    renderTable(
      ['NODE NAME', 'JOB NAME', 'POD NAME', 'TYPE', 'CONTAINERS', 'PHASE', ...(withMessage ? ['MESSAGE'] : [])],
      nodes.map((n) => (withMessage ? n : n.slice(0, 6))),
    ),
  )
  printWaiting(run.steps, io)
  const where = info.runtime.name === 'kubernetes' ? info.runtime.detail : info.runtime.sandbox === 'bubblewrap' ? 'bubblewrap sandbox' : 'plain processes: bubblewrap is not installed'
  io.out(`runtime: ${info.runtime.name} (${where})`)
  if (runs.length > 1) {
    io.out('')
    io.out(renderTable(['RECENT RUNS', 'TRIGGER', 'STATE', 'STARTED', 'FINISHED', 'DURATION'], runs.map((x) => [x.id, x.trigger, x.state, when(x.startedAt), when(x.finishedAt), lasted(x.startedAt, x.finishedAt)])))
  }
}

/** The run's params (secret ones come masked from the server), one row each; nothing for a run without. */
function printParams(params: Record<string, unknown> | undefined, io: Io): void {
  const entries = Object.entries(params ?? {})
  if (entries.length === 0) return
  io.out(renderTable(['PARAM', 'VALUE'], entries.map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])))
}

function processType(mode: string | undefined): string {
  if (mode === 'bubblewrap') return 'process (bubblewrap)'
  if (mode === 'none') return 'process (no sandbox)'
  return mode ?? 'pod'
}

async function printNode(session: Session, run: RunDetail | undefined, node: string, io: Io, sandbox: string): Promise<void> {
  if (!run) throw new CtlError('E_NOT_FOUND', `no node "${node}" in any run`)
  const detail: NodeDetail = await session.client.node(run.run.id, node)
  const attempts = detail.attempts
  const d = detail.description
  const last = attempts[attempts.length - 1]
  // As in the nodes table: a started attempt whose Pod still waits is `pending`.
  const phaseOf = (s: StepRunRecord) => (s === last && s.state === 'running' && d?.phase === 'Pending' ? 'pending' : s.state)
  io.out(
    renderTable(
      ['NODE NAME', 'JOB NAME', 'POD NAME', 'PHASE', 'STARTED', 'FINISHED', 'EXIT CODE', 'REASON', 'MESSAGE'],
      attempts.map((s) => [`${s.step}-${s.attempt}`, s.step, handleOf(s).id ?? '', phaseOf(s), when(s.startedAt), when(s.finishedAt), s.exitCode ?? '', s.reason ?? '', s.message ?? '']),
    ),
  )
  const outputs = attempts.flatMap((s) => Object.entries(s.outputs ?? {}).map(([k, v]) => [`${s.step}-${s.attempt}`, k, outputCell(v)]))
  if (outputs.length > 0) io.out(renderTable(['NODE NAME', 'OUTPUT', 'VALUE'], outputs))
  if (d) return printDescription(d, io)
  if (detail.descriptionError) io.out(`the runtime could not describe the latest attempt: ${detail.descriptionError}`)
  io.out(
    renderTable(
      ['CONTAINER NAME', 'IMAGE', 'PROCESS', 'TYPE'],
      attempts.map((s) => {
        const h = handleOf(s)
        return [s.step, h.data.image ?? '', h.data.stepPid ? `pid ${h.data.stepPid}` : '', processType(h.data.mode ?? (sandbox === 'bubblewrap' ? 'bubblewrap' : 'none'))]
      }),
    ),
  )
  const events = attempts.flatMap((s) => {
    const out: string[][] = []
    if (s.startedAt) out.push([s.startedAt, `${s.step}-${s.attempt}`, 'Started', `attempt ${s.attempt} started`])
    for (const note of handleOf(s).data.notes ?? []) out.push([s.startedAt ?? '', `${s.step}-${s.attempt}`, 'Note', note])
    if (s.finishedAt) out.push([s.finishedAt, `${s.step}-${s.attempt}`, s.reason ?? s.state, s.message ?? `exit code ${s.exitCode ?? ''}`.trim()])
    return out
  })
  if (events.length > 0) io.out(renderTable(['TIME', 'NODE', 'REASON', 'MESSAGE'], events))
}

/** Longest output value a table shows; `-o json` shows every byte. */
const OUTPUT_CELL_MAX = 200

/** An output value for a table: one line, no terminal control characters (a step wrote it), cut when long. */
function outputCell(value: string): string {
  // JSON escapes C0 controls; DEL and the C1 ones (\u009b starts a terminal sequence too) are escaped here.
  const c1 = /[\u007f-\u009f]/g
  const shown = /[\u0000-\u001f\u007f-\u009f]/.test(value) ? JSON.stringify(value).replace(c1, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : value
  return shown.length > OUTPUT_CELL_MAX ? `${shown.slice(0, OUTPUT_CELL_MAX)}… (${value.length} characters; -o json shows all)` : shown
}

/** The latest attempt as the runtime sees it now: for a Pod, what `kubectl describe pod` shows. */
function printDescription(d: StepDescription, io: Io): void {
  io.out(`${d.object}${d.node ? ` on node ${d.node}` : ''}: ${d.phase}${d.message ? ` (${d.message})` : ''}`)
  if (d.conditions.length > 0) {
    io.out(renderTable(['CONDITION', 'STATUS', 'REASON', 'MESSAGE', 'SINCE'], d.conditions.map((c) => [c.type, c.status, c.reason ?? '', c.message ?? '', c.since ?? ''])))
  }
  if (d.containers.length > 0) {
    io.out(
      renderTable(
        ['CONTAINER NAME', 'IMAGE', 'STATE', 'REASON', 'EXIT CODE', 'STARTED', 'FINISHED', 'RESTARTS'],
        d.containers.map((c) => [c.name, c.image, c.state, [c.reason, c.message].filter(Boolean).join(': '), c.exitCode ?? '', c.startedAt ?? '', c.finishedAt ?? '', c.restarts]),
      ),
    )
  }
  if (d.events.length > 0) {
    io.out(renderTable(['TIME', 'TYPE', 'REASON', 'FROM', 'MESSAGE'], d.events.map((e) => [e.time, e.type, e.reason, e.source ?? '', e.count > 1 ? `${e.message} (x${e.count})` : e.message])))
  } else io.out('no events')
}

export async function runRuntimeRun(session: Session, t: RuntimeTarget, wait: boolean, io: Io, output: OutputFormat = 'table', flags: ParamFlags & SelectionFlags = {}): Promise<number> {
  const ref = refOf(session, t)
  // `--param` values are typed by the workflow's declarations, which only the server has.
  const decls = hasParamFlags(flags) ? ((await session.client.get(ref)).manifest as WorkflowResource).workflow?.params : undefined
  const run = await session.client.runNow(ref, await paramsFromFlags(flags, decls), { skip: flags.skip, only: flags.only })
  if (output === 'table') io.out(`run ${run.id} of ${t.name} started (trigger manual)${selectionNote(flags)}`)
  return started(session, run, wait, io, output)
}

/** `--skip STEP` / `--only STEP` of `runtime run` (each repeatable); the server checks the names. */
export interface SelectionFlags {
  skip?: string[]
  only?: string[]
}

function selectionNote(f: SelectionFlags): string {
  const parts = [f.only?.length ? `only ${f.only.join(', ')} and their ancestors` : '', f.skip?.length ? `skipping ${f.skip.join(', ')}` : ''].filter(Boolean)
  return parts.length > 0 ? `: ${parts.join(', ')}` : ''
}

export async function runRuntimeStop(session: Session, t: RuntimeTarget, runId: string | undefined, io: Io, output: OutputFormat = 'table', force = false): Promise<void> {
  const runs = await session.client.stop(refOf(session, t), runId, force)
  printReport(io, output, { runs }, () => {
    if (runs.length === 0) io.out(`${t.name}: no active run to stop`)
    // A run with finally steps is still running them: say so rather than a bare `running`.
    for (const run of runs) io.out(`run ${run.id} of ${t.name} ${run.state === 'running' ? 'stopping (finally steps run; --force skips them)' : run.state}`)
  })
}

export async function runRuntimeSuspend(session: Session, t: RuntimeTarget, runId: string | undefined, io: Io, output: OutputFormat = 'table'): Promise<void> {
  const runs = await session.client.suspend(refOf(session, t), runId)
  printReport(io, output, { runs }, () => {
    if (runs.length === 0) io.out(`${t.name}: no active run to suspend`)
    for (const run of runs) io.out(`run ${run.id} of ${t.name} suspended`)
  })
}

export async function runRuntimeResume(session: Session, t: RuntimeTarget, runId: string | undefined, io: Io, output: OutputFormat = 'table'): Promise<void> {
  const runs = await session.client.resume(refOf(session, t), runId)
  printReport(io, output, { runs }, () => {
    if (runs.length === 0) io.out(`${t.name}: no suspended run to resume`)
    for (const run of runs) io.out(`run ${run.id} of ${t.name} resumed`)
  })
}

export async function runRuntimeRetry(session: Session, t: RuntimeTarget, runId: string | undefined, wait: boolean, io: Io, output: OutputFormat = 'table'): Promise<number> {
  const run = await session.client.retry(refOf(session, t), runId)
  if (output === 'table') io.out(`run ${run.id} of ${t.name} started: retrying the failed and skipped steps of ${run.retryOf ?? 'the last run'}`)
  return started(session, run, wait, io, output)
}

/**
 * After run / retry: the text says the run started (and follows it with --wait); -o json|yaml
 * prints `{run}` — with --wait the final run and its steps, progress going to stderr.
 */
async function started(session: Session, run: RunRecord, wait: boolean, io: Io, output: OutputFormat): Promise<number> {
  if (output === 'table') return wait ? finish(session, run, io) : 0
  if (!wait) {
    printReport(io, output, { run }, () => undefined)
    return 0
  }
  const detail = await waitForRun(session.client, run.id, progressToStderr(io))
  printReport(io, output, detail, () => undefined)
  return detail.run.state === 'succeeded' ? 0 : 1
}

async function finish(session: Session, run: RunRecord, io: Io): Promise<number> {
  const detail = await waitForRun(session.client, run.id, io)
  io.out(`run ${run.id} ${shownRunState(detail)} (${detail.progress})`)
  return detail.run.state === 'succeeded' ? 0 : 1
}
