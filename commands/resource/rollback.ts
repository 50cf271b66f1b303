import { Flags } from '../../src/cli/oclif.js'
import { BaseCommand, contextFlag, outputFlag, workspaceFlag } from '../../src/cli/base.js'
import { parseOutputFormat } from '../../src/cli/output.js'
import { runRollback, validateRollbackOptions, type RollbackOptions } from '../../src/cli/verbs/rollback.js'
import { openSession } from '../../src/cli/verbs/session.js'

export default class ResourceRollback extends BaseCommand {
  static override summary = 'Apply an old revision again, as a new revision'
  static override description = `The stored manifest of revision N becomes the resource's next revision, as if
it were applied again: an unscheduled workflow runs, a scheduled one is
re-armed. Unchanged when revision N equals the current one. Needs update on
the resource; audited. List the revisions with get --revisions, read one with
get --revision N -o yaml. Secrets cannot be rolled back (apply the values
again).`
  static override examples = [
    '<%= config.bin %> resource rollback -t workflow -n customer-batch-pipeline --to-revision 2',
    '<%= config.bin %> resource rollback -t workflow -n customer-batch-pipeline --to-revision 2 --dry-run',
  ]
  static override flags = {
    type: Flags.string({ char: 't', summary: 'Resource type', required: true }),
    name: Flags.string({ char: 'n', summary: 'Resource name', required: true }),
    'to-revision': Flags.integer({ summary: 'The revision whose manifest to apply again', required: true }),
    'dry-run': Flags.boolean({ summary: 'Check rights and say what would happen; change nothing', default: false }),
    ...workspaceFlag,
    ...outputFlag,
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(ResourceRollback)
    const options: RollbackOptions = { type: flags.type, name: flags.name, toRevision: flags['to-revision'], dryRun: flags['dry-run'], output: parseOutputFormat(flags.output) }
    validateRollbackOptions(options)
    const session = await openSession(flags, this.io, this.config.root)
    await runRollback(session, options, this.io)
  }
}
