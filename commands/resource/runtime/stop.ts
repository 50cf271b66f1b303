import { Flags } from '../../../src/cli/oclif.js'
import { BaseCommand, contextFlag, workspaceFlag } from '../../../src/cli/base.js'
import { runRuntimeStop, validateRuntimeTarget } from '../../../src/cli/verbs/runtime.js'
import { openSession } from '../../../src/cli/verbs/session.js'

export default class RuntimeStop extends BaseCommand {
  static override summary = 'Stop a workflow\'s active runs (they end "killed")'
  static override examples = ['<%= config.bin %> resource runtime stop -t workflow -n customer-batch-pipeline']
  static override aliases = ['runtime:stop']
  static override flags = {
    type: Flags.string({ char: 't', summary: 'Resource type', default: 'workflow' }),
    name: Flags.string({ char: 'n', summary: 'Workflow name', required: true }),
    ...workspaceFlag,
    run: Flags.string({ summary: 'Only this run' }),
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(RuntimeStop)
    validateRuntimeTarget(flags)
    const session = await openSession(flags, this.io, this.config.root)
    await runRuntimeStop(session, flags, flags.run, this.io)
  }
}
