import { Flags } from '../../src/cli/oclif.js'
import { BaseCommand, contextFlag, outputFlag } from '../../src/cli/base.js'
import { parseOutputFormat } from '../../src/cli/output.js'
import { runDeleteWorkspace, validateWorkspaceName } from '../../src/cli/verbs/workspace.js'
import { openSession } from '../../src/cli/verbs/session.js'

export default class WorkspaceDelete extends BaseCommand {
  static override summary = 'Delete a workspace (tenant-admins only)'
  static override description = `Refused while the workspace holds resources, unless --force, which deletes
them with it (their running runs are stopped). The built-in workspaces public
and system cannot be deleted.`
  static override examples = ['<%= config.bin %> workspace delete -n sales', '<%= config.bin %> workspace delete -n sandbox --force']
  static override flags = {
    name: Flags.string({ char: 'n', summary: 'Workspace name', required: true }),
    force: Flags.boolean({ summary: 'Delete the workspace\'s resources with it', default: false }),
    ...outputFlag,
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(WorkspaceDelete)
    validateWorkspaceName(flags.name)
    await runDeleteWorkspace(await openSession({ context: flags.context }, this.io, this.config.root), { name: flags.name, force: flags.force }, this.io, parseOutputFormat(flags.output))
  }
}
