import { Args } from '../../src/cli/oclif.js'
import { BaseCommand, outputFlag } from '../../src/cli/base.js'
import { parseOutputFormat } from '../../src/cli/output.js'
import { selectContext } from '../../src/cli/verbs/context.js'

export default class ContextSelect extends BaseCommand {
  static override summary = 'Make a context the current one'
  static override description = `Every later command talks to this context's control plane and uses its default
workspace, unless --context or -w says otherwise.`
  static override examples = ['<%= config.bin %> context select staging', '<%= config.bin %> context select local', '<%= config.bin %> context select staging -o json']
  static override args = { name: Args.string({ description: 'Context name', required: true }) }
  static override flags = { ...outputFlag }
  async run(): Promise<void> {
    const { args, flags } = await this.parse(ContextSelect)
    selectContext(args.name, this.io, parseOutputFormat(flags.output))
  }
}
