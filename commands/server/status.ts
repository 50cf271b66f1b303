import { Flags } from '../../src/cli/oclif.js'
import { BaseCommand, outputFlag } from '../../src/cli/base.js'
import { parseOutputFormat, printReport } from '../../src/cli/output.js'
import { localServerDir } from '../../src/home.js'
import { ExitCode } from '../../src/errors.js'
import { serverStatus } from '../../src/controlplane/process.js'

export default class ServerStatus extends BaseCommand {
  static override summary = 'Say whether the control plane runs, where, and as which process'
  static override description = `Exit code 0 when it runs and answers, 5 otherwise.`
  static override examples = ['<%= config.bin %> server status']
  static override flags = {
    'data-dir': Flags.string({ summary: 'Data folder of the control plane (default $CTL_HOME/server; for root without CTL_HOME /var/lib/ctl)' }),
    ...outputFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(ServerStatus)
    const output = parseOutputFormat(flags.output)
    const dataDir = flags['data-dir'] ?? localServerDir()
    const status = await serverStatus(dataDir)
    printReport(this.io, output, { running: status.running, url: status.url ?? null, pid: status.pid ?? null, dataDir }, () => {
      if (status.running) this.io.out(`running at ${status.url} (pid ${status.pid}, data in ${dataDir})`)
      else this.io.out(status.pid ? `not answering (pid ${status.pid} recorded in ${dataDir})` : `not running (data in ${dataDir})`)
    })
    if (!status.running) this.exit(ExitCode.unavailable)
  }
}
