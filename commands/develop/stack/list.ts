import { BaseCommand, outputFlag } from '../../../src/cli/base.js'
import { parseOutputFormat } from '../../../src/cli/output.js'
import { runStackList } from '../../../src/cli/verbs/develop.js'

export default class DevelopStackList extends BaseCommand {
  static override summary = 'List the built-in stacks and their versions'
  static override description = `Prints NAME | VERSION | FLAVOR | IMAGE | COMMAND for every built-in stack. A
stack's image and command are templates over the step's stackSpec: the table
shows what they give for a stackSpec holding only the defaults, the image
marked "(default)"; an image the step must name shows {{ stackSpec.image }}.
-o json|yaml print the templates themselves.`
  static override examples = ['<%= config.bin %> develop stack list', '<%= config.bin %> develop stack list -o yaml']
  static override flags = { ...outputFlag }

  async run(): Promise<void> {
    const { flags } = await this.parse(DevelopStackList)
    runStackList({ output: parseOutputFormat(flags.output) }, this.io)
  }
}
