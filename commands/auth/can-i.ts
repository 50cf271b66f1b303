import { Args, Flags } from '../../src/cli/oclif.js'
import { BaseCommand, contextFlag, outputFlag, workspaceFlag } from '../../src/cli/base.js'
import { parseOutputFormat } from '../../src/cli/output.js'
import { runCanI, validateCanI, type CanIOptions } from '../../src/cli/verbs/access.js'
import { openSession } from '../../src/cli/verbs/session.js'

export default class AuthCanI extends BaseCommand {
  static override summary = 'Ask whether you may do something, and what decides it'
  static override description = `Prints "yes - REASON" or "no - REASON" (the binding or grant that decided, or
what is missing) and exits 0 for yes, 1 for no, like kubectl auth can-i. VERB
is one of get, runtime-get, log, apply, delete, run, stop, suspend, resume,
retry, grant, secret-read, use, admin; suspend and resume are decided as stop.
TYPE may be a plural or short name (wf, vol, ...). Without -n it asks about
the workspace (for apply: creating a new resource).`
  static override examples = [
    '<%= config.bin %> auth can-i apply workflow -w sales',
    '<%= config.bin %> auth can-i run workflow -n nightly-load -w sales',
    '<%= config.bin %> auth can-i suspend wf -n nightly-load',
    '<%= config.bin %> auth can-i secret-read secret -n warehouse-db -q && echo allowed',
  ]
  static override args = {
    verb: Args.string({ description: 'What to do', required: true }),
    type: Args.string({ description: 'Resource type', required: true }),
  }
  static override flags = {
    name: Flags.string({ char: 'n', summary: 'Resource name' }),
    ...workspaceFlag,
    quiet: Flags.boolean({ char: 'q', summary: 'Print nothing; answer with the exit code only', default: false }),
    ...outputFlag,
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { args, flags } = await this.parse(AuthCanI)
    const options: CanIOptions = { verb: args.verb, type: args.type, name: flags.name, output: parseOutputFormat(flags.output), quiet: flags.quiet }
    validateCanI(options)
    const code = await runCanI(await openSession(flags, this.io, this.config.root), options, this.io)
    if (code !== 0) this.exit(code)
  }
}
