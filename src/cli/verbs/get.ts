// `ctl resource get`: NAME | VERSION | TYPE | WORKSPACE | STATUS | RUNTIME | OWNER,
// as dataos-ctl prints it; `-d` the stored manifest, `--revisions` the history.
import type { ResourceRow } from '../../api/types.js'
import { CtlError } from '../../errors.js'
import { INSTANCE_LEVEL_TYPES, type WorkflowResource } from '../../manifest/model.js'
import { parseSelector } from '../../manifest/selector.js'
import { webhookPath } from '../../manifest/triggers.js'
import { resourceType } from '../../manifest/type-names.js'
import type { Io } from '../io.js'
import { renderTable, toJson, toYaml, type OutputFormat } from '../output.js'
import { refOf, type Session } from './session.js'

export interface GetOptions {
  type?: string
  name?: string
  all: boolean
  details: boolean
  revisions: boolean
  /** Secret values in clear (implies details; tenant-admin or `manage` only, audited). */
  unsanitized?: boolean
  /** Only deleted resources (their revisions, runs and logs stay readable). */
  deleted?: boolean
  output: OutputFormat
  /** Seconds between refreshes; 0 = print once. */
  refresh: number
  /** `-l`: kubectl's label selector, filtered by the server. */
  selector?: string
  /** `--tag` (repeatable): resources carrying every one of these tags. */
  tags?: string[]
  /** `--revision N`: that stored revision's manifest instead of the current one. */
  revision?: number
}

/** Also turns a plural or short type name (`wf`, `workflows`) into the type, in place. */
export function validateGetOptions(o: GetOptions): void {
  if (o.type) o.type = resourceType(o.type)
  if ((o.details || o.revisions || o.unsanitized || o.revision !== undefined) && !(o.type && o.name)) throw new CtlError('E_USAGE', '-d, --revisions, --revision and --unsanitized need -t TYPE and -n NAME')
  if (o.revision !== undefined && o.revisions) throw new CtlError('E_USAGE', '--revision N shows one revision; --revisions lists them: use one')
  if (o.revision !== undefined && (!Number.isSafeInteger(o.revision) || o.revision < 1)) throw new CtlError('E_USAGE', '--revision must be a revision number (1 or more)')
  if (o.revision !== undefined) o.details = true
  // Checked here with the server's parser, so a typo is a usage error before any request.
  if (o.selector !== undefined) parseSelector(o.selector)
  if (o.tags?.some((t) => t.includes(','))) throw new CtlError('E_USAGE', '--tag takes one tag; repeat it for more (--tag a --tag b)')
}

export const GET_HEADERS = ['NAME', 'VERSION', 'TYPE', 'WORKSPACE', 'STATUS', 'RUNTIME', 'OWNER']

export function resourceRowCells(r: ResourceRow): string[] {
  return [r.name, r.version, r.type, r.workspace ?? '', r.status, r.runtime, r.owner]
}

export async function runGet(session: Session, o: GetOptions, io: Io): Promise<void> {
  for (;;) {
    await printOnce(session, o, io)
    if (o.refresh <= 0) return
    await new Promise((resolve) => setTimeout(resolve, o.refresh * 1000))
    if (io.isTty) io.out('\x1b[2J\x1b[H')
    else io.out('')
  }
}

async function printOnce(session: Session, o: GetOptions, io: Io): Promise<void> {
  const instance = o.type !== undefined && (INSTANCE_LEVEL_TYPES as readonly string[]).includes(o.type)
  if (o.unsanitized && !o.details) o = { ...o, details: true }
  if (o.details || o.revisions) {
    const detail = await session.client.get(refOf(session, o.type!, o.name!), { revisions: o.revisions, unsanitized: o.unsanitized, ...(o.revision !== undefined ? { revision: o.revision } : {}) })
    if (o.output === 'json') return io.out(toJson(detail))
    if (o.output === 'yaml' && o.revision !== undefined) return io.out(toYaml(detail.manifest))
    if (o.output === 'yaml' || (o.details && !o.revisions)) {
      if (o.output === 'yaml') return io.out(toYaml(detail))
      io.out(renderTable(GET_HEADERS, [resourceRowCells(detail.resource)]))
      const shown = o.revision !== undefined ? { revision: o.revision, currentRevision: detail.resource.revision } : { revision: detail.resource.revision }
      io.out(toYaml({ ...shown, createdAt: detail.resource.createdAt, updatedAt: detail.resource.updatedAt, statusReason: detail.resource.statusReason, manifest: detail.manifest }))
      const hooks = webhookUrls(session, detail.manifest)
      if (hooks.length > 0) io.out(renderTable(['TRIGGER', 'WEBHOOK URL'], hooks))
      return
    }
    io.out(renderTable(GET_HEADERS, [resourceRowCells(detail.resource)]))
    io.out(renderTable(['REVISION', 'HASH', 'CREATED BY', 'CREATED'], (detail.revisions ?? []).map((r) => [r.revision, r.hash.slice(0, 12), r.createdBy, r.createdAt])))
    return
  }
  const query = {
    all: o.all, workspace: instance ? undefined : session.workspace, type: o.type, name: o.name, ...(o.deleted ? { deleted: true } : {}),
    ...(o.selector !== undefined ? { labelSelector: o.selector } : {}), ...(o.tags && o.tags.length > 0 ? { tags: o.tags.join(',') } : {}),
  }
  // dataos-ctl lists your own resources unless -a is given; a resource asked for by name is shown whoever owns it.
  const owner = o.all || o.name !== undefined ? undefined : (await session.client.whoami()).id
  if (o.output === 'table') {
    const table = await session.client.listTableText({ ...query, owner })
    const text = typeof table === 'string' ? table : table.rows.length === 0 ? '' : renderTable(table.columns, table.rows)
    if (text === '') {
      if (o.name !== undefined) throw namedNotFound(o, session.workspace, instance)
      io.out(o.all ? `no ${o.deleted ? 'deleted ' : ''}resources found` : `no ${o.deleted ? 'deleted ' : ''}resources of yours found in workspace ${session.workspace} (use -a for everyone's, everywhere)`)
      return
    }
    io.out(text)
    return
  }
  const rows = await session.client.list({ ...query, owner })
  if (rows.length === 0 && o.name !== undefined) throw namedNotFound(o, session.workspace, instance)
  io.out(o.output === 'json' ? toJson(rows) : toYaml(rows))
}

/** Each webhook trigger of a workflow manifest with the URL to POST to: the context's server and the hook's path. */
export function webhookUrls(session: Session, manifest: unknown): string[][] {
  const wf = manifest as Partial<WorkflowResource> | undefined
  const triggers = wf?.workflow?.triggers ?? []
  const workspace = wf?.meta?.workspace ?? session.workspace
  // The client's URL, not the context's: an embedded context says `local`, its client knows the port.
  const base = session.client.baseUrl
  return triggers.map((t) => [t.name, `${base}${webhookPath(workspace, wf!.meta!.name, t.name)}`])
}

/** `get -n NAME` that matches nothing: exit 3 (kubectl's NotFound), not an empty table. */
function namedNotFound(o: GetOptions, workspace: string, instance: boolean): CtlError {
  const what = `${o.deleted ? 'deleted ' : ''}${o.type ?? 'resource'} ${o.name}`
  return new CtlError('E_NOT_FOUND', o.all ? `${what} not found in any workspace` : `${what} not found${instance ? '' : ` in workspace ${workspace}`}`)
}
