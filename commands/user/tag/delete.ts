import { Flags } from '../../../src/cli/oclif.js'
import { BaseCommand, contextFlag, outputFlag } from '../../../src/cli/base.js'
import { parseOutputFormat } from '../../../src/cli/output.js'
import { runTagChange, validateTags, type TagOptions } from '../../../src/cli/verbs/user.js'
import { openSession } from '../../../src/cli/verbs/session.js'

export default class UserTagDelete extends BaseCommand {
  static override summary = 'Remove a role binding from a user (tenant-admins only)'
  static override description = `Removes the binding made with the same -t and -w; a tenant-wide binding is
removed without -w.`
  static override examples = [
    '<%= config.bin %> user tag delete -i bob -t roles:id:data-dev -w sales',
    '<%= config.bin %> user tag delete -i carol -t roles:id:operator -o json',
  ]
  static override flags = {
    id: Flags.string({ char: 'i', summary: 'User id', required: true }),
    tag: Flags.string({ char: 't', summary: 'Role tag, roles:id:ROLE (repeatable)', required: true, multiple: true }),
    workspace: Flags.string({ char: 'w', summary: 'The workspace the binding is in (default: the tenant-wide binding)' }),
    ...outputFlag,
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(UserTagDelete)
    const output = parseOutputFormat(flags.output)
    const options: TagOptions = { user: flags.id, tags: flags.tag, workspace: flags.workspace }
    validateTags(options)
    await runTagChange(await openSession({ context: flags.context }, this.io, this.config.root), options, 'delete', this.io, output)
  }
}
