import { Flags } from '../../src/cli/oclif.js'
import { BaseCommand, contextFlag, outputFlag, workspaceFlag } from '../../src/cli/base.js'
import { parseOutputFormat } from '../../src/cli/output.js'
import { runGet, validateGetOptions, type GetOptions } from '../../src/cli/verbs/get.js'
import { openSession } from '../../src/cli/verbs/session.js'

export default class ResourceGet extends BaseCommand {
  static override summary = 'List resources with their STATUS and RUNTIME'
  static override description = `Prints NAME | VERSION | TYPE | WORKSPACE | STATUS | RUNTIME | OWNER. Without
-a only your own resources in the workspace are listed; -a lists everyone's,
in every workspace. RUNTIME is pending, running, succeeded, failed, or
next:<RFC 3339 time> for a scheduled workflow between runs.`
  static override examples = [
    '<%= config.bin %> resource get',
    '<%= config.bin %> resource get -t workflow -a',
    '<%= config.bin %> resource get -t workflow -n customer-batch-pipeline -d',
    '<%= config.bin %> resource get -t workflow -n customer-batch-pipeline --revisions',
    '<%= config.bin %> resource get -t workflow -r',
    '<%= config.bin %> resource get -t secret -n warehouse-db --unsanitized',
    '<%= config.bin %> resource get -t workflow -l team=core,env!=dev',
    '<%= config.bin %> resource get --tag batch',
    '<%= config.bin %> resource get -t workflow -n customer-batch-pipeline --revision 2 -o yaml',
  ]
  static override flags = {
    type: Flags.string({ char: 't', summary: 'Resource type' }),
    name: Flags.string({ char: 'n', summary: 'Resource name' }),
    ...workspaceFlag,
    all: Flags.boolean({ char: 'a', summary: 'Everyone\'s resources, in every workspace', default: false }),
    details: Flags.boolean({ char: 'd', summary: 'Show the stored manifest (needs -t and -n)', default: false }),
    revisions: Flags.boolean({ summary: 'List the stored revisions (needs -t and -n)', default: false }),
    revision: Flags.integer({ summary: 'Show the manifest of this stored revision (needs -t and -n; -o yaml prints the manifest alone)' }),
    selector: Flags.string({ char: 'l', summary: 'Label selector, as kubectl: team=core,env!=dev,tier in (a,b),tier notin (c),key,!key' }),
    tag: Flags.string({ summary: 'Only resources with this tag (repeatable: all must be present)', multiple: true }),
    unsanitized: Flags.boolean({ summary: 'Show secret values in clear (implies -d; tenant-admin or manage grant; audited)', default: false }),
    deleted: Flags.boolean({ summary: 'Only deleted resources (-d, --revisions, runtime get and log still read them)', default: false }),
    refresh: Flags.boolean({ char: 'r', summary: 'Refresh every 5 seconds until interrupted', default: false }),
    ...outputFlag,
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(ResourceGet)
    const options: GetOptions = {
      type: flags.type, name: flags.name, all: flags.all, details: flags.details, revisions: flags.revisions, unsanitized: flags.unsanitized, deleted: flags.deleted,
      output: parseOutputFormat(flags.output), refresh: flags.refresh ? 5 : 0,
      ...(flags.revision !== undefined ? { revision: flags.revision } : {}), ...(flags.selector !== undefined ? { selector: flags.selector } : {}),
      ...(flags.tag ? { tags: flags.tag } : {}),
    }
    validateGetOptions(options)
    const session = await openSession(flags, this.io, this.config.root)
    await runGet(session, options, this.io)
  }
}
