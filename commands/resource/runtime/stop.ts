import { Flags } from '../../../src/cli/oclif.js'
import { BaseCommand, runActionFlags } from '../../../src/cli/base.js'
import { runRuntimeStop, validateRuntimeTarget } from '../../../src/cli/verbs/runtime.js'
import { parseOutputFormat } from '../../../src/cli/output.js'
import { openSession } from '../../../src/cli/verbs/session.js'

export default class RuntimeStop extends BaseCommand {
  static override summary = 'Stop a workflow\'s active runs (they end "killed")'
  static override description = `Kills the running steps of every active run (or only --run ID), suspended runs
included: the runs end "killed" and their steps that had not started end
"cancelled". Logs written so far stay readable with "resource log".
A workflow's finally steps still run (within its finallyTimeout, default 5m):
the run stays "running" until they end. --force ends the run at once,
without them.`
  static override examples = [
    '<%= config.bin %> resource runtime stop -t workflow -n customer-batch-pipeline',
    '<%= config.bin %> resource runtime stop -t workflow -n customer-batch-pipeline --force',
  ]
  static override aliases = ['runtime:stop']
  static override flags = { ...runActionFlags, force: Flags.boolean({ summary: 'End the runs at once: their finally steps do not run', default: false }) }

  async run(): Promise<void> {
    const { flags } = await this.parse(RuntimeStop)
    validateRuntimeTarget(flags)
    const session = await openSession(flags, this.io, this.config.root)
    await runRuntimeStop(session, flags, flags.run, this.io, parseOutputFormat(flags.output), flags.force)
  }
}
