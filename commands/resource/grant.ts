import { Flags } from '../../src/cli/oclif.js'
import { PERMISSIONS } from '../../src/api/types.js'
import { BaseCommand, contextFlag, outputFlag, workspaceFlag } from '../../src/cli/base.js'
import { completeGrant, runGrant, validateGrant } from '../../src/cli/verbs/access.js'
import { openSession } from '../../src/cli/verbs/session.js'

export const grantFlags = {
  type: Flags.string({ char: 't', summary: 'Resource type', required: true }),
  name: Flags.string({ char: 'n', summary: 'Resource name', required: true }),
  ...workspaceFlag,
  to: Flags.string({ summary: 'Who: user:ID' }),
  permission: Flags.string({ summary: 'read (get, runtime, logs) | run (read + run, stop, retry, approve) | use (get + use in own workflows) | manage (everything) | approve (read + approve|reject approval steps)', options: [...PERMISSIONS] }),
  list: Flags.boolean({ summary: 'List the resource\'s grants instead', default: false }),
  ...outputFlag,
  ...contextFlag,
}

export default class ResourceGrant extends BaseCommand {
  static override summary = 'Grant a user a permission on one resource'
  static override description = `The resource's owner (or a tenant-admin) grants: read (get, runtime get, log),
run (read plus run, stop, retry), use (get, and project the secret / mount the
volume in the grantee's own workflows), or manage (everything, including
update, delete, grant and reading secret values). A grant holds without any
role binding; grants go with the resource when it is deleted. --list shows the
grants.`
  static override examples = [
    '<%= config.bin %> resource grant -t workflow -n nightly-load -w sales --to user:bob --permission run',
    '<%= config.bin %> resource grant -t secret -n warehouse-db --to user:loader --permission use',
    '<%= config.bin %> resource grant -t workflow -n nightly-load -w sales --list',
  ]
  static override flags = grantFlags

  async run(): Promise<void> {
    const { flags } = await this.parse(ResourceGrant)
    const options = completeGrant(flags)
    validateGrant(options)
    await runGrant(await openSession(flags, this.io, this.config.root), options, 'grant', this.io)
  }
}
