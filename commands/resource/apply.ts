import { Flags } from '../../src/cli/oclif.js'
import { BaseCommand, contextFlag, fileFlags, outputFlag, workspaceFlag } from '../../src/cli/base.js'
import { ApplyVerb } from '../../src/cli/verbs/apply.js'

export default class ResourceApply extends BaseCommand {
  static override summary = 'Create or update resources from manifests'
  static override description = `Lints the manifests locally, then sends them to the control plane, which
validates them again, stores a new revision when the content changed
(otherwise the answer is "unchanged"), and reconciles them: an unscheduled
workflow starts a run, a scheduled one waits for its next fire time.

--lint only checks. --dry-run (or --dry-run=client) resolves every workflow
step into the Kubernetes Pod it becomes without any control plane; -o yaml
prints those Pods and the ConfigMap / Secret shapes they reference (secret
values are never read). --dry-run=server sends everything through the server's
apply path and stores nothing. --wait follows the run that the apply started
and exits 0 when it succeeds, 1 when it fails. An unchanged workflow starts no
run: --wait says so with its last run's state and exits 0. --rerun starts a
new run of each unchanged workflow (as "runtime run" does), which --wait
follows.

--param NAME=VALUE (repeatable) and --params-file FILE give the params of the
run the apply starts (one unscheduled workflow); an unchanged workflow starts
no run with them unless --rerun is given. With --dry-run they are rendered
into the Pods shown ({{.params.NAME}}), with one example instance per
fanned-out step.`
  static override examples = [
    '<%= config.bin %> resource apply -f examples/customer-batch-pipeline.yaml --wait',
    '<%= config.bin %> resource apply -f examples -R -w analytics',
    '<%= config.bin %> resource apply -f workflow.yaml --lint',
    '<%= config.bin %> resource apply -f examples/projected-workflow.yaml --dry-run -o yaml',
    '<%= config.bin %> resource apply -f workflow.yaml --dry-run=server',
    '<%= config.bin %> resource apply -f examples/customer-batch-pipeline.yaml --rerun --wait',
    '<%= config.bin %> resource apply -f deploy.yaml --wait --param version=1.2.3 --param environment=production',
    '<%= config.bin %> resource apply -f deploy.yaml --dry-run -o yaml --params-file params.yaml',
  ]
  static override aliases = ['apply']
  static override flags = {
    ...fileFlags,
    ...workspaceFlag,
    ...outputFlag,
    ...contextFlag,
    lint: Flags.boolean({ char: 'l', summary: 'Only lint the manifests', default: false }),
    'dry-run': Flags.string({ summary: 'client: resolve locally and print; server: validate on the server, store nothing', options: ['none', 'client', 'server'] }),
    wait: Flags.boolean({ summary: 'Follow the started run; exit 0 if it succeeds, 1 if it fails', default: false }),
    rerun: Flags.boolean({ summary: 'Start a new run of each unchanged workflow (as runtime run does)', default: false }),
    param: Flags.string({ summary: 'A param of the run the apply starts, NAME=VALUE (repeatable; typed by the declaration)', multiple: true }),
    'params-file': Flags.string({ summary: 'Params of the run the apply starts, from a YAML or JSON mapping (--param wins)' }),
  }

  async run(): Promise<void> {
    // kubectl habit: a bare --dry-run means the client-side one.
    const argv = this.argv.map((arg) => (arg === '--dry-run' ? '--dry-run=client' : arg))
    const { flags } = await this.parse(ResourceApply, argv)
    const verb = new ApplyVerb(this.io, this.config.root)
    verb.complete(flags, process.env)
    verb.validate()
    const exitCode = await verb.run()
    if (exitCode !== 0) this.exit(exitCode)
  }
}
