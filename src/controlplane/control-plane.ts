// Starting and stopping a whole control plane in this process: store, runtime, engine,
// HTTP app. Used by `ctl server start`, by process.ts and by the tests.
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { hostname } from 'node:os'
import type { AddressInfo } from 'node:net'
import { openStore, sqliteFileOf, storeKindOf } from '../store/open.js'
import type { Store } from '../store/types.js'
import { shownToSteps } from '../runtime/local/index.js'
import { enterOnlyFor } from '../runtime/local/identity.js'
import { stepUserOf } from '../runtime/local/sandbox.js'
import { createRuntime, type KubernetesServerOptions, type RuntimeKind } from '../runtime/index.js'
import { CtlError } from '../errors.js'
import { createEngine } from '../engine/engine.js'
import { buildApp, storeAnswers } from '../http/app.js'
import { startReplica, stderrLogger, type ReplicaHandle } from './replicas.js'
import { newReplicaId } from '../engine/ownership.js'
import type { StreamLimits } from '../http/routes/streams.js'
import { createStoreLauncher } from '../engine/launch.js'
import { deriveKey, KEY_CHECK_META, SecretBox, verifyMasterKey } from '../secrets/crypto.js'
import { loadMasterKey, masterKeyFileOf } from '../secrets/master-key.js'
import { RunRedactions } from '../secrets/redact.js'
import { secretRevealer } from './secrets.js'
import { resourceService } from './resource-service.js'
import { ADMIN_KEY_FILE, SERVER_INFO_FILE, SERVER_LOG_FILE } from './process.js'
import { DEFAULT_LOG_RETENTION, parseRetention, startLogRetention } from '../logs/retention.js'
import { newToken, sha256Hex, type AuthLimits } from '../http/auth.js'
import { startTraces, tracedResources, type ControlPlaneTracer } from './traces.js'
import { createMetrics, timedCalls } from '../metrics/metrics.js'

