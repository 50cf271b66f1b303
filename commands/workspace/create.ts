import { Flags } from '../../src/cli/oclif.js'
import { BaseCommand, contextFlag, outputFlag } from '../../src/cli/base.js'
import { parseOutputFormat } from '../../src/cli/output.js'
import { runCreateWorkspace, validateCreateWorkspace, type CreateWorkspaceOptions } from '../../src/cli/verbs/workspace.js'
import { openSession } from '../../src/cli/verbs/session.js'

export default class WorkspaceCreate extends BaseCommand {
  static override summary = 'Create a workspace (tenant-admins only)'
  static override description = `Nobody but tenant-admins has rights in a new workspace until roles are bound
in it: ctl user tag add -i USER -t roles:id:data-dev -w NAME.`
  static override examples = [
    '<%= config.bin %> workspace create -n sales -d "Sales analytics"',
    '<%= config.bin %> workspace create -n platform -l system --tags team:infra --tags tier:1',
  ]
  static override flags = {
    name: Flags.string({ char: 'n', summary: 'Workspace name', required: true }),
    description: Flags.string({ char: 'd', summary: 'Description' }),
    layer: Flags.string({ char: 'l', summary: 'user or system', options: ['user', 'system'] }),
    tags: Flags.string({ summary: 'Tag (repeatable)', multiple: true }),
    ...outputFlag,
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(WorkspaceCreate)
    const options: CreateWorkspaceOptions = { name: flags.name, description: flags.description, layer: flags.layer, tags: flags.tags ?? [] }
    validateCreateWorkspace(options)
    await runCreateWorkspace(await openSession({ context: flags.context }, this.io, this.config.root), options, this.io, parseOutputFormat(flags.output))
  }
}
