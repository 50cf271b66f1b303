// `ctl resource log`: per node a NODE NAME | CONTAINER NAME | ERROR header and a
// LOGS rule, then the lines, as dataos-ctl prints them. Logs are stored
// centrally, so they are there after the run ended and its processes are gone.
import type { LogLineRecord, RunDetail } from '../../api/types.js'
import { CtlError } from '../../errors.js'
import { resourceType } from '../../manifest/type-names.js'
import type { StepRunRecord } from '../../store/types.js'
import type { Io } from '../io.js'
import { parseOutputFormat, printReport, renderTable, type OutputFormat } from '../output.js'
import type { Session } from './session.js'
import { fannedSteps, latestAttempts } from './wait.js'

export interface LogOptions {
  type: string
  name: string
  /** A step name (`--container`) or node name `step-attempt` (`--node`). */
  step?: string
  attempt?: number
  follow: boolean
  /** Last N lines per node; undefined = all. */
  tail?: number
  runId?: string
  timestamps: boolean
  /** json / yaml: one document `{runId, nodes: [{node, step, attempt, state, error, lines}]}`. */
  output?: OutputFormat
}

export function completeLogOptions(flags: { type?: string; name: string; container?: string; node?: string; follow?: boolean; tail?: number; run?: string; timestamps?: boolean; output?: string }): LogOptions {
  let step = flags.container
  let attempt: number | undefined
  if (flags.node) {
    const m = /^(.*)-(\d+)$/.exec(flags.node)
    step = m ? m[1] : flags.node
    attempt = m ? Number(m[2]) : undefined
  }
  return {
    type: resourceType(flags.type ?? 'workflow'),
    name: flags.name,
    step,
    attempt,
    follow: flags.follow ?? false,
    tail: flags.tail === undefined || flags.tail < 0 ? undefined : flags.tail,
    runId: flags.run,
    timestamps: flags.timestamps ?? false,
    output: parseOutputFormat(flags.output),
  }
}

export function validateLogOptions(o: LogOptions, flags: { container?: string; node?: string }): void {
  if (flags.container && flags.node) throw new CtlError('E_USAGE', 'use --container STEP or --node NODE, not both')
  if (o.type !== 'workflow') throw new CtlError('E_USAGE', `only workflows have logs; got -t ${o.type}`)
}

const RULE = '-------------------LOGS-------------------'

function header(step: StepRunRecord): string {
  const error = step.state === 'failed' ? [step.reason, step.message].filter(Boolean).join(': ') : ''
  // A step `runtime retry` carried over did not run again: the lines that follow are the earlier run's.
  const kept = step.keptFrom ? `kept from ${step.keptFrom}: its log there\n` : ''
  return renderTable(['NODE NAME', 'CONTAINER NAME', 'ERROR'], [[`${step.step}-${step.attempt}`, step.step, error]]) + kept + RULE
}

export interface LogWriter {
  write(text: string): void
}

export async function runLog(session: Session, o: LogOptions, io: Io, out: LogWriter = { write: (t) => io.out(t.endsWith('\n') ? t.slice(0, -1) : t) }): Promise<void> {
  const ref = { workspace: session.workspace, type: o.type, name: o.name }
  const runId = o.runId ?? (await session.client.runs(ref, { limit: 1 }))[0]?.id
  if (!runId) throw new CtlError('E_NOT_FOUND', `workflow ${o.name} in workspace ${session.workspace} has no runs yet`)
  const detail: RunDetail = await session.client.run(runId)
  let nodes = o.attempt !== undefined ? detail.steps : latestAttempts(detail.steps)
  // A fanned-out step's own row has no process, hence no lines: its instances have them.
  const fanned = fannedSteps(detail.steps)
  const instancesOf = o.step !== undefined && fanned.has(o.step) ? o.step : undefined
  if (o.step !== undefined) {
    // `--container shard`: every instance of the step, each line prefixed with the instance's name.
    const selected = (s: StepRunRecord) => (instancesOf !== undefined ? s.parent === instancesOf : s.step === o.step)
    nodes = nodes.filter((s) => selected(s) && (o.attempt === undefined || s.attempt === o.attempt))
    if (nodes.length === 0) {
      const known = [...new Set(detail.steps.map((s) => s.step))].join(', ')
      throw new CtlError('E_NOT_FOUND', `no ${o.attempt !== undefined ? `node ${o.step}-${o.attempt}` : `step ${o.step}`} in run ${runId}; steps: ${known}`)
    }
  } else nodes = nodes.filter((s) => !(s.parent === undefined && fanned.has(s.step)))
  if (o.output !== undefined && o.output !== 'table') return printLogReport(session, runId, nodes, o, io)
  const plain = o.timestamps ? (l: LogLineRecord) => `${l.time} ${l.text}\n` : (l: LogLineRecord) => `${l.text}\n`
  const format = instancesOf !== undefined ? (l: LogLineRecord) => `[${l.step}] ${plain(l)}` : plain
  for (const node of nodes) {
    out.write(header(node) + '\n')
    const stream = session.client.logs(runId, { step: node.step, attempt: node.attempt, tail: o.tail, follow: o.follow })
    for await (const batch of stream) {
      let text = ''
      for (const line of batch) text += format(line)
      out.write(text)
    }
    if (o.follow) {
      const finished = (await session.client.run(runId)).steps.find((s) => s.id === node.id)
      if (finished?.state === 'failed') out.write(`node ${node.step}-${node.attempt} failed: ${[finished.reason, finished.message].filter(Boolean).join(': ')}\n`)
    }
  }
}

/** -o json|yaml: every node's lines in one document (with -f, printed once the nodes have ended). */
async function printLogReport(session: Session, runId: string, nodes: StepRunRecord[], o: LogOptions, io: Io): Promise<void> {
  const report = []
  for (const node of nodes) {
    const lines: { seq: number; time: string; stream: string; text: string }[] = []
    for await (const batch of session.client.logs(runId, { step: node.step, attempt: node.attempt, tail: o.tail, follow: o.follow })) {
      for (const l of batch) lines.push({ seq: l.seq, time: l.time, stream: l.stream, text: l.text })
    }
    const final = o.follow ? (await session.client.run(runId)).steps.find((s) => s.id === node.id) ?? node : node
    const error = final.state === 'failed' ? [final.reason, final.message].filter(Boolean).join(': ') : ''
    report.push({ node: `${node.step}-${node.attempt}`, step: node.step, attempt: node.attempt, state: final.state, error, lines })
  }
  printReport(io, o.output ?? 'table', { runId, nodes: report }, () => undefined)
}
