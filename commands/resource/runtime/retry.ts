import { Flags } from '../../../src/cli/oclif.js'
import { BaseCommand, contextFlag, outputFlag, workspaceFlag } from '../../../src/cli/base.js'
import { runRuntimeRetry, validateRuntimeTarget } from '../../../src/cli/verbs/runtime.js'
import { parseOutputFormat } from '../../../src/cli/output.js'
import { openSession } from '../../../src/cli/verbs/session.js'

export default class RuntimeRetry extends BaseCommand {
  static override summary = 'Rerun only the failed and skipped steps of the last run'
  static override description = `Steps that succeeded keep their results and logs; the new run has trigger
"retry".`
  static override examples = ['<%= config.bin %> resource runtime retry -t workflow -n customer-batch-pipeline --wait']
  static override aliases = ['runtime:retry', 'resource:runtime:re-run', 'runtime:re-run']
  static override flags = {
    type: Flags.string({ char: 't', summary: 'Resource type', default: 'workflow' }),
    name: Flags.string({ char: 'n', summary: 'Workflow name', required: true }),
    ...workspaceFlag,
    run: Flags.string({ summary: 'Retry this run instead of the last one' }),
    wait: Flags.boolean({ summary: 'Follow the run; exit 0 if it succeeds, 1 if it fails', default: false }),
    ...outputFlag,
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(RuntimeRetry)
    validateRuntimeTarget(flags)
    const session = await openSession(flags, this.io, this.config.root)
    const code = await runRuntimeRetry(session, flags, flags.run, flags.wait, this.io, parseOutputFormat(flags.output))
    if (code !== 0) this.exit(code)
  }
}
