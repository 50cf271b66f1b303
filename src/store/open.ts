// openStore(url): the one place that turns a store URL into a store. SQLite is the embedded default
// (a file path or `sqlite:PATH`); `postgresql://` and `postgres://` URLs open PostgreSQL, whose
// code (and the pg driver) is loaded only then.
import { openSqliteStore, type SqliteOptions } from './sqlite.js'
import type { Store } from './types.js'
import { sqliteFileOf, storeKindOf } from './url.js'

export interface OpenStoreOptions {
  sqlite?: SqliteOptions
  /** PostgreSQL: most pooled connections (default 10). */
  maxConnections?: number
}

export { storeKindOf, sqliteFileOf, type StoreKind } from './url.js'

export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (storeKindOf(url) === 'postgres') {
    const { openPostgresStore } = await import('./postgres/store.js')
    return openPostgresStore(url, { maxConnections: options.maxConnections })
  }
  return openSqliteStore(sqliteFileOf(url), options.sqlite)
}
