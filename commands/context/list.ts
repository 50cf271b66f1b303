import { BaseCommand, outputFlag } from '../../src/cli/base.js'
import { parseOutputFormat } from '../../src/cli/output.js'
import { listContexts } from '../../src/cli/verbs/context.js'

export default class ContextList extends BaseCommand {
  static override summary = 'List contexts (control planes and their default workspaces)'
  static override description = `Prints CURRENT | NAME | SERVER | WORKSPACE for every context, the current one
marked "*". Contexts live in $CTL_HOME (default ~/.ctl).`
  static override examples = ['<%= config.bin %> context list']
  static override flags = { ...outputFlag }
  async run(): Promise<void> {
    const { flags } = await this.parse(ContextList)
    listContexts(this.io, parseOutputFormat(flags.output))
  }
}
