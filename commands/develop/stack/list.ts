import { BaseCommand, outputFlag } from '../../../src/cli/base.js'
import { parseOutputFormat } from '../../../src/cli/output.js'
import { runStackList } from '../../../src/cli/verbs/develop.js'

export default class DevelopStackList extends BaseCommand {
  static override summary = 'List the built-in stacks and their versions'
  static override examples = ['<%= config.bin %> develop stack list', '<%= config.bin %> develop stack list -o yaml']
  static override flags = { ...outputFlag }

  async run(): Promise<void> {
    const { flags } = await this.parse(DevelopStackList)
    runStackList({ output: parseOutputFormat(flags.output) }, this.io)
  }
}
