import { Flags } from '../../src/cli/oclif.js'
import { join, resolve } from 'node:path'
import { BaseCommand, outputFlag } from '../../src/cli/base.js'
import { parseOutputFormat, printReport } from '../../src/cli/output.js'
import { localServerDir } from '../../src/home.js'
import { ADMIN_KEY_FILE, runForeground, spawnDetachedServer } from '../../src/controlplane/process.js'
import { SERVER_CONFIG_FILE, SERVER_DEFAULTS, resolveServerSettings } from '../../src/controlplane/config-file.js'
import { DEFAULT_STEP_ID } from '../../src/runtime/local/sandbox.js'
import { DEFAULT_MAX_LOG_BYTES } from '../../src/runtime/local/log-cap.js'
import { redactUrl } from '../../src/store/url.js'

const d = SERVER_DEFAULTS

export default class ServerStart extends BaseCommand {
  static override summary = 'Start the control plane'
  static override description = `Runs the control plane (HTTP API, SQLite store, engine, and the local or
--runtime kubernetes runtime) in the foreground, or in the background with
--detach. Data lives in --data-dir (default $CTL_HOME/server, i.e.
~/.ctl/server; for root without CTL_HOME /var/lib/ctl). On the first start an
admin API key is created and written, readable only by you, to
<data-dir>/${ADMIN_KEY_FILE}; the local context uses it. Secrets are sealed with a
master key kept outside the data folder (default $CTL_HOME/keys/master.key for
the embedded control plane, $CTL_HOME/keys/<name>-<hash>.key for another data
folder; --master-key-file, or CTL_MASTER_KEY with the key itself): back it up
apart from the data folder. A master.key found in the data folder (older
versions) is moved there on start. Stopping the control plane never stops
running steps: they are picked up again on the next start.

The store is the SQLite file <data-dir>/ctl.db unless --store names another
file or a PostgreSQL database (postgresql://USER@HOST:5432/DB); any number of
control planes on one PostgreSQL database share the work (see ctl server
status). Keep the password out of the URL with PGPASSWORD or PGPASSFILE (read
by the PostgreSQL driver); a password in the URL is never printed.

Runs and volumes live in <data-dir> unless --work-dir names another folder.
Replicas on one machine with the local runtime each get their own --data-dir
and share one --store and one --work-dir: a replica that takes a run over
reattaches to its running steps and sees the files its steps left in volumes.

Settings come from a flag (or its CTL_* variable), else the YAML server config
file (--config, else <data-dir>/${SERVER_CONFIG_FILE} when it exists; camelCase keys
such as maxParallelSteps, kubernetes.podTtl), else the default.

A control plane running as root never runs a step as root: with the local
runtime every step runs as the host user --step-uid / --step-gid (default
${DEFAULT_STEP_ID}, nobody / nogroup; a dedicated unprivileged user is better). Without
bubblewrap local steps run as plain processes, with no isolation: only
workflows of the tenant admin (admin, the user created at the first start)
run, unless --allow-unsandboxed lets everyone's run. The master key file must
not lie in a folder that local steps see (/usr, /bin, /sbin, /lib*, /etc,
/opt).`
  static override examples = [
    '<%= config.bin %> server start --detach',
    '<%= config.bin %> server start --detach -o json',
    '<%= config.bin %> server start --port 8080 --host 0.0.0.0 --data-dir /var/lib/ctl',
    '<%= config.bin %> server start --runtime kubernetes --kubeconfig ~/.kube/config --kube-context kind-ctl --manage-namespaces',
    '<%= config.bin %> server start --config /etc/ctl/server.yaml',
    '<%= config.bin %> server start --detach --data-dir /var/lib/ctl/a --store postgresql://ctl@db/ctl --work-dir /var/lib/ctl/work',
    'PGPASSWORD=… <%= config.bin %> server start --store postgresql://ctl@db.example.com:5432/ctl --host 0.0.0.0',
    'sudo <%= config.bin %> server start --data-dir /var/lib/ctl --step-uid 990 --step-gid 990',
  ]
  // The settings flags have no `default:`: oclif could not tell it from a given flag, and a given flag outranks
  // the config file while a default must not. Defaults are applied after merging (SERVER_DEFAULTS).
  static override flags = {
    config: Flags.string({ summary: `Server config file (YAML) (default <data-dir>/${SERVER_CONFIG_FILE} when it exists)`, env: 'CTL_SERVER_CONFIG' }),
    'data-dir': Flags.string({ summary: 'Where the store, logs, volumes and keys live (default $CTL_HOME/server)' }),
    detach: Flags.boolean({ char: 'd', summary: 'Run in the background and return once it answers', default: false }),
    foreground: Flags.boolean({ hidden: true, default: false }),
    port: Flags.integer({ char: 'p', summary: `Port to listen on, 0: any free port (default ${d.port})`, min: 0, max: 65535 }),
    host: Flags.string({ summary: `Address to listen on (default ${d.host})` }),
    'max-parallel-steps': Flags.integer({ summary: `Most steps running at once, server-wide (default ${d.maxParallelSteps})`, min: 1, env: 'CTL_MAX_PARALLEL_STEPS' }),
    'max-foreach-items': Flags.integer({ summary: `Most instances one forEach may fan out into (default ${d.maxForEachItems})`, min: 1, env: 'CTL_MAX_FOREACH_ITEMS' }),
    'max-steps-per-workflow': Flags.integer({ summary: `Most steps one workflow may have; more are refused at apply (default ${d.maxStepsPerWorkflow})`, min: 1, env: 'CTL_MAX_STEPS_PER_WORKFLOW' }),
    runtime: Flags.string({ summary: `Where steps run: local processes, or Pods on a Kubernetes cluster (default ${d.runtime})`, options: ['local', 'kubernetes'], env: 'CTL_RUNTIME' }),
    kubeconfig: Flags.string({ summary: 'Kubeconfig of the cluster (default: KUBECONFIG, ~/.kube/config, or in-cluster)', env: 'CTL_KUBECONFIG' }),
    'kube-context': Flags.string({ summary: 'Context of the kubeconfig to use (default: its current context)', env: 'CTL_KUBE_CONTEXT' }),
    'namespace-prefix': Flags.string({ summary: `Namespace of a workspace = this prefix + the workspace name (default ${d.namespacePrefix})`, env: 'CTL_NAMESPACE_PREFIX' }),
    'manage-namespaces': Flags.boolean({ summary: `Create missing workspace namespaces (needs the cluster-wide right to) (default ${d.manageNamespaces})`, allowNo: true, env: 'CTL_MANAGE_NAMESPACES' }),
    'image-pull-grace': Flags.string({ summary: `How long an image may fail to pull (ErrImagePull, ImagePullBackOff) before its step fails (default ${d.imagePullGrace})`, env: 'CTL_IMAGE_PULL_GRACE' }),
    'gc-when-complete': Flags.boolean({ summary: `Delete a step's Pod (with its Secret and ConfigMap) once it ended and its log is stored (default ${d.gcWhenComplete})`, allowNo: true, env: 'CTL_GC_WHEN_COMPLETE' }),
    'pod-ttl': Flags.string({ summary: `Keep finished Pods this long before deleting them (with --gc-when-complete): 10m, 1h (default ${d.podTtl})`, env: 'CTL_POD_TTL' }),
    'storage-class': Flags.string({ summary: 'Storage class of volume claims whose volume names none (default: the cluster\'s default class)', env: 'CTL_STORAGE_CLASS' }),
    'advertise-url': Flags.string({ summary: 'The control plane\'s URL as steps reach it, given to each step as CTL_SERVER (default: its own URL with the local runtime, none with kubernetes)', env: 'CTL_ADVERTISE_URL' }),
    'admin-key-file': Flags.string({ summary: 'File holding the tenant admin\'s first API key (ctl_…, e.g. a mounted Secret): used instead of creating one in <data-dir>/admin.apikey, when the admin has no key yet', env: 'CTL_ADMIN_KEY_FILE' }),
    'master-key-file': Flags.string({ summary: 'File holding the master key that seals secrets; created 0600 when missing (default $CTL_HOME/keys/…, outside the data folder); with the local runtime never below /usr, /bin, /sbin, /lib*, /etc or /opt, which steps see', env: 'CTL_MASTER_KEY_FILE' }),
    'metrics-token-file': Flags.string({ summary: 'File holding a token that opens GET /metrics (sent as "Authorization: Bearer <token>") besides a tenant-admin\'s API key; 16 to 4096 characters', env: 'CTL_METRICS_TOKEN_FILE' }),
    // Bounds (1 to MAX_STEP_ID, never 0) are checked in resolveServerSettings, whose message says why.
    'step-uid': Flags.integer({ summary: `Local runtime under a root control plane: host uid every step runs as, never 0 (a root control plane never runs a step as root) (default ${DEFAULT_STEP_ID}, nobody)`, env: 'CTL_STEP_UID' }),
    'step-gid': Flags.integer({ summary: `Local runtime under a root control plane: host gid every step runs as, never 0 (default ${DEFAULT_STEP_ID}, nogroup)`, env: 'CTL_STEP_GID' }),
    'cgroup-parent': Flags.string({ summary: 'Local runtime: a delegated cgroup v2 folder (absolute) under which each step gets the cgroup enforcing its memory and cpu limits (default: the control plane\'s own, when it delegates memory and cpu)', env: 'CTL_CGROUP_PARENT' }),
    'allow-unsandboxed': Flags.boolean({ summary: 'Local runtime without bubblewrap: run every workflow\'s steps as plain processes, without isolation (default: only the tenant admin\'s, the user who started the control plane)', allowNo: true, env: 'CTL_ALLOW_UNSANDBOXED' }),
    // Bounds (64 KiB to 1 TiB) are checked in resolveServerSettings.
    'max-log-bytes': Flags.integer({ summary: `Local runtime: bytes of a step attempt's log stored at most; past them the step runs on, the middle of its output is dropped and its last 64 KiB of lines are kept (default ${DEFAULT_MAX_LOG_BYTES}, 64 MiB)`, env: 'CTL_MAX_LOG_BYTES' }),
    'work-dir': Flags.string({ summary: 'Where runs (the local step host\'s folder) and volumes live; replicas on one machine share it (default <data-dir>)', env: 'CTL_WORK_DIR' }),
    store: Flags.string({ summary: 'The store: a SQLite file, or postgresql://USER@HOST:PORT/DB shared by several control planes (default <data-dir>/ctl.db); a password is better in PGPASSWORD or PGPASSFILE', env: 'CTL_STORE' }),
    'log-retention': Flags.string({ summary: `Keep logs of finished steps this long: 30d, 12h, 90m; 0 keeps them forever (default ${d.logRetention})`, env: 'CTL_LOG_RETENTION' }),
    ...outputFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(ServerStart)
    const output = parseOutputFormat(flags.output)
    const dataDir = flags['data-dir'] ?? localServerDir()
    const { options, source, childEnv } = await resolveServerSettings({ flags, env: process.env, dataDir })
    const from = source.file ? `, settings from ${source.file}` : ''
    // Shown without its password, whatever the output format.
    const store = redactUrl(options.storeUrl ?? join(dataDir, 'ctl.db'))
    // Said only when it is not the data folder, where everyone else's runs and volumes live.
    const workDir = options.workDir !== undefined && resolve(options.workDir) !== resolve(dataDir) ? options.workDir : null
    const workLine = (): void => {
      if (workDir) this.io.out(`runs and volumes in ${workDir}`)
    }
    if (flags.detach) {
      // The child is started with --data-dir, --port and --host only; these variables carry the rest, so it
      // runs with exactly the settings checked here (they outrank any config file it reads).
      Object.assign(process.env, childEnv)
      const started = await spawnDetachedServer({ dataDir, port: options.port, host: options.host, cliEntry: join(this.config.root, 'bin', 'run.js') })
      for (const line of started.notices) this.io.err(line)
      printReport(this.io, output, { url: started.url, pid: started.pid, dataDir, workDir: workDir ?? dataDir, store, configFile: source.file ?? null, detached: true }, () => {
        this.io.out(`control plane running at ${started.url} (pid ${started.pid}, data in ${dataDir}, store ${store}${from})`)
        workLine()
      })
      return
    }
    const server = await runForeground({ ...options, dataDir, logFile: join(dataDir, 'requests.log') })
    for (const line of server.notices) this.io.err(line)
    const adminKeyFile = server.adminToken ? join(dataDir, ADMIN_KEY_FILE) : null
    // In the foreground the document is printed once listening; the process then keeps serving.
    printReport(this.io, output, { url: server.url, pid: process.pid, dataDir, workDir: workDir ?? dataDir, store, replica: server.replicaId, configFile: source.file ?? null, detached: false, createdAdminKeyFile: adminKeyFile }, () => {
      this.io.out(`control plane listening at ${server.url} (replica ${server.replicaId}, data in ${dataDir}, store ${store}${from})`)
      workLine()
      if (adminKeyFile) this.io.out(`created the admin API key in ${adminKeyFile} (readable only by you)`)
    })
    await server.done
  }
}
