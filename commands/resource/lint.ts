import { BaseCommand, fileFlags, outputFlag, workspaceFlag } from '../../src/cli/base.js'
import { parseOutputFormat } from '../../src/cli/output.js'
import { completeLintOptions, runLint, runLintReport, validateLintOptions } from '../../src/cli/verbs/lint.js'

export default class ResourceLint extends BaseCommand {
  static override summary = 'Check manifests without applying them'
  static override description = `Loads every manifest given with -f (files, folders, standard input), fills
\${VAR} and $VAR from the environment, and checks schemas, names, the DAG,
schedules, stacks, stackSpecs and projection templates with the same code the
control plane runs. Every problem of every file is reported, as FILE:LINE:COL
message (path). Exit code 0 when everything is valid, 1 otherwise. No control
plane is needed.`
  static override examples = [
    '<%= config.bin %> resource lint -f workflow.yaml',
    '<%= config.bin %> resource lint -f examples -R',
    'cat workflow.yaml | <%= config.bin %> resource lint -f -',
  ]
  static override aliases = ['lint']
  static override flags = { ...fileFlags, ...workspaceFlag, ...outputFlag }

  async run(): Promise<void> {
    const { flags } = await this.parse(ResourceLint)
    const options = completeLintOptions(flags, process.env)
    validateLintOptions(options)
    const output = parseOutputFormat(flags.output)
    if (output === 'table') {
      await runLint(options, this.io)
      return
    }
    const code = await runLintReport(options, this.io, output)
    if (code !== 0) this.exit(code)
  }
}
