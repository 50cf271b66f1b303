import { Flags } from '../../src/cli/oclif.js'
import { join } from 'node:path'
import { BaseCommand } from '../../src/cli/base.js'
import { localServerDir } from '../../src/cli/config.js'
import { DEFAULT_LOCAL_PORT } from '../../src/cli/connect.js'
import { ADMIN_KEY_FILE, runForeground, spawnDetachedServer } from '../../src/server/process.js'
import { DEFAULT_LOG_RETENTION, parseRetention } from '../../src/logs/retention.js'

export default class ServerStart extends BaseCommand {
  static override summary = 'Start the control plane'
  static override description = `Runs the control plane (HTTP API, SQLite store, engine, local runtime) in the foreground, or in the
background with --detach. Data lives in --data-dir (default $CTL_HOME/server, i.e. ~/.ctl/server). On the first
start an admin API key is created and written, readable only by you, to <data-dir>/${ADMIN_KEY_FILE}; the local
context uses it. Stopping the control plane never stops running steps: they are picked up again on the next start.`
  static override examples = [
    '<%= config.bin %> server start --detach',
    '<%= config.bin %> server start --port 8080 --host 0.0.0.0 --data-dir /var/lib/ctl',
  ]
  static override flags = {
    port: Flags.integer({ char: 'p', summary: 'Port to listen on (0: any free port)', default: DEFAULT_LOCAL_PORT }),
    host: Flags.string({ summary: 'Address to listen on', default: '127.0.0.1' }),
    'data-dir': Flags.string({ summary: 'Where the store, logs, volumes and keys live (default $CTL_HOME/server)' }),
    detach: Flags.boolean({ char: 'd', summary: 'Run in the background and return once it answers', default: false }),
    foreground: Flags.boolean({ hidden: true, default: false }),
    'max-parallel-steps': Flags.integer({ summary: 'Most steps running at once, server-wide', default: 32 }),
    'log-retention': Flags.string({ summary: 'Keep logs of finished steps this long: 30d, 12h, 90m; 0 keeps them forever', default: DEFAULT_LOG_RETENTION, env: 'CTL_LOG_RETENTION' }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(ServerStart)
    const dataDir = flags['data-dir'] ?? localServerDir()
    if (flags.detach) {
      const started = await spawnDetachedServer({ dataDir, port: flags.port, host: flags.host, cliEntry: join(this.config.root, 'bin', 'run.js') })
      this.io.out(`control plane running at ${started.url} (pid ${started.pid}, data in ${dataDir})`)
      return
    }
    const server = await runForeground({ dataDir, port: flags.port, host: flags.host, maxParallelSteps: flags['max-parallel-steps'], logRetentionMs: parseRetention(flags['log-retention']), logFile: join(dataDir, 'requests.log') })
    this.io.out(`control plane listening at ${server.url} (data in ${dataDir})`)
    if (server.adminToken) this.io.out(`created the admin API key in ${join(dataDir, ADMIN_KEY_FILE)} (readable only by you)`)
    await server.done
  }
}
