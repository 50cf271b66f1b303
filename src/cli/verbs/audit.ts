// `ctl audit get`: who did what, when, and with which result (tenant-admins only).
import type { AuditEntry } from '../../api/types.js'
import { parseSince } from '../../duration.js'
import { CtlError } from '../../errors.js'
import type { Io } from '../io.js'
import { renderTable, toJson, toYaml, type OutputFormat } from '../output.js'
import type { Session } from './session.js'

export interface AuditOptions {
  /** A duration back from now (`1h`, `30m`, `7d`) or an RFC 3339 time. */
  since?: string
  limit?: number
  output: OutputFormat
}

export function validateAudit(o: AuditOptions): void {
  // The control plane reads it with the same rule; checked here so that a typo costs no request.
  if (o.since !== undefined) parseSince(o.since, Date.now(), '--since')
  if (o.limit !== undefined && (!Number.isInteger(o.limit) || o.limit < 1)) throw new CtlError('E_USAGE', '--limit must be a positive whole number')
}

export const AUDIT_HEADERS = ['SEQ', 'TIME', 'ACTOR', 'ACTION', 'TARGET', 'RESULT', 'DETAIL']

function detailText(e: AuditEntry): string {
  if (e.detail === undefined || e.detail === null) return ''
  return typeof e.detail === 'string' ? e.detail : JSON.stringify(e.detail)
}

/** `ok`, or `ok (dry run)` for a dry run's entry (it changed nothing, but was asked for and decided). */
function resultText(e: AuditEntry): string {
  const dry = typeof e.detail === 'object' && e.detail !== null && (e.detail as { dryRun?: unknown }).dryRun === true
  return dry ? `${e.result} (dry run)` : e.result
}

export async function runAudit(session: Session, o: AuditOptions, io: Io): Promise<void> {
  const entries = await session.client.audit({ since: o.since, limit: o.limit })
  if (o.output === 'json') return io.out(toJson(entries))
  if (o.output === 'yaml') return io.out(toYaml(entries))
  if (entries.length === 0) return io.out(o.since ? `no audit entries since ${o.since}` : 'no audit entries')
  io.out(renderTable(AUDIT_HEADERS, entries.map((e) => [e.seq, e.time, e.actor, e.action, e.target, resultText(e), detailText(e)])))
}
