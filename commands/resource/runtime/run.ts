import { Flags } from '../../../src/cli/oclif.js'
import { BaseCommand, contextFlag, outputFlag, workspaceFlag } from '../../../src/cli/base.js'
import { runRuntimeRun, validateRuntimeTarget } from '../../../src/cli/verbs/runtime.js'
import { validateParamFlags } from '../../../src/cli/verbs/run-params.js'
import { parseOutputFormat } from '../../../src/cli/output.js'
import { openSession } from '../../../src/cli/verbs/session.js'

export default class RuntimeRun extends BaseCommand {
  static override summary = 'Run a workflow now (on a scheduled workflow: an extra run)'
  static override description = `Starts a new run of the workflow's current revision, trigger "manual", whether
or not the workflow has a schedule (a scheduled one keeps its next fire time).
--wait follows the run and exits 0 when it succeeds, 1 when it fails.

--param NAME=VALUE (repeatable) and --params-file FILE (a YAML or JSON
mapping) give the run's params; a value is typed by the workflow's declaration
(JSON for arrays and objects) and --param wins over the file. Params not given
take their defaults; a missing required, unknown or mistyped param is refused
(exit 1).

--skip STEP (repeatable) leaves a step out: it is recorded skipped
("skipped on request (--skip)") and its dependents skip too; --only STEP
(repeatable) runs those steps and their ancestors, the others are "not
selected (--only)". A run whose steps that ran all succeeded succeeds. An
unknown step name is refused (exit 1).`
  static override examples = [
    '<%= config.bin %> resource runtime run -t workflow -n daily-report --wait',
    '<%= config.bin %> resource runtime run -t workflow -n deploy --param version=1.2.3 --param regions=\'["eu","us"]\'',
    '<%= config.bin %> resource runtime run -t workflow -n deploy --params-file params.yaml --param environment=production',
    '<%= config.bin %> resource runtime run -t workflow -n etl --skip notify --skip publish',
    '<%= config.bin %> resource runtime run -t workflow -n etl --only transform --wait',
  ]
  static override aliases = ['runtime:run']
  static override flags = {
    type: Flags.string({ char: 't', summary: 'Resource type', default: 'workflow' }),
    name: Flags.string({ char: 'n', summary: 'Workflow name', required: true }),
    ...workspaceFlag,
    wait: Flags.boolean({ summary: 'Follow the run; exit 0 if it succeeds, 1 if it fails', default: false }),
    param: Flags.string({ summary: 'A run param, NAME=VALUE (repeatable; typed by the declaration)', multiple: true }),
    'params-file': Flags.string({ summary: 'Run params from a YAML or JSON mapping (--param wins)' }),
    skip: Flags.string({ summary: 'Leave this step out (repeatable); its dependents skip too', multiple: true }),
    only: Flags.string({ summary: 'Run only this step and its ancestors (repeatable)', multiple: true }),
    ...outputFlag,
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(RuntimeRun)
    validateRuntimeTarget(flags)
    validateParamFlags(flags)
    const session = await openSession(flags, this.io, this.config.root)
    const code = await runRuntimeRun(session, flags, flags.wait, this.io, parseOutputFormat(flags.output), flags)
    if (code !== 0) this.exit(code)
  }
}
