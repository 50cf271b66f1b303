import { Flags } from '../../src/cli/oclif.js'
import { BaseCommand, outputFlag } from '../../src/cli/base.js'
import { parseOutputFormat, printReport } from '../../src/cli/output.js'
import { localServerDir } from '../../src/home.js'
import { stopServer } from '../../src/controlplane/process.js'

export default class ServerStop extends BaseCommand {
  static override summary = 'Stop the control plane started for a data folder'
  static override description = `Running steps keep running and are picked up again when the control plane
starts.`
  static override examples = ['<%= config.bin %> server stop', '<%= config.bin %> server stop -o json']
  static override flags = {
    'data-dir': Flags.string({ summary: 'Data folder of the control plane (default $CTL_HOME/server; for root without CTL_HOME /var/lib/ctl)' }),
    ...outputFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(ServerStop)
    const output = parseOutputFormat(flags.output)
    const dataDir = flags['data-dir'] ?? localServerDir()
    const stopped = await stopServer(dataDir)
    printReport(this.io, output, { stopped, dataDir }, () =>
      this.io.out(stopped ? `control plane stopped (data in ${dataDir})` : `no control plane was running for ${dataDir}`))
  }
}
