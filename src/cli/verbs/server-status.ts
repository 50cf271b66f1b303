// `ctl server status`: whether the control plane runs (the local one of --data-dir: its server.json and /healthz),
// and the replicas sharing its store (GET /api/v1/replicas, tenant-admin): id, host, pid, URL, version, start,
// last heartbeat, alive or not, runs owned. With --context it asks that context's control plane instead.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { CtlClient } from '../../client/client.js'
import type { ReplicaInfo, ReplicasResponse } from '../../api/types.js'
import { CtlError } from '../../errors.js'
import type { Io } from '../io.js'
import { renderTable, toJson, toYaml, type OutputFormat } from '../output.js'
import { connect } from '../connect.js'

export interface ServerStatusReport {
  running: boolean
  url: string | null
  pid: number | null
  dataDir: string | null
  /** The store kind (sqlite, postgres); never its URL. */
  store: string | null
  /** The replica that answered. */
  self: string | null
  /** null when they could not be read (see replicasError). */
  replicas: ReplicaInfo[] | null
  replicasError?: string
}

export interface ServerStatusOptions {
  dataDir: string
  context?: string
  env: NodeJS.ProcessEnv
  io: Io
  cliEntry: string
}

/** The key for the local control plane: CTL_APIKEY, else the admin key it wrote to its data folder. */
function localKey(dataDir: string, env: NodeJS.ProcessEnv): string | undefined {
  if (env.CTL_APIKEY?.trim()) return env.CTL_APIKEY.trim()
  try {
    return readFileSync(join(dataDir, 'admin.apikey'), 'utf8').trim() || undefined
  } catch {
    return undefined
  }
}

async function readReplicas(client: CtlClient, report: ServerStatusReport): Promise<void> {
  try {
    const r: ReplicasResponse = await client.replicas()
    report.store = r.store
    report.self = r.self
    report.replicas = r.replicas
  } catch (err) {
    if (!(err instanceof CtlError)) throw err
    report.replicasError = err.message
  }
}

export async function serverStatusReport(o: ServerStatusOptions): Promise<ServerStatusReport> {
  if (o.context !== undefined) {
    const report: ServerStatusReport = { running: false, url: null, pid: null, dataDir: null, store: null, self: null, replicas: null }
    const { client } = await connect({ context: o.context, env: o.env, io: o.io, cliEntry: o.cliEntry, autoStart: false })
    report.url = client.baseUrl
    try {
      await client.health()
      report.running = true
    } catch (err) {
      if (err instanceof CtlError && err.code === 'E_UNAVAILABLE') return report
      throw err
    }
    await readReplicas(client, report)
    return report
  }
  const { serverStatus } = await import('../../controlplane/process.js')
  const status = await serverStatus(o.dataDir)
  const report: ServerStatusReport = { running: status.running, url: status.url ?? null, pid: status.pid ?? null, dataDir: o.dataDir, store: null, self: null, replicas: null }
  if (status.running && status.url) await readReplicas(new CtlClient({ baseUrl: status.url, apiKey: localKey(o.dataDir, o.env) }), report)
  return report
}

export const REPLICA_HEADERS = ['ID', 'HOST', 'PID', 'URL', 'VERSION', 'STARTED', 'HEARTBEAT', 'ALIVE', 'RUNS']

export function printServerStatus(io: Io, output: OutputFormat, r: ServerStatusReport): void {
  if (output === 'json') return io.out(toJson(r))
  if (output === 'yaml') return io.out(toYaml(r))
  const where = r.dataDir ? `data in ${r.dataDir}` : 'remote'
  if (!r.running) {
    io.out(r.pid ? `not answering (pid ${r.pid} recorded in ${r.dataDir})` : r.dataDir ? `not running (data in ${r.dataDir})` : `not answering at ${r.url}`)
    return
  }
  io.out(r.pid ? `running at ${r.url} (pid ${r.pid}, ${where})` : `running at ${r.url} (${where})`)
  if (r.replicas === null) {
    io.out(`replicas: not shown (${r.replicasError ?? 'unknown'})`)
    return
  }
  io.out(`store: ${r.store}; ${r.replicas.filter((x) => x.alive).length} of ${r.replicas.length} replicas alive`)
  io.out(renderTable(REPLICA_HEADERS, r.replicas.map((x) => [
    x.id === r.self ? `${x.id} (this)` : x.id, x.host, x.pid, x.url ?? '', x.version, x.startedAt, x.heartbeatAt, x.alive ? 'yes' : 'no', x.runsOwned,
  ])))
}
