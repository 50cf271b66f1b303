import { Flags } from '../../src/cli/oclif.js'
import { join } from 'node:path'
import { BaseCommand, contextFlag, outputFlag } from '../../src/cli/base.js'
import { parseOutputFormat } from '../../src/cli/output.js'
import { localServerDir } from '../../src/home.js'
import { ExitCode } from '../../src/errors.js'
import { printServerStatus, serverStatusReport } from '../../src/cli/verbs/server-status.js'

export default class ServerStatus extends BaseCommand {
  static override summary = 'Say whether the control plane runs, where, and which replicas share its store'
  static override description = `The local control plane of --data-dir (its pid, URL and data folder), or
with --context the control plane of that context. The replicas sharing the
store are listed (tenant-admins only: they name hosts): id, host, pid, URL,
version, start, last heartbeat, alive (a heartbeat within 15 s) and the runs
each owns, with the store's kind (never its URL). Exit code 0 when it runs and
answers, 5 otherwise.`
  static override examples = ['<%= config.bin %> server status', '<%= config.bin %> server status --context prod -o yaml']
  static override flags = {
    'data-dir': Flags.string({ summary: 'Data folder of the control plane (default $CTL_HOME/server; for root without CTL_HOME /var/lib/ctl)' }),
    ...outputFlag,
    ...contextFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(ServerStatus)
    const output = parseOutputFormat(flags.output)
    const dataDir = flags['data-dir'] ?? localServerDir()
    const report = await serverStatusReport({ dataDir, context: flags.context, env: process.env, io: this.io, cliEntry: join(this.config.root, 'bin', 'run.js') })
    printServerStatus(this.io, output, report)
    if (!report.running) this.exit(ExitCode.unavailable)
  }
}
