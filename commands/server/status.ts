import { Flags } from '../../src/cli/oclif.js'
import { BaseCommand } from '../../src/cli/base.js'
import { localServerDir } from '../../src/cli/config.js'
import { ExitCode } from '../../src/errors.js'
import { serverStatus } from '../../src/server/process.js'

export default class ServerStatus extends BaseCommand {
  static override summary = 'Say whether the control plane runs, where, and as which process'
  static override description = `Exit code 0 when it runs and answers, 5 otherwise.`
  static override examples = ['<%= config.bin %> server status']
  static override flags = {
    'data-dir': Flags.string({ summary: 'Data folder of the control plane (default $CTL_HOME/server; for root without CTL_HOME /var/lib/ctl)' }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(ServerStatus)
    const dataDir = flags['data-dir'] ?? localServerDir()
    const status = await serverStatus(dataDir)
    if (status.running) {
      this.io.out(`running at ${status.url} (pid ${status.pid}, data in ${dataDir})`)
      return
    }
    this.io.out(status.pid ? `not answering (pid ${status.pid} recorded in ${dataDir})` : `not running (data in ${dataDir})`)
    this.exit(ExitCode.unavailable)
  }
}
