import { Args, Flags } from '../../src/cli/oclif.js'
import { BaseCommand, outputFlag } from '../../src/cli/base.js'
import { parseOutputFormat } from '../../src/cli/output.js'
import { addContext } from '../../src/cli/verbs/context.js'

export default class ContextAdd extends BaseCommand {
  static override summary = 'Add (or update) a context'
  static override description = `A context names a control plane (--server URL, or "local" for the one ctl
starts on this machine) and the workspace commands use when -w is not given.
Adding a context that exists replaces its server and workspace; its stored API
key stays. --select also makes it the current context.`
  static override examples = [
    '<%= config.bin %> context add staging --server https://ctl.staging.example.com -w analytics --select',
    '<%= config.bin %> context add dev --server http://localhost:7419 -o json',
  ]
  static override args = { name: Args.string({ description: 'Context name', required: true }) }
  static override flags = {
    server: Flags.string({ summary: 'Control plane URL, or "local" for the embedded one', required: true }),
    workspace: Flags.string({ char: 'w', summary: 'Default workspace', default: 'public' }),
    select: Flags.boolean({ summary: 'Also make it the current context', default: false }),
    ...outputFlag,
  }
  async run(): Promise<void> {
    const { args, flags } = await this.parse(ContextAdd)
    addContext({ name: args.name, server: flags.server, workspace: flags.workspace }, flags.select, this.io, parseOutputFormat(flags.output))
  }
}
