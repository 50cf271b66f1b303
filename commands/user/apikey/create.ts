import { Flags } from '../../../src/cli/oclif.js'
import { BaseCommand, contextFlag, outputFlag } from '../../../src/cli/base.js'
import { parseOutputFormat } from '../../../src/cli/output.js'
import { runCreateApiKey, validateCreateApiKey, type CreateApiKeyOptions } from '../../../src/cli/verbs/apikey.js'
import { openSession } from '../../../src/cli/verbs/session.js'

export default class ApiKeyCreate extends BaseCommand {
  static override summary = 'Create an API key; the token is shown this once only'
  static override description = `The control plane stores only a hash of the token: copy it now. -o json prints
{id, name, token, expiresAt} for scripts. Without -i the key is yours; a
tenant-admin may create keys for any user. Use it with ctl login --apikey
TOKEN, or as Authorization: Bearer TOKEN.`
  static override examples = [
    '<%= config.bin %> user apikey create -n laptop -d 30d',
    '<%= config.bin %> user apikey create -i loader -n nightly -o json',
  ]
  static override flags = {
    id: Flags.string({ char: 'i', summary: 'User the key is for (default: you)' }),
    name: Flags.string({ char: 'n', summary: 'Key name' }),
    duration: Flags.string({ char: 'd', summary: 'Lifetime: 30m, 24h, 30d, 1w, 1d12h (default: as long as the calling key lives; longer only for a tenant-wide tenant-admin)' }),
    ...outputFlag,
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(ApiKeyCreate)
    const options: CreateApiKeyOptions = { user: flags.id, name: flags.name, duration: flags.duration, output: parseOutputFormat(flags.output) }
    validateCreateApiKey(options)
    await runCreateApiKey(await openSession(flags, this.io, this.config.root), options, this.io)
  }
}
