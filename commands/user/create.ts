import { Flags } from '../../src/cli/oclif.js'
import { BaseCommand, contextFlag, outputFlag } from '../../src/cli/base.js'
import { parseOutputFormat } from '../../src/cli/output.js'
import { runCreateUser, validateCreateUser, type CreateUserOptions } from '../../src/cli/verbs/user.js'
import { openSession } from '../../src/cli/verbs/session.js'

export default class UserCreate extends BaseCommand {
  static override summary = 'Create a user: a person or an application (tenant-admins only)'
  static override description = `A new user has no rights anywhere until a role is bound to it (ctl user tag
add) or a resource is granted to it (ctl resource grant). Give it an API key
with ctl user apikey create -i ID.`
  static override examples = [
    '<%= config.bin %> user create -n "Bob Builder" -u bob -t person -e bob@example.com',
    '<%= config.bin %> user create -n "Nightly loader" -u loader -t application',
  ]
  static override flags = {
    name: Flags.string({ char: 'n', summary: 'Display name', required: true }),
    id: Flags.string({ char: 'u', summary: 'User id (lower-case letters, digits, - _ .)', required: true }),
    type: Flags.string({ char: 't', summary: 'person or application', options: ['person', 'application'], default: 'person' }),
    email: Flags.string({ char: 'e', summary: 'E-mail address' }),
    ...outputFlag,
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(UserCreate)
    const options: CreateUserOptions = { id: flags.id, name: flags.name, type: flags.type as CreateUserOptions['type'], email: flags.email, output: parseOutputFormat(flags.output) }
    validateCreateUser(options)
    await runCreateUser(await openSession(flags, this.io, this.config.root), options, this.io)
  }
}
