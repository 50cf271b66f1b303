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
follows.`
  static override examples = [
    '<%= config.bin %> resource apply -f examples/customer-batch-pipeline.yaml --wait',
    '<%= config.bin %> resource apply -f examples -R -w analytics',
    '<%= config.bin %> resource apply -f workflow.yaml --lint',
    '<%= config.bin %> resource apply -f examples/projected-workflow.yaml --dry-run -o yaml',
    '<%= config.bin %> resource apply -f workflow.yaml --dry-run=server',
    '<%= config.bin %> resource apply -f examples/customer-batch-pipeline.yaml --rerun --wait',
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
