import { BaseCommand, runActionFlags } from '../../../src/cli/base.js'
import { runRuntimeResume, validateRuntimeTarget } from '../../../src/cli/verbs/runtime.js'
import { parseOutputFormat } from '../../../src/cli/output.js'
import { openSession } from '../../../src/cli/verbs/session.js'

export default class RuntimeResume extends BaseCommand {
  static override summary = 'Resume a workflow\'s suspended runs: their steps start again'
  static override description = `Suspended runs go on: the steps whose dependencies are met start again.
Without --run every suspended run of the workflow is resumed.`
  static override examples = ['<%= config.bin %> resource runtime resume -t workflow -n customer-batch-pipeline']
  static override aliases = ['runtime:resume']
  static override flags = runActionFlags

  async run(): Promise<void> {
    const { flags } = await this.parse(RuntimeResume)
    validateRuntimeTarget(flags)
    const session = await openSession(flags, this.io, this.config.root)
    await runRuntimeResume(session, flags, flags.run, this.io, parseOutputFormat(flags.output))
  }
}