export interface ControlPlaneOptions {
  dataDir: string
  /**
   * The store: a SQLite file or `sqlite:PATH`, or `postgresql://…` (shared by any number of replicas). Default
   * the embedded SQLite file `<dataDir>/ctl.db`. May hold a password: never print it (redactUrl). A password may
   * come from PGPASSWORD or PGPASSFILE instead, read by the pg driver itself.
   */
  storeUrl?: string
  /**
   * The folder of runs (`<workDir>/runs`: the local runtime's state folder, hence its step host and attempt folders)
   * and volumes (`<workDir>/volumes`). Default the data folder. Replicas on one machine, each with its own data
   * folder (server.json, admin key), share one work folder: a replica taking a run over reattaches to its steps
   * and sees the files its earlier steps left in its volumes.
   */
  workDir?: string
  /** 0 = an ephemeral port. Default 0. */
  port?: number
  /** Default 127.0.0.1: the control plane is local unless asked otherwise. */
  host?: string
  maxParallelSteps?: number
  /** Steps one workflow may have; default MANIFEST_LIMITS.stepsPerWorkflow (5,000). */
  maxStepsPerWorkflow?: number
  /** Items one forEach may fan out into (default 1,000). */
  maxForEachItems?: number
  /** Structured request logs (JSON lines). */
  logFile?: string
  /** Test knob: request body limit in bytes. */
  bodyLimit?: number
  /** How long logs of finished steps are kept, in ms; 0 keeps them forever. Default 30 days. */
  logRetentionMs?: number
  /** Failed authentications allowed per client address and window before 429 (default 10 a minute). */
  authLimits?: AuthLimits
  /** The web console's files; default dist/ui of this ctl (a build without it answers /ui/ with 404). */
  consoleDir?: string
  /** Open console event streams (SSE) allowed per user and per process; defaults 20 and 500. */
  streamLimits?: StreamLimits
  /** Where steps run: processes on this machine (default) or Pods on a Kubernetes cluster. */
  runtime?: RuntimeKind
  /** The cluster, for runtime 'kubernetes'. */
  kubernetes?: KubernetesServerOptions
  /** The control plane's URL as steps reach it, given to each as CTL_SERVER. Default: its own URL with the local
      runtime (steps run on this machine); none with Kubernetes (set it to the Service's in-cluster URL). */
  advertiseUrl?: string
  /**
   * The master key file (see src/secrets/master-key.ts); default $CTL_HOME/keys/…, outside the data folder.
   * Refused with the local runtime when it lies in a system folder its steps see (shownToSteps).
   */
  masterKeyFile?: string
  /**
   * A file holding the tenant admin's first API key (`ctl_…`), e.g. mounted from a Secret: when the admin has no
   * key yet, this one is stored (its hash) instead of a new one written to <dataDir>/admin.apikey, so that with
   * several replicas on emptyDir volumes the key outlives the Pod that started first.
   */
  adminKeyFile?: string
  /**
   * Local runtime under a root control plane: the host user and group every step runs as, never 0
   * (default 65534 / 65534, nobody / nogroup). Ignored when the control plane is unprivileged.
   */
  stepUid?: number
  stepGid?: number
  /** Local runtime: a delegated cgroup v2 folder for the steps' cgroups; default the control plane's own, when usable. */
  cgroupParent?: string
  /** Local runtime without bubblewrap: run every workflow's steps as plain processes, not only the tenant admin's (default false). */
  allowUnsandboxed?: boolean
  /** Local runtime: bytes of each step attempt's log stored at most (default 64 MiB; see src/runtime/local/log-cap.ts). */
  maxLogBytes?: number
  /** This control plane among the replicas sharing the store (engine.ts EngineOptions.replicaId); default a new id. */
  replicaId?: string
  /** How long a run's lease lasts unless renewed; default 15 s (EngineOptions.leaseTtlMs). */
  leaseTtlMs?: number
  /**
   * OpenTelemetry traces: the OTLP/HTTP base endpoint, like OTEL_EXPORTER_OTLP_ENDPOINT (spans go to `<it>/v1/traces`),
   * which it beats. Without it and without OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT traces are off (traces.ts).
   */
  otlpEndpoint?: string
  /** A file holding the token that opens GET /metrics besides a tenant-admin's key (read once at start). */
  metricsTokenFile?: string
}

export type { KubernetesServerOptions, RuntimeKind } from '../runtime/index.js'

export interface ControlPlane {
  url: string
  port: number
  /** Graceful: stop accepting, end log follows, stop the engine loops, close the store. Running steps keep running. */
  close(): Promise<void>
  /** Only on the first start, when the tenant admin's key was created (also written to `<dataDir>/admin.apikey`). */
  adminToken?: string
  /** Lines for the operator from the start: the master key created or moved out of the data folder, warnings. */
  notices: string[]
  /** This control plane among the replicas sharing the store. */
  replicaId: string
  storeKind: Store['kind']
}

export { ADMIN_KEY_FILE }

export const TENANT_ADMIN_ID = 'admin'

/**
 * First start: user `admin` (person, "Tenant admin") bound tenant-wide to tenant-admin, with an API
 * key whose token goes to a 0600 file for the local CLI (only its sha256 is stored). Idempotent
 * and resumable: a start that died halfway finishes the job; a deleted admin is not brought back.
 * A data dir from before users existed had its admin key moved to user `admin` by migration 0004.
 */
