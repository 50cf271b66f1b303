// The PostgreSQL connection the store's areas share: a pool for queries and transactions, one
// dedicated client for LISTEN, the versioned migrations (run under an advisory lock, so replicas
// starting together migrate once), and the mapping of PostgreSQL errors to ctl's error codes.
import pg from 'pg'
import { CtlError } from '../../errors.js'
import { redactUrl } from '../url.js'
import { PG_MIGRATIONS, PG_LATEST_SCHEMA_VERSION } from './migrations/index.js'
import { storeParams } from '../text.js'

/** What a store area needs to run statements: the pool, or a transaction's client. */
export interface PgQuery {
  /** Rows of a statement ($1, $2, … placeholders). */
  rows<R>(sql: string, params?: readonly unknown[]): Promise<R[]>
  /** The first row, or undefined. */
  one<R>(sql: string, params?: readonly unknown[]): Promise<R | undefined>
  /** Runs a statement; resolves with the number of rows it touched. */
  exec(sql: string, params?: readonly unknown[]): Promise<number>
}

export interface PgOptions {
  /** Most pooled connections (default 10). */
  maxConnections?: number
  /** How long a query may wait for a free connection (default 10 s) before E_UNAVAILABLE. */
  connectTimeoutMs?: number
}

/** Transactions that lost a serialization race or a deadlock are run again this many times. */
const TX_RETRIES = 8
/** Key of the advisory lock migrations hold (any constant; "ctl" in ASCII). */
const MIGRATION_LOCK = 0x63746c

/** SQLSTATE of a raw pg error (inside a transaction errors are not mapped yet): https://www.postgresql.org/docs/15/errcodes-appendix.html */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown })?.code
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}

function isRetryable(err: unknown): boolean {
  const s = sqlState(err)
  return s === '40001' || s === '40P01'
}

/** PostgreSQL and connection errors → CtlError; CtlErrors and foreign errors pass through. */
export function mapPgError(err: unknown): unknown {
  if (err instanceof CtlError) return err
  const message = err instanceof Error ? err.message : String(err)
  const state = sqlState(err)
  const sysCode = (err as { code?: unknown })?.code
  if (state === undefined) {
    if (typeof sysCode === 'string' && /^E[A-Z]+$/.test(sysCode)) return new CtlError('E_UNAVAILABLE', `the database is unreachable: ${message}`, { pg: sysCode })
    if (/timeout|terminated|Connection|ended/i.test(message)) return new CtlError('E_UNAVAILABLE', `the database is unreachable: ${message}`)
    return err
  }
  if (state === '23505') return new CtlError('E_CONFLICT', `conflicting concurrent write: ${message}`, { pg: state })
  if (state === '23503') return new CtlError('E_NOT_FOUND', 'a referenced record does not exist', { pg: state })
  if (isRetryable(err)) return new CtlError('E_CONFLICT', `conflicting concurrent write: ${message}`, { pg: state })
  if (state.startsWith('08') || state.startsWith('57') || state === '53300') return new CtlError('E_UNAVAILABLE', `the database is unavailable: ${message}`, { pg: state })
  return new CtlError('E_INTERNAL', `database error: ${message}`, { pg: state })
}

function queryOf(runRaw: (sql: string, params?: readonly unknown[]) => Promise<pg.QueryResult>): PgQuery {
  // Every string parameter without NUL (text.ts): one place for every statement, lookups included.
  const run = (sql: string, params?: readonly unknown[]) => runRaw(sql, params && storeParams(params))
  return {
    async rows<R>(sql: string, params?: readonly unknown[]) {
      return (await run(sql, params)).rows as R[]
    },
    async one<R>(sql: string, params?: readonly unknown[]) {
      return (await run(sql, params)).rows[0] as R | undefined
    },
    async exec(sql: string, params?: readonly unknown[]) {
      return (await run(sql, params)).rowCount ?? 0
    },
  }
}

// The URL without its password, for messages: one helper for every store (src/store/url.ts).
export { redactUrl }

export class PgDb implements PgQuery {
  private listener: pg.Client | undefined
  private readonly channels = new Map<string, (payload: string) => void>()
  private closed = false
  private readonly q: PgQuery

  private constructor(readonly pool: pg.Pool, readonly url: string) {
    this.q = queryOf(async (sql, params) => {
      try {
        return await this.pool.query(sql, params as unknown[] | undefined)
      } catch (err) {
        throw mapPgError(err)
      }
    })
  }

