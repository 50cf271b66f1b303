import { Flags } from '../../src/cli/oclif.js'
import { BaseCommand, contextFlag, outputFlag } from '../../src/cli/base.js'
import { parseOutputFormat } from '../../src/cli/output.js'
import { runGetWorkspaces, validateWorkspaceName } from '../../src/cli/verbs/workspace.js'
import { openSession } from '../../src/cli/verbs/session.js'

export default class WorkspaceGet extends BaseCommand {
  static override summary = 'List workspaces'
  static override description = `Lists the workspaces you have a role in (tenant-admins: all of them); -n shows
one.`
  static override examples = ['<%= config.bin %> workspace get', '<%= config.bin %> workspace get -n sales -o yaml']
  static override flags = {
    name: Flags.string({ char: 'n', summary: 'Workspace name' }),
    ...outputFlag,
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(WorkspaceGet)
    const output = parseOutputFormat(flags.output)
    if (flags.name !== undefined) validateWorkspaceName(flags.name)
    await runGetWorkspaces(await openSession({ context: flags.context }, this.io, this.config.root), { name: flags.name, output }, this.io)
  }
}
