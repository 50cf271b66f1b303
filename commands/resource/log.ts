import { Flags } from '../../src/cli/oclif.js'
import { BaseCommand, contextFlag, outputFlag, workspaceFlag } from '../../src/cli/base.js'
import { completeLogOptions, runLog, validateLogOptions } from '../../src/cli/verbs/log.js'
import { openSession } from '../../src/cli/verbs/session.js'

export default class ResourceLog extends BaseCommand {
  static override summary = 'Print the logs of a workflow run'
  static override description = `Prints, for each node (step attempt) of the latest run (or --run ID), a NODE
NAME | CONTAINER NAME | ERROR header, a LOGS rule, then its lines. Logs are
stored by the control plane, so they stay after the run ends. -f follows live
until the step ends. --tail N prints only the last N lines of each node (-1:
all, the default).`
  static override examples = [
    '<%= config.bin %> resource log -t workflow -n customer-batch-pipeline',
    '<%= config.bin %> resource log -t workflow -n customer-batch-pipeline --container extract',
    '<%= config.bin %> resource log -t workflow -n customer-batch-pipeline --node publish-1 -f',
    '<%= config.bin %> resource log -t workflow -n daily-report --tail 20 --timestamps',
  ]
  static override aliases = ['log', 'resource:logs']
  static override flags = {
    type: Flags.string({ char: 't', summary: 'Resource type', default: 'workflow' }),
    name: Flags.string({ char: 'n', summary: 'Workflow name', required: true }),
    ...workspaceFlag,
    container: Flags.string({ char: 'c', summary: 'Only this step (container), its latest attempt' }),
    node: Flags.string({ summary: 'Only this node: STEP-ATTEMPT (e.g. extract-1) or a step name' }),
    follow: Flags.boolean({ char: 'f', summary: 'Follow the log until the step ends', default: false }),
    tail: Flags.integer({ char: 'l', summary: 'Only the last N lines of each node (-1: all)' }),
    run: Flags.string({ summary: 'Run id (default: the latest run)' }),
    timestamps: Flags.boolean({ summary: 'Prefix each line with its RFC 3339 time', default: false }),
    ...outputFlag,
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(ResourceLog)
    const options = completeLogOptions(flags)
    validateLogOptions(options, flags)
    const session = await openSession(flags, this.io, this.config.root)
    await runLog(session, options, this.io, { write: (text) => process.stdout.write(text) })
  }
}
