// Starting and stopping a whole control plane in this process: store, runtime, engine,
// HTTP app. Used by `ctl server start`, by process.ts and by the tests.
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { openSqliteStore } from '../store/index.js'
import type { Store } from '../store/types.js'
import { createLocalRuntime } from '../runtime/local/index.js'
import { createEngine } from '../engine/engine.js'
import { buildApp } from './app.js'
import { ADMIN_KEY_FILE } from './process.js'
import { DEFAULT_LOG_RETENTION, parseRetention, startLogRetention } from '../logs/retention.js'
import { ADMIN_KEY_META, sha256Hex } from './auth.js'

export interface ControlPlaneOptions {
  dataDir: string
  /** 0 = an ephemeral port. Default 0. */
  port?: number
  /** Default 127.0.0.1: the control plane is local unless asked otherwise. */
  host?: string
  maxParallelSteps?: number
  /** Structured request logs (JSON lines). */
  logFile?: string
  /** Test knob: request body limit in bytes. */
  bodyLimit?: number
  /** How long logs of finished steps are kept, in ms; 0 keeps them forever. Default 30 days. */
  logRetentionMs?: number
}

export interface ControlPlane {
  url: string
  port: number
  /** Graceful: stop accepting, end log follows, stop the engine loops, close the store. Running steps keep running. */
  close(): Promise<void>
  /** Only on the first start, when the admin key was created (also written to `<dataDir>/admin.apikey`). */
  adminToken?: string
}

export { ADMIN_KEY_FILE }

/** Creates the admin key on first start: only its sha256 is stored; the key goes to a 0600 file for the local CLI. */
async function ensureAdminKey(store: Store, dataDir: string): Promise<string | undefined> {
  if (await store.getMeta(ADMIN_KEY_META)) return undefined
  const token = `ctl_${randomBytes(32).toString('base64url')}`
  writeFileSync(join(dataDir, ADMIN_KEY_FILE), `${token}\n`, { mode: 0o600 })
  await store.setMeta(ADMIN_KEY_META, sha256Hex(token))
  return token
}

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 })
  mkdirSync(join(opts.dataDir, 'runs'), { recursive: true })
  mkdirSync(join(opts.dataDir, 'volumes'), { recursive: true })
  const store = openSqliteStore(join(opts.dataDir, 'ctl.db'))
  let engine: ReturnType<typeof createEngine> | undefined
  try {
    const adminToken = await ensureAdminKey(store, opts.dataDir)
    const runtime = createLocalRuntime({ stateDir: join(opts.dataDir, 'runs') })
    engine = createEngine({ store, runtime, dataDir: opts.dataDir, maxParallelSteps: opts.maxParallelSteps })
    await engine.start()
    const app = buildApp({ store, engine, logFile: opts.logFile, bodyLimit: opts.bodyLimit })
    await app.listen({ port: opts.port ?? 0, host: opts.host ?? '127.0.0.1' })
    const address = app.server.address() as AddressInfo
    // A wildcard bind is reached through loopback from this machine.
    const bound = address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '::1' : address.address
    const host = bound.includes(':') ? `[${bound}]` : bound
    const started = engine
    const retention = startLogRetention({ store, retentionMs: opts.logRetentionMs ?? parseRetention(DEFAULT_LOG_RETENTION) })
    void retention.sweep().catch(() => undefined)
    let closed: Promise<void> | undefined
    const plane: ControlPlane = {
      url: `http://${host}:${address.port}`,
      port: address.port,
      close: () =>
        (closed ??= (async () => {
          retention.stop()
          await app.close()
          await started.stop()
          await store.close()
        })()),
    }
    if (adminToken) plane.adminToken = adminToken
    return plane
  } catch (err) {
    await engine?.stop().catch(() => undefined)
    await store.close().catch(() => undefined)
    throw err
  }
}
