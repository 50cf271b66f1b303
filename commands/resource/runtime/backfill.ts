import { Flags } from '../../../src/cli/oclif.js'
import { BaseCommand, contextFlag, outputFlag, workspaceFlag } from '../../../src/cli/base.js'
import { runRuntimeBackfill, validateBackfillFlags } from '../../../src/cli/verbs/backfill.js'
import { parseOutputFormat } from '../../../src/cli/output.js'
import { openSession } from '../../../src/cli/verbs/session.js'

export default class RuntimeBackfill extends BaseCommand {
  static override summary = 'Run a scheduled workflow once per fire time of its schedule in a range'
  static override description = `Starts one run, trigger "backfill", per fire time of the workflow's schedule
in [--from, --to] (both included). A bound is an RFC 3339 time or a date in
the schedule's time zone (--from: that day's start, --to: through its end). At
most 1,000 fire times per backfill. Each run carries its fire time as
{{.defaultProjections.scheduledTime}} and workflow.scheduledTime.

--parallel N runs at most N of them at once (default 1). Under
concurrencyPolicy Forbid or Replace a backfill runs one run of the workflow at
a time and never cancels another. The backfill is stored: a restart of the
control plane goes on without starting any fire time twice. --dry-run lists
the fire times and starts nothing.`
  static override examples = [
    '<%= config.bin %> resource runtime backfill -t workflow -n daily-report --from 2024-05-01 --to 2024-05-31 --dry-run',
    '<%= config.bin %> resource runtime backfill -t workflow -n daily-report --from 2024-05-01T00:00:00Z --to 2024-05-07T23:59:59Z --parallel 3',
  ]
  static override aliases = ['runtime:backfill']
  static override flags = {
    type: Flags.string({ char: 't', summary: 'Resource type', default: 'workflow' }),
    name: Flags.string({ char: 'n', summary: 'Workflow name', required: true }),
    ...workspaceFlag,
    from: Flags.string({ summary: 'First time of the range: RFC 3339 or a date (schedule time zone)', required: true }),
    to: Flags.string({ summary: 'Last time of the range: RFC 3339 or a date, through its end', required: true }),
    parallel: Flags.integer({ summary: 'Most backfill runs at once (default 1)' }),
    'dry-run': Flags.boolean({ summary: 'List the fire times; start nothing', default: false }),
    ...outputFlag,
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(RuntimeBackfill)
    validateBackfillFlags(flags)
    const session = await openSession(flags, this.io, this.config.root)
    await runRuntimeBackfill(session, { ...flags, dryRun: flags['dry-run'], output: parseOutputFormat(flags.output) }, this.io)
  }
}