async function ensureTenantAdmin(store: Store, dataDir: string, adminKeyFile?: string): Promise<string | undefined> {
  const existing = await store.getUser(TENANT_ADMIN_ID, { includeDeleted: true })
  if (existing?.deletedAt !== undefined) return undefined
  if (!existing) {
    try {
      await store.createUser({ id: TENANT_ADMIN_ID, name: 'Tenant admin', type: 'person' })
      await store.addRoleBinding({ userId: TENANT_ADMIN_ID, role: 'tenant-admin', workspace: null, createdBy: TENANT_ADMIN_ID })
    } catch (err) {
      // Replicas starting together on a new store: another one created the admin first.
      if (!(err instanceof CtlError && err.code === 'E_CONFLICT')) throw err
      return undefined
    }
  }
  if ((await store.listApiKeys(TENANT_ADMIN_ID)).length > 0) return undefined
  if (adminKeyFile !== undefined) {
    await store.createApiKey({ userId: TENANT_ADMIN_ID, name: 'admin', hash: sha256Hex(readAdminKey(adminKeyFile)) })
    return undefined
  }
  const token = newToken()
  writeFileSync(join(dataDir, ADMIN_KEY_FILE), `${token}\n`, { mode: 0o600 })
  await store.createApiKey({ userId: TENANT_ADMIN_ID, name: 'admin', hash: sha256Hex(token) })
  return token
}

