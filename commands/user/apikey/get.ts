import { Flags } from '../../../src/cli/oclif.js'
import { BaseCommand, contextFlag, outputFlag } from '../../../src/cli/base.js'
import { parseOutputFormat } from '../../../src/cli/output.js'
import { runGetApiKeys } from '../../../src/cli/verbs/apikey.js'
import { openSession } from '../../../src/cli/verbs/session.js'

export default class ApiKeyGet extends BaseCommand {
  static override summary = 'List API keys (never their tokens)'
  static override description = `STATUS is active, expired or revoked. Without -i: your keys; a tenant-admin
may list any user's.`
  static override examples = ['<%= config.bin %> user apikey get', '<%= config.bin %> user apikey get -i loader -o json']
  static override flags = {
    id: Flags.string({ char: 'i', summary: 'User whose keys to list (default: you)' }),
    ...outputFlag,
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(ApiKeyGet)
    const output = parseOutputFormat(flags.output)
    await runGetApiKeys(await openSession(flags, this.io, this.config.root), { user: flags.id, output }, this.io)
  }
}
