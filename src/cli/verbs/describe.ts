// `ctl describe TYPE NAME`: what `get` and `runtime get` say about one resource, in
// one view, through their own printers: the GET row and the stored revision, then for a
// workflow its runtime (steps, run, nodes, recent runs), for other types the manifest.
import type { ResourceType } from '../../manifest/model.js'
import type { Io } from '../io.js'
import { renderTable, toJson, toYaml, type OutputFormat } from '../output.js'
import { GET_HEADERS, resourceRowCells, webhookUrls } from './get.js'
import { runRuntimeGet } from './runtime.js'
import { refOf, type Session } from './session.js'

export interface DescribeOptions {
  type: ResourceType
  name: string
  output: OutputFormat
}

export async function runDescribe(session: Session, o: DescribeOptions, io: Io): Promise<void> {
  const workflow = o.type === 'workflow'
  const detail = await session.client.get(refOf(session, o.type, o.name))
  if (o.output !== 'table') {
    // runtime get's document holds the resource too.
    if (workflow) return runRuntimeGet(session, { type: o.type, name: o.name, output: o.output, refresh: 0 }, io)
    return io.out(o.output === 'json' ? toJson(detail) : toYaml(detail))
  }
  const r = detail.resource
  io.out(renderTable(GET_HEADERS, [resourceRowCells(r)]))
  io.out(toYaml({ revision: r.revision, createdAt: r.createdAt, updatedAt: r.updatedAt, statusReason: r.statusReason }))
  const hooks = webhookUrls(session, detail.manifest)
  if (hooks.length > 0) io.out(renderTable(['TRIGGER', 'WEBHOOK URL'], hooks))
  if (workflow) return runRuntimeGet(session, { type: o.type, name: o.name, output: 'table', refresh: 0 }, io)
  io.out(toYaml({ manifest: detail.manifest }))
}
