import { Args } from '../../src/cli/oclif.js'
import { BaseCommand } from '../../src/cli/base.js'
import { deleteContext } from '../../src/cli/verbs/context.js'

export default class ContextDelete extends BaseCommand {
  static override summary = 'Delete a context'
  static override description = `Removes the context from $CTL_HOME's config; "logout" first removes its stored
API key. Deleting the current context makes "local" the current one; the
built-in local context cannot be deleted.`
  static override examples = ['<%= config.bin %> context delete staging']
  static override args = { name: Args.string({ description: 'Context name', required: true }) }
  async run(): Promise<void> {
    const { args } = await this.parse(ContextDelete)
    deleteContext(args.name, this.io)
  }
}
