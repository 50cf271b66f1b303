import { Flags } from '../src/cli/oclif.js'
import { BaseCommand, outputFlag } from '../src/cli/base.js'
import { parseOutputFormat } from '../src/cli/output.js'
import { completeLogin, runLogin, terminalAsk, validateLogin } from '../src/cli/verbs/login.js'

export default class Login extends BaseCommand {
  static override summary = 'Check an API key with the control plane and store it for a context'
  static override description = `Asks for the key on the terminal unless --apikey gives it (--apikey - reads it
from standard input), checks it (whoami) and stores it in the OS keychain.
Where no keychain answers, the key goes to $CTL_HOME/credentials.yaml (mode
0600) and one warning line says so; CTL_CREDENTIALS=file skips the keychain,
CTL_CREDENTIALS=keychain requires it. --server URL logs in to the context that
names that control plane, or adds one (named after the host, or --context
NAME); the context becomes the current one. CTL_APIKEY, when set, overrides
any stored key.`
  static override examples = [
    '<%= config.bin %> login',
    '<%= config.bin %> login --apikey "$KEY"',
    '<%= config.bin %> login --server https://ctl.example.com --context prod',
    'printf %s "$KEY" | <%= config.bin %> login --apikey -',
    '<%= config.bin %> login --apikey "$KEY" -o json',
  ]
  static override flags = {
    server: Flags.string({ summary: 'Control plane URL (adds a context when none names it), or "local"' }),
    apikey: Flags.string({ summary: 'The API key; - reads it from standard input; asked on a terminal when absent' }),
    context: Flags.string({ summary: 'Context to log in to (default: the current one; with --server, the new context\'s name)' }),
    workspace: Flags.string({ char: 'w', summary: 'Default workspace of the context' }),
    ...outputFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(Login)
    const output = parseOutputFormat(flags.output)
    const options = await completeLogin(flags, process.env, terminalAsk())
    validateLogin(options)
    await runLogin(options, this.io, this.config.root, output)
  }
}
