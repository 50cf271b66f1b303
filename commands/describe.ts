import { Args } from '../src/cli/oclif.js'
import { BaseCommand, contextFlag, outputFlag, workspaceFlag } from '../src/cli/base.js'
import { kubectlTarget, requireName } from '../src/cli/kubectl.js'
import { parseOutputFormat } from '../src/cli/output.js'
import { typeNamesHelp } from '../src/manifest/type-names.js'
import { runDescribe } from '../src/cli/verbs/describe.js'
import { openSession } from '../src/cli/verbs/session.js'

export default class Describe extends BaseCommand {
  static override summary = 'Show one resource in full: its get row, then its runtime or manifest'
  static override description = `What "get" and "resource runtime get" tell about one resource, in one view:
the NAME | VERSION | TYPE | WORKSPACE | STATUS | RUNTIME | OWNER row, the
stored revision and its times; then, for a workflow, its steps, latest run,
nodes and recent runs, and for any other type its stored manifest (secret
values hidden). TYPE may be written as its name, plural or short name:

${typeNamesHelp()}`
  static override examples = [
    '<%= config.bin %> describe workflow customer-batch-pipeline',
    '<%= config.bin %> describe wf/customer-batch-pipeline -o yaml',
    '<%= config.bin %> describe volume vol-customer-data -w sales',
  ]
  static override args = {
    target: Args.string({ description: 'TYPE, or TYPE/NAME', required: true }),
    name: Args.string({ description: 'Resource name' }),
  }
  static override flags = {
    ...workspaceFlag,
    ...outputFlag,
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Describe)
    const target = requireName(kubectlTarget(args, {}), 'say which resource: describe TYPE NAME, or TYPE/NAME')
    const session = await openSession(flags, this.io, this.config.root)
    await runDescribe(session, { ...target, output: parseOutputFormat(flags.output) }, this.io)
  }
}
