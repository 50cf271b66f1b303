import { Flags } from '../../../src/cli/oclif.js'
import { BaseCommand, contextFlag, outputFlag } from '../../../src/cli/base.js'
import { parseOutputFormat } from '../../../src/cli/output.js'
import { runDeleteApiKey } from '../../../src/cli/verbs/apikey.js'
import { openSession } from '../../../src/cli/verbs/session.js'

export default class ApiKeyDelete extends BaseCommand {
  static override summary = 'Revoke an API key; it stops working at once'
  static override description = `Revokes the key with this id ("user apikey get" lists the ids): every request
made with it is refused from then on. A user may revoke their own keys; a
tenant-admin any key.`
  static override examples = ['<%= config.bin %> user apikey delete -n laptop', '<%= config.bin %> user apikey delete -i loader -n nightly -o json']
  static override flags = {
    id: Flags.string({ char: 'i', summary: 'User the key belongs to (default: you)' }),
    name: Flags.string({ char: 'n', summary: 'Key name, or key id as user apikey get shows it', required: true }),
    ...outputFlag,
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(ApiKeyDelete)
    await runDeleteApiKey(await openSession(flags, this.io, this.config.root), { user: flags.id, key: flags.name }, this.io, parseOutputFormat(flags.output))
  }
}
