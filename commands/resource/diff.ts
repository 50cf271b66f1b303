import { Errors } from '../../src/cli/oclif.js'
import { BaseCommand, contextFlag, fileFlags, outputFlag, workspaceFlag } from '../../src/cli/base.js'
import { runDiff } from '../../src/cli/verbs/diff.js'
import { completeFileOptions, validateFileOptions } from '../../src/cli/verbs/files.js'
import { parseOutputFormat } from '../../src/cli/output.js'
import { openSession } from '../../src/cli/verbs/session.js'

export default class ResourceDiff extends BaseCommand {
  static override summary = 'Show what applying the manifests would change'
  static override description = `Sends the manifests through the control plane's apply path as a dry run and
prints a unified diff of the stored (live) and the would-be manifest of each
resource that would change. Secret values are masked. Exit code 0: no change;
1: changes; greater than 1: an error (as kubectl diff).`
  static override examples = ['<%= config.bin %> resource diff -f examples/customer-batch-pipeline.yaml']
  static override aliases = ['diff']
  static override flags = { ...fileFlags, ...workspaceFlag, ...outputFlag, ...contextFlag }

  async run(): Promise<void> {
    const { flags } = await this.parse(ResourceDiff)
    const files = completeFileOptions(flags, process.env)
    validateFileOptions(files)
    const output = parseOutputFormat(flags.output)
    const session = await openSession(flags, this.io, this.config.root)
    const code = await runDiff(session, files, this.io, output)
    if (code !== 0) this.exit(code)
  }

  // kubectl diff: errors exit above 1, since 1 means "there are changes".
  protected override async catch(err: Error & { oclif?: { exit?: number } }): Promise<unknown> {
    if (err instanceof Errors.ExitError) throw err
    const code = this.reportError(err)
    return this.exit(code <= 1 ? 2 : code)
  }
}
