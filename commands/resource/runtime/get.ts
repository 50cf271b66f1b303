import { Flags } from '../../../src/cli/oclif.js'
import { BaseCommand, contextFlag, outputFlag, workspaceFlag } from '../../../src/cli/base.js'
import { parseOutputFormat } from '../../../src/cli/output.js'
import { runRuntimeGet, validateRuntimeTarget } from '../../../src/cli/verbs/runtime.js'
import { openSession } from '../../../src/cli/verbs/session.js'

export default class RuntimeGet extends BaseCommand {
  static override summary = 'Show a workflow\'s runtime: its steps, the run, its nodes and recent runs'
  static override description = `Prints the workflow (NAME | VERSION | TYPE | WORKSPACE | TITLE | OWNER), its
steps (JOB NAME | STACK | JOB TITLE | JOB DEPENDENCIES), its schedule when it
has one, the latest run (or --run ID) with its progress, one line per node
(NODE NAME | JOB NAME | POD NAME | TYPE | CONTAINERS | PHASE) and the recent
runs. --node STEP shows one node in detail: its attempts, conditions and
events. -r refreshes every 5 seconds.`
  static override examples = [
    '<%= config.bin %> resource runtime get -t workflow -n customer-batch-pipeline',
    '<%= config.bin %> resource runtime get -t workflow -n customer-batch-pipeline --node extract',
    '<%= config.bin %> resource runtime get -t workflow -n nightly-cleanup -r',
  ]
  static override aliases = ['runtime:get']
  static override flags = {
    type: Flags.string({ char: 't', summary: 'Resource type', default: 'workflow' }),
    name: Flags.string({ char: 'n', summary: 'Workflow name', required: true }),
    ...workspaceFlag,
    node: Flags.string({ summary: 'One node in detail: STEP or STEP-ATTEMPT' }),
    run: Flags.string({ summary: 'Run id (default: the latest run)' }),
    refresh: Flags.boolean({ char: 'r', summary: 'Refresh every 5 seconds until interrupted', default: false }),
    ...outputFlag,
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(RuntimeGet)
    validateRuntimeTarget(flags)
    const session = await openSession(flags, this.io, this.config.root)
    await runRuntimeGet(session, { type: flags.type, name: flags.name, node: flags.node, runId: flags.run, output: parseOutputFormat(flags.output), refresh: flags.refresh ? 5 : 0 }, this.io)
  }
}
