// `ctl resource rollback -t T -n X --to-revision N`: the server applies revision N's manifest again as
// a new revision (audited; needs update on the resource); unchanged when N equals the current one.
import { CtlError } from '../../errors.js'
import { resourceType } from '../../manifest/type-names.js'
import type { Io } from '../io.js'
import { printReport, type OutputFormat } from '../output.js'
import { refOf, type Session } from './session.js'

export interface RollbackOptions {
  type: string
  name: string
  toRevision: number
  dryRun: boolean
  output: OutputFormat
}

/** Also turns a plural or short type name into the type, in place. */
export function validateRollbackOptions(o: RollbackOptions): void {
  o.type = resourceType(o.type)
  if (!Number.isSafeInteger(o.toRevision) || o.toRevision < 1) throw new CtlError('E_USAGE', '--to-revision must be a revision number (1 or more); list them with --revisions on get')
}

export async function runRollback(session: Session, o: RollbackOptions, io: Io): Promise<void> {
  const res = await session.client.rollback(refOf(session, o.type, o.name), o.toRevision, { dryRun: o.dryRun })
  printReport(io, o.output, res, () => {
    const scope = res.workspace ? `(${res.workspace}) ` : ''
    const what = `${scope}${res.name}:${res.version}:${res.type}`
    const dry = res.dryRun ? ' (dry run: nothing changed)' : ''
    if (res.outcome === 'unchanged') io.out(`rolling back ${what} to revision ${o.toRevision}...unchanged: revision ${res.revision} is the same${dry}`)
    else io.out(`rolling back ${what} to revision ${o.toRevision}...${res.dryRun ? 'would be' : 'now'} revision ${res.revision}${dry}${res.runId ? `; run ${res.runId} started` : ''}`)
  })
}
