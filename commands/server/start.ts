import { Flags } from '../../src/cli/oclif.js'
import { join } from 'node:path'
import type { RuntimeKind } from '../../src/server/server.js'
import { BaseCommand } from '../../src/cli/base.js'
import { localServerDir } from '../../src/cli/config.js'
import { DEFAULT_LOCAL_PORT } from '../../src/cli/connect.js'
import { ADMIN_KEY_FILE, runForeground, spawnDetachedServer } from '../../src/server/process.js'
import { DEFAULT_LOG_RETENTION, parseRetention } from '../../src/logs/retention.js'
import { kubernetesEnvOf, kubernetesOptionsOf } from '../../src/server/kube-flags.js'

export default class ServerStart extends BaseCommand {
  static override summary = 'Start the control plane'
  static override description = `Runs the control plane (HTTP API, SQLite store, engine, and the local or --runtime kubernetes runtime) in the foreground, or in the
background with --detach. Data lives in --data-dir (default $CTL_HOME/server, i.e. ~/.ctl/server). On the first
start an admin API key is created and written, readable only by you, to <data-dir>/${ADMIN_KEY_FILE}; the local
context uses it. Stopping the control plane never stops running steps: they are picked up again on the next start.`
  static override examples = [
    '<%= config.bin %> server start --detach',
    '<%= config.bin %> server start --port 8080 --host 0.0.0.0 --data-dir /var/lib/ctl',
    '<%= config.bin %> server start --runtime kubernetes --kubeconfig ~/.kube/config --kube-context kind-ctl --manage-namespaces',
  ]
  static override flags = {
    port: Flags.integer({ char: 'p', summary: 'Port to listen on (0: any free port)', default: DEFAULT_LOCAL_PORT }),
    host: Flags.string({ summary: 'Address to listen on', default: '127.0.0.1' }),
    'data-dir': Flags.string({ summary: 'Where the store, logs, volumes and keys live (default $CTL_HOME/server)' }),
    detach: Flags.boolean({ char: 'd', summary: 'Run in the background and return once it answers', default: false }),
    foreground: Flags.boolean({ hidden: true, default: false }),
    'max-parallel-steps': Flags.integer({ summary: 'Most steps running at once, server-wide', default: 32 }),
    runtime: Flags.string({ summary: 'Where steps run: local processes, or Pods on a Kubernetes cluster', options: ['local', 'kubernetes'], default: 'local', env: 'CTL_RUNTIME' }),
    kubeconfig: Flags.string({ summary: 'Kubeconfig of the cluster (default: KUBECONFIG, ~/.kube/config, or in-cluster)', env: 'CTL_KUBECONFIG' }),
    'kube-context': Flags.string({ summary: 'Context of the kubeconfig to use (default: its current context)', env: 'CTL_KUBE_CONTEXT' }),
    'namespace-prefix': Flags.string({ summary: 'Namespace of a workspace = this prefix + the workspace name', default: 'ctl-', env: 'CTL_NAMESPACE_PREFIX' }),
    'manage-namespaces': Flags.boolean({ summary: 'Create missing workspace namespaces (needs the cluster-wide right to)', default: false, env: 'CTL_MANAGE_NAMESPACES' }),
    'image-pull-grace': Flags.string({ summary: 'How long an image may fail to pull (ErrImagePull, ImagePullBackOff) before its step fails', default: '2m', env: 'CTL_IMAGE_PULL_GRACE' }),
    'gc-when-complete': Flags.boolean({ summary: 'Delete a step\'s Pod (with its Secret and ConfigMap) once it ended and its log is stored', default: true, allowNo: true, env: 'CTL_GC_WHEN_COMPLETE' }),
    'pod-ttl': Flags.string({ summary: 'Keep finished Pods this long before deleting them (with --gc-when-complete): 10m, 1h', default: '0', env: 'CTL_POD_TTL' }),
    'storage-class': Flags.string({ summary: 'Storage class of volume claims whose volume names none (default: the cluster\'s default class)', env: 'CTL_STORAGE_CLASS' }),
    'log-retention': Flags.string({ summary: 'Keep logs of finished steps this long: 30d, 12h, 90m; 0 keeps them forever', default: DEFAULT_LOG_RETENTION, env: 'CTL_LOG_RETENTION' }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(ServerStart)
    const dataDir = flags['data-dir'] ?? localServerDir()
    const runtime = flags.runtime as RuntimeKind
    if (flags.detach) {
      // The detached child is started with the core flags only; it reads the runtime ones from these variables.
      Object.assign(process.env, { CTL_RUNTIME: runtime, ...kubernetesEnvOf(flags) })
      const started = await spawnDetachedServer({ dataDir, port: flags.port, host: flags.host, cliEntry: join(this.config.root, 'bin', 'run.js') })
      this.io.out(`control plane running at ${started.url} (pid ${started.pid}, data in ${dataDir})`)
      return
    }
    const server = await runForeground({ dataDir, port: flags.port, host: flags.host, maxParallelSteps: flags['max-parallel-steps'], logRetentionMs: parseRetention(flags['log-retention']), logFile: join(dataDir, 'requests.log'),
      runtime,
      kubernetes: runtime === 'kubernetes' ? kubernetesOptionsOf(flags) : undefined,
    })
    this.io.out(`control plane listening at ${server.url} (data in ${dataDir})`)
    if (server.adminToken) this.io.out(`created the admin API key in ${join(dataDir, ADMIN_KEY_FILE)} (readable only by you)`)
    await server.done
  }
}
