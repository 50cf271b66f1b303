import { BaseCommand, runActionFlags } from '../../../src/cli/base.js'
import { runRuntimeSuspend, validateRuntimeTarget } from '../../../src/cli/verbs/runtime.js'
import { parseOutputFormat } from '../../../src/cli/output.js'
import { openSession } from '../../../src/cli/verbs/session.js'

export default class RuntimeSuspend extends BaseCommand {
  static override summary = 'Suspend a workflow\'s active runs: no new step starts until resumed'
  static override description = `Steps already running go on and their ends are recorded. Stop still kills a
suspended run.`
  static override examples = ['<%= config.bin %> resource runtime suspend -t workflow -n customer-batch-pipeline']
  static override aliases = ['runtime:suspend']
  static override flags = runActionFlags

  async run(): Promise<void> {
    const { flags } = await this.parse(RuntimeSuspend)
    validateRuntimeTarget(flags)
    const session = await openSession(flags, this.io, this.config.root)
    await runRuntimeSuspend(session, flags, flags.run, this.io, parseOutputFormat(flags.output))
  }
}
