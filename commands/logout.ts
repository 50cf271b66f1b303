import { Flags } from '../src/cli/oclif.js'
import { BaseCommand, outputFlag } from '../src/cli/base.js'
import { parseOutputFormat } from '../src/cli/output.js'
import { completeLogout, runLogout } from '../src/cli/verbs/login.js'

export default class Logout extends BaseCommand {
  static override summary = 'Remove the stored API key of a context'
  static override description = `Deletes the key ctl login stored for the context, from the OS keychain and
from $CTL_HOME/credentials.yaml. The key itself stays valid on the control
plane: revoke it with ctl user apikey delete.`
  static override examples = ['<%= config.bin %> logout', '<%= config.bin %> logout --context prod', '<%= config.bin %> logout -o json']
  static override flags = {
    context: Flags.string({ summary: 'Context to log out of (default: the current one)' }),
    ...outputFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(Logout)
    await runLogout(completeLogout(flags, process.env), this.io, parseOutputFormat(flags.output))
  }
}
