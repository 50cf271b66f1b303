import { BaseCommand } from '../../src/cli/base.js'
import { completeGrant, runGrant, validateGrant } from '../../src/cli/verbs/access.js'
import { openSession } from '../../src/cli/verbs/session.js'
import { grantFlags } from './grant.js'

export default class ResourceRevoke extends BaseCommand {
  static override summary = 'Revoke a permission granted on one resource'
  static override description = `Removes exactly the grant made with the same --to and --permission; it stops
counting at once.`
  static override examples = [
    '<%= config.bin %> resource revoke -t workflow -n nightly-load -w sales --to user:bob --permission run',
  ]
  static override flags = grantFlags

  async run(): Promise<void> {
    const { flags } = await this.parse(ResourceRevoke)
    const options = completeGrant(flags)
    validateGrant(options)
    await runGrant(await openSession(flags, this.io, this.config.root), options, 'revoke', this.io)
  }
}
