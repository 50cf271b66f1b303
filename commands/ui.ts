import { Flags } from '../src/cli/oclif.js'
import { BaseCommand, contextFlag, outputFlag } from '../src/cli/base.js'
import { parseOutputFormat } from '../src/cli/output.js'
import { runUi } from '../src/cli/verbs/ui.js'
import { openSession } from '../src/cli/verbs/session.js'

export default class Ui extends BaseCommand {
  static override summary = 'Print (or open) a one-time sign-in URL to the web console'
  static override description = `Asks the control plane of the current context for a sign-in code for your API
key and prints the console URL carrying it (<server>/ui/signin#code=...). The
code is valid for 60 seconds and works once; the console session it opens
lasts 12 hours at most, never longer than your key, and ends when the key is
revoked. With --open the URL is handed to xdg-open (open on macOS); when none
can be started the URL is printed all the same.`
  static override examples = ['<%= config.bin %> ui', '<%= config.bin %> ui --open', '<%= config.bin %> ui --context prod -o json']
  static override flags = {
    open: Flags.boolean({ summary: 'Open the URL in the browser', default: false }),
    ...outputFlag,
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(Ui)
    const output = parseOutputFormat(flags.output)
    await runUi(await openSession(flags, this.io, this.config.root), { open: flags.open, output }, this.io)
  }
}
