import { Flags } from '../../../src/cli/oclif.js'
import { BaseCommand, runActionFlags } from '../../../src/cli/base.js'
import { validateRuntimeTarget } from '../../../src/cli/verbs/runtime.js'
import { runRuntimeDecide } from '../../../src/cli/verbs/approvals.js'
import { parseOutputFormat } from '../../../src/cli/output.js'
import { openSession } from '../../../src/cli/verbs/session.js'

export default class RuntimeReject extends BaseCommand {
  static override summary = 'Reject a step that waits for approval: it fails'
  static override description = `The step fails with the reason "Rejected by USER: COMMENT"; the steps that
depend on it follow the normal rules (skipped). Without --run: the newest run
where the step waits. Needs the approve permission (see approve). The decision
and its comment are audited.`
  static override examples = ['<%= config.bin %> resource runtime reject -t workflow -n release --step deploy -m "reject per change 42"']
  static override aliases = ['runtime:reject']
  static override flags = {
    ...runActionFlags,
    step: Flags.string({ summary: 'The step that waits for approval', required: true }),
    message: Flags.string({ char: 'm', summary: 'A comment, audited (at most 1,024 characters)' }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(RuntimeReject)
    validateRuntimeTarget(flags)
    const session = await openSession(flags, this.io, this.config.root)
    await runRuntimeDecide(session, flags, 'reject', this.io, parseOutputFormat(flags.output))
  }
}
