import { Flags } from '../../src/cli/oclif.js'
import { BaseCommand, contextFlag, outputFlag } from '../../src/cli/base.js'
import { parseOutputFormat } from '../../src/cli/output.js'
import { runDeleteUser } from '../../src/cli/verbs/user.js'
import { openSession } from '../../src/cli/verbs/session.js'

export default class UserDelete extends BaseCommand {
  static override summary = 'Delete a user; its API keys stop working at once (tenant-admins only)'
  static override description = `The user's API keys are revoked at once, and its role bindings and grants
removed. The resources it owns stay, with their owner shown as before.`
  static override examples = ['<%= config.bin %> user delete -i bob', '<%= config.bin %> user delete -i bob -o json']
  static override flags = {
    id: Flags.string({ char: 'i', summary: 'User id', required: true }),
    ...outputFlag,
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(UserDelete)
    await runDeleteUser(await openSession(flags, this.io, this.config.root), flags.id, this.io, parseOutputFormat(flags.output))
  }
}