  /** Connects and migrates; E_UNAVAILABLE when unreachable or when the schema is newer than this code. */
  static async open(url: string, options: PgOptions = {}): Promise<PgDb> {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      application_name: 'ctl',
    })
    // An idle client that loses its server must not crash the process; the next query reports it.
    pool.on('error', () => {})
    const db = new PgDb(pool, url)
    try {
      await db.migrate()
    } catch (err) {
      await pool.end().catch(() => {})
      const mapped = mapPgError(err)
      if (mapped instanceof CtlError) throw new CtlError(mapped.code === 'E_INTERNAL' ? 'E_UNAVAILABLE' : mapped.code, `cannot open database ${redactUrl(url)}: ${mapped.message}`)
      throw mapped
    }
    return db
  }

  rows<R>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    return this.q.rows<R>(sql, params)
  }
  one<R>(sql: string, params?: readonly unknown[]): Promise<R | undefined> {
    return this.q.one<R>(sql, params)
  }
  exec(sql: string, params?: readonly unknown[]): Promise<number> {
    return this.q.exec(sql, params)
  }

  /**
   * Runs `fn` in one transaction on one connection (READ COMMITTED unless `serializable`), run again
   * from the start when it lost a serialization race or a deadlock, so `fn` must only touch the database.
   */
  async tx<T>(fn: (q: PgQuery) => Promise<T>, options: { serializable?: boolean } = {}): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let client: pg.PoolClient
      try {
        client = await this.pool.connect()
      } catch (err) {
        throw mapPgError(err)
      }
      let broken = false
      try {
        await client.query(options.serializable ? 'BEGIN ISOLATION LEVEL SERIALIZABLE' : 'BEGIN')
        const result = await fn(queryOf((sql, params) => client.query(sql, params as unknown[] | undefined)))
        await client.query('COMMIT')
        return result
      } catch (err) {
        try {
          await client.query('ROLLBACK')
        } catch {
          broken = true
        }
        if (isRetryable(err) && attempt < TX_RETRIES) {
          await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)))
          continue
        }
        throw mapPgError(err)
      } finally {
        client.release(broken)
      }
    }
  }

  /**
   * Calls `onPayload` for each NOTIFY on `channel`, on one dedicated connection that is made again
   * after it drops. Notifications sent meanwhile are lost: `onRelisten` runs once the channel is
   * listened to again, so callers can catch up (callers keep a timeout as a fallback too).
   */
  async listen(channel: string, onPayload: (payload: string) => void, onRelisten?: () => void): Promise<void> {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new CtlError('E_USAGE', `bad channel name ${channel}`)
    this.channels.set(channel, onPayload)
    if (onRelisten) this.relisten.set(channel, onRelisten)
    const client = await this.listenerClient()
    if (client) await client.query(`LISTEN ${channel}`).catch(() => this.dropListener())
  }

  private readonly relisten = new Map<string, () => void>()

  private async listenerClient(): Promise<pg.Client | undefined> {
    if (this.closed) return undefined
    if (this.listener) return this.listener
    const client = new pg.Client({ connectionString: this.url, application_name: 'ctl-listen' })
    client.on('notification', (n) => {
      const cb = this.channels.get(n.channel)
      if (cb) cb(n.payload ?? '')
    })
    client.on('error', () => this.dropListener())
    client.on('end', () => this.dropListener())
    try {
      await client.connect()
      for (const ch of this.channels.keys()) await client.query(`LISTEN ${ch}`)
    } catch {
      await client.end().catch(() => {})
      this.scheduleReconnect()
      return undefined
    }
    this.listener = client
    // Every (re)connect: whatever was notified while no connection listened is caught up on.
    for (const cb of this.relisten.values()) cb()
    return client
  }

  private reconnectTimer: NodeJS.Timeout | undefined

  private dropListener(): void {
    const old = this.listener
    this.listener = undefined
    if (old) old.end().catch(() => {})
    this.scheduleReconnect()
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined
      void this.listenerClient()
    }, 1_000)
    this.reconnectTimer.unref()
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer)
    const l = this.listener
    this.listener = undefined
    if (l) await l.end().catch(() => {})
    await this.pool.end().catch(() => {})
  }

  private async migrate(): Promise<void> {
    await this.tx(async (q) => {
      await q.exec('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
      await q.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`)
      const done = new Set((await q.rows<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => r.version))
      const newest = Math.max(0, ...done)
      if (newest > PG_LATEST_SCHEMA_VERSION) {
        throw new CtlError('E_UNAVAILABLE', `its schema version ${newest} is newer than this ctl knows (${PG_LATEST_SCHEMA_VERSION}): upgrade ctl`)
      }
      for (const m of PG_MIGRATIONS) {
        if (done.has(m.version)) continue
        await q.exec(m.sql)
        await q.exec('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name])
      }
    })
  }

  /** The schema version in the database (for `server status`). */
  async schemaVersion(): Promise<number> {
    const r = await this.one<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations')
    return r?.v ?? 0
  }
}
