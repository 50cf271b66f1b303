import { Flags } from '../../src/cli/oclif.js'
import { BaseCommand, contextFlag, fileFlags, outputFlag, workspaceFlag } from '../../src/cli/base.js'
import { runDelete, validateDeleteOptions, type DeleteOptions } from '../../src/cli/verbs/delete.js'
import { completeFileOptions } from '../../src/cli/verbs/files.js'
import { parseOutputFormat } from '../../src/cli/output.js'
import { openSession } from '../../src/cli/verbs/session.js'

export default class ResourceDelete extends BaseCommand {
  static override summary = 'Delete resources'
  static override description = `Deletes by type and name, or every resource of the manifests given with -f.
Running runs of a deleted workflow are stopped. A resource that others use (a
volume, secret, stack or compute a workflow names) is refused unless --force.
Revisions, runs and logs stay readable.`
  static override examples = [
    '<%= config.bin %> resource delete -t workflow -n customer-batch-pipeline',
    '<%= config.bin %> resource delete -f examples/customer-batch-pipeline.yaml',
    '<%= config.bin %> resource delete -t volume -n customer-data --force',
  ]
  static override aliases = ['delete']
  static override flags = {
    type: Flags.string({ char: 't', summary: 'Resource type' }),
    name: Flags.string({ char: 'n', summary: 'Resource name' }),
    ...fileFlags,
    ...workspaceFlag,
    force: Flags.boolean({ summary: 'Delete even when other resources depend on it', default: false }),
    ...outputFlag,
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(ResourceDelete)
    const options: DeleteOptions = { type: flags.type, name: flags.name, force: flags.force, output: parseOutputFormat(flags.output), files: completeFileOptions(flags, process.env) }
    validateDeleteOptions(options)
    const session = await openSession(flags, this.io, this.config.root)
    await runDelete(session, options, this.io)
  }
}
