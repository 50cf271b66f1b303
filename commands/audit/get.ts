import { Flags } from '../../src/cli/oclif.js'
import { BaseCommand, contextFlag, outputFlag } from '../../src/cli/base.js'
import { parseOutputFormat } from '../../src/cli/output.js'
import { runAudit, validateAudit, type AuditOptions } from '../../src/cli/verbs/audit.js'
import { openSession } from '../../src/cli/verbs/session.js'

export default class AuditGet extends BaseCommand {
  static override summary = 'Show the audit log (tenant-admins only)'
  static override description = `Every mutating call and every read of a secret value: who (ACTOR), what
(ACTION on TARGET), when, and the RESULT (ok, denied, unauthenticated, error).
--since takes a duration back from now or a time.`
  static override examples = [
    '<%= config.bin %> audit get --since 1h',
    '<%= config.bin %> audit get --since 2024-05-01T00:00:00Z -o json',
  ]
  static override flags = {
    since: Flags.string({ summary: 'Only entries since: 1h, 30m, 7d, or an RFC 3339 time' }),
    limit: Flags.integer({ summary: 'At most this many entries (newest)' }),
    ...outputFlag,
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(AuditGet)
    const options: AuditOptions = { since: flags.since, limit: flags.limit, output: parseOutputFormat(flags.output) }
    validateAudit(options)
    await runAudit(await openSession(flags, this.io, this.config.root), options, this.io)
  }
}
