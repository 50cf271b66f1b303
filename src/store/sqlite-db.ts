// One better-sqlite3 connection with the habits every query relies on: WAL,
// busy timeout, foreign keys, cached prepared statements, IMMEDIATE write
// transactions, and SQLite errors turned into CtlErrors so SQLITE_BUSY or a
// constraint name never reaches a caller.
import fs from 'node:fs'
import Database from 'better-sqlite3'
import { CtlError } from '../errors.js'
import { MIGRATIONS, type Migration } from './migrations/index.js'
import { nowIso } from './ids.js'
import { storeParams } from './text.js'

type Statement = Database.Statement<unknown[], unknown>

const BOUND = ['run', 'get', 'all', 'iterate'] as const

/** The statement with storeText on every string parameter, as PostgreSQL's (text.ts): both stores keep the same text. */
function nulFree(s: Statement): Statement {
  // The four calls that take parameters are wrapped once per statement, not at every call (a closure per query).
  const bound: Record<PropertyKey, unknown> = Object.create(null) as Record<PropertyKey, unknown>
  for (const name of BOUND) {
    const f = s[name] as (...a: unknown[]) => unknown
    bound[name] = (...args: unknown[]) => f.apply(s, storeParams(args))
  }
  return new Proxy(s, {
    get(target, p) {
      const b = bound[p]
      if (b !== undefined) return b
      const v: unknown = Reflect.get(target, p, target)
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    },
  })
}

/** Default wait for another connection's lock before SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000
/** After a BUSY escapes the timeout, retry this many times (async, so the event loop breathes). */
const BUSY_RETRIES = 8

export interface SqliteOptions {
  /** How long a statement waits for another connection's lock before retrying (default 5000 ms). */
  busyTimeoutMs?: number
}

export class SqliteDb {
  readonly raw: Database.Database
  private readonly statements = new Map<string, Statement>()
  private readonly rawStatements = new Map<string, Statement>()
  /** One transaction wrapper for every write (better-sqlite3 builds four functions per transaction() call). */
  private readonly immediate: (fn: () => unknown) => unknown

  constructor(file: string, options: SqliteOptions = {}, migrations: readonly Migration[] = MIGRATIONS) {
    this.raw = openWithRetry(file, options.busyTimeoutMs ?? BUSY_TIMEOUT_MS)
    this.immediate = this.raw.transaction((fn: () => unknown) => fn()).immediate
    try {
      migrate(this.raw, migrations)
    } catch (err) {
      this.raw.close()
      throw mapSqliteError(err)
    }
  }

  /** Prepared once per SQL text, reused afterwards. */
  stmt(sql: string): Statement {
    return this.prepared(this.statements, sql, false)
  }

  /** stmt() answering rows as arrays in column order: the driver builds no object per row (half a listing's cost). */
  rawStmt(sql: string): Statement {
    return this.prepared(this.rawStatements, sql, true)
  }

  private prepared(cache: Map<string, Statement>, sql: string, raw: boolean): Statement {
    let s = cache.get(sql)
    if (!s) {
      const prepared = this.raw.prepare(sql)
      s = nulFree(raw ? prepared.raw(true) : prepared)
      cache.set(sql, s)
    }
    return s
  }

  /** Runs `fn` in a BEGIN IMMEDIATE transaction (the write lock is taken up front, so no
   *  read-then-upgrade deadlock), retrying when another connection keeps the lock too long. */
  async write<T>(fn: () => T): Promise<T> {
    return withBusyRetry(() => this.immediate(fn) as T)
  }

  /** A read or single statement, with the same error mapping. */
  async read<T>(fn: () => T): Promise<T> {
    return withBusyRetry(fn)
  }

  close(): void {
    this.statements.clear()
    this.rawStatements.clear()
    if (this.raw.open) this.raw.close()
  }
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
}

async function withBusyRetry<T>(fn: () => T): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return fn()
    } catch (err) {
      if (isBusy(err) && attempt < BUSY_RETRIES) {
        await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40))
        continue
      }
      throw mapSqliteError(err)
    }
  }
}

/** SQLite errors → CtlError; CtlErrors and foreign errors pass through. */
export function mapSqliteError(err: unknown): unknown {
  if (err instanceof CtlError) return err
  const code = (err as { code?: unknown })?.code
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return err
  const message = err instanceof Error ? err.message : String(err)
  if (isBusy(err)) return new CtlError('E_UNAVAILABLE', 'the database is busy; try again', { sqlite: code })
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
    return new CtlError('E_CONFLICT', `conflicting concurrent write: ${message}`, { sqlite: code })
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY')
    return new CtlError('E_NOT_FOUND', 'a referenced record does not exist', { sqlite: code })
  return new CtlError('E_INTERNAL', `database error: ${message}`, { sqlite: code })
}

/**
 * The database file readable by its owner only, made so before SQLite opens it: SQLite gives its
 * -wal and -shm files the database file's permissions, whatever the umask. An older file is tightened.
 */
function ownerOnly(file: string): void {
  if (file === ':memory:' || file === '' || file.startsWith('file:')) return
  fs.closeSync(fs.openSync(file, 'a', 0o600))
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      if ((fs.statSync(f).mode & 0o077) !== 0) fs.chmodSync(f, 0o600)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
}

function openWithRetry(file: string, busyTimeoutMs: number): Database.Database {
  try {
    ownerOnly(file)
  } catch (err) {
    throw new CtlError('E_UNAVAILABLE', `cannot open database ${file}: ${(err as Error).message}`)
  }
  // Switching a fresh file to WAL needs a brief exclusive lock; several processes
  // opening the same new file at once can see BUSY there despite the timeout.
  for (let attempt = 0; ; attempt++) {
    let db: Database.Database | undefined
    try {
      db = new Database(file, { timeout: busyTimeoutMs })
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = NORMAL')
      db.pragma('foreign_keys = ON')
      // Statement journals (the savepoint of each run created in a group commit) in memory, not in files under
      // /var/tmp: a file each, written page by page, at every commit that creates runs.
      db.pragma('temp_store = MEMORY')
      return db
    } catch (err) {
      db?.close()
      if (isBusy(err) && attempt < BUSY_RETRIES) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20 + Math.random() * 50)
        continue
      }
      const mapped = mapSqliteError(err)
      if (mapped instanceof CtlError) throw mapped
      throw new CtlError('E_UNAVAILABLE', `cannot open database ${file}: ${(err as Error).message}`)
    }
  }
}

/** Applies pending migrations in order, all in one IMMEDIATE transaction, so concurrent
 *  openers serialize and the second one finds nothing left to do. */
export function migrate(db: Database.Database, migrations: readonly Migration[]): void {
  const latest = migrations.reduce((max, m) => Math.max(max, m.version), 0)
  const run = db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT NOT NULL,
      applied_at TEXT NOT NULL
    )`)
    const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }
    const current = row.v ?? 0
    if (current > latest) {
      throw new CtlError(
        'E_UNAVAILABLE',
        `the database schema is version ${current} but this ctl knows only up to ${latest}; upgrade ctl to use this database`,
        { databaseVersion: current, codeVersion: latest },
      )
    }
    const insert = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (m.version <= current) continue
      db.exec(m.sqlite)
      insert.run(m.version, m.name, nowIso())
    }
  })
  for (let attempt = 0; ; attempt++) {
    try {
      run.immediate()
      return
    } catch (err) {
      if (isBusy(err) && attempt < BUSY_RETRIES) continue
      throw err
    }
  }
}

/** Schema version recorded in an open database (0 = none). */
export function schemaVersion(db: Database.Database): number {
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }
  return row.v ?? 0
}
