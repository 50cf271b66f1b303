import { Flags } from '../../../src/cli/oclif.js'
import { BaseCommand, contextFlag, outputFlag } from '../../../src/cli/base.js'
import { parseOutputFormat } from '../../../src/cli/output.js'
import { runTagChange, validateTags, type TagOptions } from '../../../src/cli/verbs/user.js'
import { openSession } from '../../../src/cli/verbs/session.js'

export default class UserTagAdd extends BaseCommand {
  static override summary = 'Bind a role to a user, tenant-wide or in one workspace (tenant-admins only)'
  static override description = `Roles: roles:id:tenant-admin (everything), roles:id:operator (read everything,
logs, run/stop/retry), roles:id:data-dev (create resources and manage its own,
read others'), roles:id:viewer (get only, no logs). Without -w the role holds
tenant-wide (every workspace, and instance-level resources); with -w only
there.`
  static override examples = [
    '<%= config.bin %> user tag add -i bob -t roles:id:data-dev -w sales',
    '<%= config.bin %> user tag add -i carol -t roles:id:operator -o json',
  ]
  static override flags = {
    id: Flags.string({ char: 'i', summary: 'User id', required: true }),
    tag: Flags.string({ char: 't', summary: 'Role tag, roles:id:ROLE (repeatable)', required: true, multiple: true }),
    workspace: Flags.string({ char: 'w', summary: 'Bind in this workspace only (default: tenant-wide)' }),
    ...outputFlag,
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(UserTagAdd)
    const output = parseOutputFormat(flags.output)
    const options: TagOptions = { user: flags.id, tags: flags.tag, workspace: flags.workspace }
    validateTags(options)
    // Not the session's workspace: a binding without -w is tenant-wide, not the context's default.
    await runTagChange(await openSession({ context: flags.context }, this.io, this.config.root), options, 'add', this.io, output)
  }
}
