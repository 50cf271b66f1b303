import { Args } from '../../src/cli/oclif.js'
import { BaseCommand } from '../../src/cli/base.js'
import { selectContext } from '../../src/cli/verbs/context.js'

export default class ContextSelect extends BaseCommand {
  static override summary = 'Make a context the current one'
  static override description = `Every later command talks to this context's control plane and uses its default
workspace, unless --context or -w says otherwise.`
  static override examples = ['<%= config.bin %> context select staging', '<%= config.bin %> context select local']
  static override args = { name: Args.string({ description: 'Context name', required: true }) }
  async run(): Promise<void> {
    const { args } = await this.parse(ContextSelect)
    selectContext(args.name, this.io)
  }
}
