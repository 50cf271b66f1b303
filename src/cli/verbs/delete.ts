// `ctl resource delete -t -n | -f`: running runs are killed by the server; a
// resource others depend on is refused unless --force.
import { CtlError } from '../../errors.js'
import { lintFiles } from '../../manifest/index.js'
import { INSTANCE_LEVEL_TYPES } from '../../manifest/model.js'
import { resourceType } from '../../manifest/type-names.js'
import type { Io } from '../io.js'
import { offlineManifestContext } from '../offline.js'
import type { FileOptions } from './files.js'
import { ManifestError } from '../../errors.js'
import type { Session } from './session.js'
import { printReport, type OutputFormat } from '../output.js'

export interface DeleteOptions {
  type?: string
  name?: string
  files?: FileOptions
  force: boolean
  output?: OutputFormat
}

/** Also turns a plural or short type name into the type, in place. */
export function validateDeleteOptions(o: DeleteOptions): void {
  if (o.type) o.type = resourceType(o.type)
  const byName = o.type !== undefined || o.name !== undefined
  if (byName && o.files && o.files.files.length > 0) throw new CtlError('E_USAGE', 'use either -t TYPE -n NAME or -f FILE, not both')
  if (byName && !(o.type && o.name)) throw new CtlError('E_USAGE', '-t TYPE and -n NAME go together')
  if (!byName && !(o.files && o.files.files.length > 0)) throw new CtlError('E_USAGE', 'say what to delete: -t TYPE -n NAME, or -f FILE')
}

export async function runDelete(session: Session, o: DeleteOptions, io: Io): Promise<void> {
  const targets: { type: string; name: string; version?: string; workspace: string | null }[] = []
  if (o.type && o.name) {
    targets.push({ type: o.type, name: o.name, workspace: INSTANCE_LEVEL_TYPES.includes(o.type as never) ? null : session.workspace })
  } else if (o.files) {
    const lint = await lintFiles(o.files.files, offlineManifestContext(), { ...o.files })
    const fatal = lint.issues.filter((i) => i.code !== 'E_UNKNOWN_STACK')
    if (fatal.length > 0) throw new ManifestError(fatal)
    // Delete in reverse order: a workflow before the volume it uses.
    for (const { resource } of [...lint.documents].reverse()) {
      const instance = INSTANCE_LEVEL_TYPES.includes(resource.meta.type)
      targets.push({ type: resource.meta.type, name: resource.meta.name, version: resource.meta.version, workspace: instance ? null : resource.meta.workspace ?? session.workspace })
    }
  }
  const output = o.output ?? 'table'
  const deleted: { workspace: string | null; type: string; name: string; version: string; revision: number }[] = []
  for (const t of targets) {
    const ref = { workspace: t.workspace, type: t.type, name: t.name }
    const version = t.version ?? (await session.client.get(ref)).resource.version
    const res = await session.client.delete(ref, { force: o.force })
    deleted.push({ ...res.deleted, version })
    const scope = t.workspace ? `(${t.workspace})` : ''
    if (output === 'table') io.out(`deleting${scope} ${t.name}:${version}:${t.type}...deleted`)
  }
  printReport(io, output, { deleted }, () => undefined)
}
