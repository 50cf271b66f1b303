import { Flags } from '../../../src/cli/oclif.js'
import { BaseCommand, outputFlag } from '../../../src/cli/base.js'
import { parseOutputFormat } from '../../../src/cli/output.js'
import { runSchemaGet } from '../../../src/cli/verbs/develop.js'

export default class DevelopSchemaGet extends BaseCommand {
  static override summary = 'Print the JSON Schema of a resource type and manifest version'
  static override description = `Prints one self-contained JSON Schema, for editors (yaml-language-server, VS
Code) and other tools. Point an editor at it with a modeline such as:  #
yaml-language-server: $schema=./workflow.schema.json`
  static override examples = [
    '<%= config.bin %> develop schema get -t workflow -v v2alpha > workflow.schema.json',
    '<%= config.bin %> develop schema get -t secret -v v1 -o yaml',
  ]
  static override aliases = ['develop:schema:generate']
  static override flags = {
    type: Flags.string({ char: 't', summary: 'Resource type (workflow, secret, instance-secret, volume, compute, stack)', required: true }),
    version: Flags.string({ char: 'v', summary: 'Manifest version (v1, v1beta, v1alpha, v2alpha)', default: 'v2alpha' }),
    ...outputFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(DevelopSchemaGet)
    runSchemaGet({ type: flags.type, version: flags.version, output: parseOutputFormat(flags.output) }, this.io)
  }
}
