import { Args } from '../../src/cli/oclif.js'
import { BaseCommand } from '../../src/cli/base.js'
import { selectContext } from '../../src/cli/verbs/context.js'

export default class ContextSelect extends BaseCommand {
  static override summary = 'Make a context the current one'
  static override examples = ['<%= config.bin %> context select staging', '<%= config.bin %> context select local']
  static override args = { name: Args.string({ description: 'Context name', required: true }) }
  async run(): Promise<void> {
    const { args } = await this.parse(ContextSelect)
    selectContext(args.name, this.io)
  }
}