/** The key in `file`, checked; the messages name the file, never its content. */
function readAdminKey(file: string): string {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new CtlError('E_USAGE', `admin key file ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  const token = text.trim()
  if (!/^ctl_[A-Za-z0-9_-]{32,200}$/.test(token)) {
    throw new CtlError('E_USAGE', `admin key file ${file}: expected one API key, ctl_ and 32 to 200 letters, digits, _ or - (e.g. from: echo "ctl_$(openssl rand -hex 32)")`)
  }
  return token
}

/**
 * Everything the control plane writes is its owner's alone: umask 077 for this process and what it
 * starts (the step host and, through it, the steps' attempt folders and log files), and explicit modes
 * where a file or folder may predate the umask (an older data folder, a caller's umask).
 */
export function ownerOnlyDataDir(opts: Pick<ControlPlaneOptions, 'dataDir' | 'workDir' | 'logFile' | 'stepUid' | 'stepGid'>): void {
  process.umask(0o077)
  const work = workDirOf(opts)
  // A root control plane's steps run as the step user, whose group the local runtime lets enter the folders above a volume.
  const stepGid = stepUserOf(opts)?.gid
  for (const dir of [opts.dataDir, work, join(work, 'runs'), join(work, 'volumes')]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    // An older data folder: the folders that hold everything else are closed to others, their contents with them.
    // One the runtime opened to the steps' group stays so: the step host may still set up a sandbox through it.
    const st = statSync(dir)
    if ((st.mode & 0o077) !== 0 && !enterOnlyFor(st, stepGid)) chmodSync(dir, 0o700)
  }
  for (const file of [join(opts.dataDir, ADMIN_KEY_FILE), join(opts.dataDir, SERVER_INFO_FILE), join(opts.dataDir, SERVER_LOG_FILE), opts.logFile]) {
    if (file === undefined) continue
    try {
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
  // Fastify's logger would create it with the default mode.
  if (opts.logFile) closeSync(openSync(opts.logFile, 'a', 0o600))
}

/**
 * With the local runtime, a master key file in a system folder that bubblewrap shows every step (read-only)
 * is refused before anything is read or created: under a control plane running as an ordinary user each step
 * runs as that user and could read it. Checked whoever runs the control plane, so that a setting does not
 * turn unsafe when the control plane later runs as another user.
 */
function refuseKeyShownToSteps(opts: ControlPlaneOptions): void {
  if ((opts.runtime ?? 'local') !== 'local') return
  const file = masterKeyFileOf({ dataDir: opts.dataDir, file: opts.masterKeyFile })
  const folder = file === undefined ? undefined : shownToSteps(file)
  if (folder === undefined) return
  throw new CtlError('E_USAGE', `the master key file ${file} lies in ${folder}, which local steps see (read-only): a step could read the key and decrypt every secret; `
    + 'keep the key outside /usr, /bin, /sbin, /lib*, /etc and /opt, e.g. the default $CTL_HOME/keys (--master-key-file, CTL_MASTER_KEY_FILE or masterKeyFile in the server config), '
    + 'or give the key itself in CTL_MASTER_KEY')
}

/** Where runs and volumes live: --work-dir, else the data folder. */
export function workDirOf(opts: Pick<ControlPlaneOptions, 'dataDir' | 'workDir'>): string {
  return resolve(opts.workDir ?? opts.dataDir)
}

/** Tokens shorter than this are refused: the metrics token is a password. */
export const MIN_METRICS_TOKEN_LENGTH = 16
const MAX_METRICS_TOKEN_LENGTH = 4096

/** The metrics token from its file (surrounding whitespace and the final newline dropped); checked, never printed. */
export function readMetricsToken(file: string): string {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new CtlError('E_USAGE', `metrics token file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { field: 'metricsTokenFile' })
  }
  const token = text.trim()
  if (token.length < MIN_METRICS_TOKEN_LENGTH || token.length > MAX_METRICS_TOKEN_LENGTH || /\s/.test(token)) {
    throw new CtlError('E_USAGE', `metrics token file ${file}: the token must be one word of ${MIN_METRICS_TOKEN_LENGTH} to ${MAX_METRICS_TOKEN_LENGTH} characters (it has ${token.length})`, { field: 'metricsTokenFile' })
  }
  return token
}

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  refuseKeyShownToSteps(opts)
  ownerOnlyDataDir(opts)
  const metricsToken = opts.metricsTokenFile === undefined ? undefined : readMetricsToken(opts.metricsTokenFile)
  // One registry per control plane (several may run in one process); every part reports into it.
  const metrics = createMetrics()
  const storeUrl = opts.storeUrl ?? join(opts.dataDir, 'ctl.db')
  const workDir = workDirOf(opts)
  // A SQLite file named elsewhere gets its folder, the owner's alone like the data folder.
  if (storeKindOf(storeUrl) === 'sqlite') mkdirSync(dirname(sqliteFileOf(storeUrl)), { recursive: true, mode: 0o700 })
  // Every store call is timed (SQLite and PostgreSQL alike); a log wait is no query.
  const store = timedCalls(await openStore(storeUrl), metrics, new Set(['waitForLogs', 'close']))
  const replicaId = opts.replicaId ?? newReplicaId()
  let replica: ReplicaHandle | undefined
  let engine: ReturnType<typeof createEngine> | undefined
  let engineRunning = false
  let tracer: ControlPlaneTracer | undefined
  // The URL steps get as CTL_SERVER is known once the server listens (the port may be chosen then); a step
  // launched before waits that long.
  let announceUrl: (url: string | undefined) => void = () => {}
  const advertised = new Promise<string | undefined>((resolve) => (announceUrl = resolve))
  try {
    const adminToken = await ensureTenantAdmin(store, opts.dataDir, opts.adminKeyFile)
    // Secret values are sealed with a key from CTL_MASTER_KEY or a key file outside the data folder (created
    // 0600 now if missing, unless this data folder's secrets were sealed already: then a missing key is an error).
    const sealedBefore = (await store.getMeta(KEY_CHECK_META)) !== undefined
    const master = loadMasterKey({ dataDir: opts.dataDir, file: opts.masterKeyFile, mayCreate: !sealedBefore })
    const box = new SecretBox(master.key)
    await verifyMasterKey(store, box)
    const redactions = new RunRedactions()
    const runtime = await createRuntime({
      kind: opts.runtime,
      local: {
        stateDir: join(workDir, 'runs'),
        // Both hidden from steps: the data folder (keys, store) and the work folder (every run's files).
        dataDir: resolve(opts.dataDir),
        workDir,
        stepUid: opts.stepUid,
        stepGid: opts.stepGid,
        cgroupParent: opts.cgroupParent,
        allowUnsandboxed: opts.allowUnsandboxed ?? false,
        maxLogBytes: opts.maxLogBytes,
        // The user who started the control plane is the tenant admin it created (the local CLI's key).
        trustedOwner: TENANT_ADMIN_ID,
      },
      kubernetes: opts.kubernetes,
      metrics,
    })
    // Volumes are folders of the work folder (engine and launcher call it their dataDir).
    const launcher = createStoreLauncher({ store, dataDir: workDir, box, redactions, serverUrl: () => advertised })
    // Registered before the engine starts: the fire claims it makes name a replica the others can see.
    replica = await startReplica({ store, id: replicaId, counterKeepMs: 2 * Math.max(opts.authLimits?.windowMs ?? 60_000, 60 * 60_000), logger: stderrLogger })
    tracer = await startTraces({ store, replicaId, otlpEndpoint: opts.otlpEndpoint })
    engine = createEngine({ store, runtime, dataDir: workDir, maxParallelSteps: opts.maxParallelSteps, launcher, redact: redactions.redact, box, maxForEachItems: opts.maxForEachItems,
      replicaId, leaseTtlMs: opts.leaseTtlMs, ...(tracer ? { tracing: tracer } : {}), metrics,
    })
    const counted = engine
    // Read at scrape time: the active runs whose lease this replica holds (each replica reports its own).
    metrics.countRunsWith(async () => {
      const owned = new Set(counted.ownedRuns())
      const counts = { waiting: 0, running: 0 }
      if (owned.size === 0) return counts
      for (const run of await store.listRuns({ states: ['pending', 'running'] })) {
        if (!owned.has(run.id)) continue
        if (run.state === 'pending') counts.waiting++
        else counts.running++
      }
      return counts
    })
    await engine.start()
    engineRunning = true
    const app = buildApp({
      store, engine, logFile: opts.logFile, bodyLimit: opts.bodyLimit, authLimits: opts.authLimits, streamLimits: opts.streamLimits, consoleDir: opts.consoleDir,
      secrets: box, revealSecrets: secretRevealer(box), metrics, metricsToken,
      replicaId, sessionKey: deriveKey(master.key, 'console sessions'), ready: async () => engineRunning && (await storeAnswers(store)),
      resources: tracedResources(resourceService({ store, engine, secrets: box, limits: { maxStepsPerWorkflow: opts.maxStepsPerWorkflow, maxForEachItems: opts.maxForEachItems } }), tracer),
    })
    await app.listen({ port: opts.port ?? 0, host: opts.host ?? '127.0.0.1' })
    const address = app.server.address() as AddressInfo
    // A wildcard bind is reached through loopback from this machine.
    const bound = address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '::1' : address.address
    const host = bound.includes(':') ? `[${bound}]` : bound
    const started = engine
    const activeReplica = replica
    const tracing = tracer
    const retention = startLogRetention({ store, retentionMs: opts.logRetentionMs ?? parseRetention(DEFAULT_LOG_RETENTION) })
    void retention.sweep().catch(() => undefined)
    let closed: Promise<void> | undefined
    const ownUrl = `http://${host}:${address.port}`
    announceUrl(opts.advertiseUrl ?? ((opts.runtime ?? 'local') === 'local' ? ownUrl : undefined))
    // Bound to every address: named by this machine's host name (a Pod's name), not loopback.
    replica.setUrl(['0.0.0.0', '::'].includes(address.address) ? `http://${hostname()}:${address.port}` : ownUrl)
    const plane: ControlPlane = {
      notices: [...master.notices, ...(runtime.info().notice ? [runtime.info().notice!] : []), ...(tracing ? [`traces: exporting spans to ${tracing.shownEndpoint}`] : [])],
      url: ownUrl,
      replicaId,
      storeKind: store.kind,
      port: address.port,
      close: () =>
        (closed ??= (async () => {
          retention.stop()
          engineRunning = false
          await app.close()
          await started.stop()
          // After the engine: every end it stored is exported before the process goes.
          await tracing?.close()
          await activeReplica.stop()
          await runtime.close?.()
          await store.close()
        })()),
    }
    if (adminToken) plane.adminToken = adminToken
    return plane
  } catch (err) {
    announceUrl(undefined)
    await engine?.stop().catch(() => undefined)
    await tracer?.close().catch(() => undefined)
    await replica?.stop().catch(() => undefined)
    await store.close().catch(() => undefined)
    throw err
  }
}
