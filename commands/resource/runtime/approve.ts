import { Flags } from '../../../src/cli/oclif.js'
import { BaseCommand, runActionFlags } from '../../../src/cli/base.js'
import { validateRuntimeTarget } from '../../../src/cli/verbs/runtime.js'
import { runRuntimeDecide } from '../../../src/cli/verbs/approvals.js'
import { parseOutputFormat } from '../../../src/cli/output.js'
import { openSession } from '../../../src/cli/verbs/session.js'

export default class RuntimeApprove extends BaseCommand {
  static override summary = 'Approve a step that waits for approval: it starts'
  static override description = `Without --run: the newest run where the step waits. Needs the approve
permission on the workflow and, when the step names approvers, being one of
them (without approvers: whoever may run the workflow decides). The decision
and its comment are audited.`
  static override examples = ['<%= config.bin %> resource runtime approve -t workflow -n release --step deploy -m "approve per change 42"']
  static override aliases = ['runtime:approve']
  static override flags = {
    ...runActionFlags,
    step: Flags.string({ summary: 'The step that waits for approval', required: true }),
    message: Flags.string({ char: 'm', summary: 'A comment, audited (at most 1,024 characters)' }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(RuntimeApprove)
    validateRuntimeTarget(flags)
    const session = await openSession(flags, this.io, this.config.root)
    await runRuntimeDecide(session, flags, 'approve', this.io, parseOutputFormat(flags.output))
  }
}
