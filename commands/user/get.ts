import { Flags } from '../../src/cli/oclif.js'
import { BaseCommand, contextFlag, outputFlag } from '../../src/cli/base.js'
import { parseOutputFormat } from '../../src/cli/output.js'
import { runGetUsers, validateGetUsers, type GetUsersOptions } from '../../src/cli/verbs/user.js'
import { openSession } from '../../src/cli/verbs/session.js'

export default class UserGet extends BaseCommand {
  static override summary = 'Show users with their role tags'
  static override description = `Without flags: you. -i ID: that user (yourself, or anyone for a tenant-admin).
-a: every user (tenant-admins only). TAGS lists role bindings: roles:id:ROLE
tenant-wide, roles:id:ROLE@WORKSPACE in one workspace.`
  static override examples = ['<%= config.bin %> user get', '<%= config.bin %> user get -i bob', '<%= config.bin %> user get -a -o yaml']
  static override flags = {
    all: Flags.boolean({ char: 'a', summary: 'Every user', default: false }),
    id: Flags.string({ char: 'i', summary: 'User id' }),
    ...outputFlag,
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(UserGet)
    const options: GetUsersOptions = { all: flags.all, id: flags.id, output: parseOutputFormat(flags.output) }
    validateGetUsers(options)
    await runGetUsers(await openSession(flags, this.io, this.config.root), options, this.io)
  }
}
