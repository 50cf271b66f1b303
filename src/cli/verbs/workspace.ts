// `ctl workspace create|get|delete`. `public` and `system` exist from the start; a
// workspace that still holds resources is deleted only with --force (and them with it).
import type { WorkspaceLayer } from '../../api/types.js'
import { CtlError } from '../../errors.js'
import type { Io } from '../io.js'
import { printReport, renderTable, toJson, toYaml, type OutputFormat } from '../output.js'
import type { Session } from './session.js'

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

export function validateWorkspaceName(name: string): void {
  if (!NAME.test(name) || name.length > 48) {
    throw new CtlError('E_USAGE', `workspace name "${name}" is not valid: lower-case letters, digits and -, at most 48 characters`)
  }
}

export interface CreateWorkspaceOptions {
  name: string
  description?: string
  layer?: string
  tags: string[]
}

export function validateCreateWorkspace(o: CreateWorkspaceOptions): void {
  validateWorkspaceName(o.name)
  if (o.layer !== undefined && o.layer !== 'user' && o.layer !== 'system') throw new CtlError('E_USAGE', `layer "${o.layer}" is not user or system`)
}

export async function runCreateWorkspace(session: Session, o: CreateWorkspaceOptions, io: Io, output: OutputFormat = 'table'): Promise<void> {
  const ws = await session.client.createWorkspace({ name: o.name, description: o.description, layer: o.layer as WorkspaceLayer | undefined, tags: o.tags.length > 0 ? o.tags : undefined })
  printReport(io, output, { workspace: ws }, () => io.out(`workspace "${ws.name}" created (layer ${ws.layer})`))
}

export const WORKSPACE_HEADERS = ['NAME', 'LAYER', 'DESCRIPTION', 'TAGS', 'CREATED']

export async function runGetWorkspaces(session: Session, o: { name?: string; output: OutputFormat }, io: Io): Promise<void> {
  const list = o.name ? [await session.client.workspace(o.name)] : await session.client.workspaces()
  if (o.output === 'json') return io.out(toJson(list))
  if (o.output === 'yaml') return io.out(toYaml(list))
  if (list.length === 0) return io.out('no workspaces you have a role in')
  io.out(renderTable(WORKSPACE_HEADERS, list.map((w) => [w.name, w.layer, w.description ?? '', w.tags.join(', '), w.createdAt])))
}

export async function runDeleteWorkspace(session: Session, o: { name: string; force: boolean }, io: Io, output: OutputFormat = 'table'): Promise<void> {
  const res = await session.client.deleteWorkspace(o.name, { force: o.force })
  const n = res.deleted.resources
  printReport(io, output, res, () => io.out(`workspace "${o.name}" deleted${n > 0 ? ` with its ${n} resource${n === 1 ? '' : 's'}` : ''}`))
}
