import { Args } from '../../src/cli/oclif.js'
import { BaseCommand, outputFlag } from '../../src/cli/base.js'
import { parseOutputFormat } from '../../src/cli/output.js'
import { deleteContext } from '../../src/cli/verbs/context.js'

export default class ContextDelete extends BaseCommand {
  static override summary = 'Delete a context'
  static override description = `Removes the context from $CTL_HOME's config; "logout" first removes its stored
API key. Deleting the current context makes "local" the current one; the
built-in local context cannot be deleted.`
  static override examples = ['<%= config.bin %> context delete staging', '<%= config.bin %> context delete staging -o json']
  static override args = { name: Args.string({ description: 'Context name', required: true }) }
  static override flags = { ...outputFlag }
  async run(): Promise<void> {
    const { args, flags } = await this.parse(ContextDelete)
    deleteContext(args.name, this.io, parseOutputFormat(flags.output))
  }
}
