// openStore(url): the one place that turns a store URL into a store. SQLite is the embedded default
// (a file path or `sqlite:PATH`); `postgresql://` and `postgres://` URLs open PostgreSQL, whose
// code (and the pg driver) is loaded only then.
import { CtlError } from '../errors.js'
import { openSqliteStore, type SqliteOptions } from './sqlite.js'
import type { Store } from './types.js'

export interface OpenStoreOptions {
  sqlite?: SqliteOptions
  /** PostgreSQL: most pooled connections (default 10). */
  maxConnections?: number
}

export type StoreKind = Store['kind']

/** Which store a URL names; E_USAGE for an unknown scheme. */
export function storeKindOf(url: string): StoreKind {
  if (/^postgres(ql)?:\/\//i.test(url)) return 'postgres'
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new CtlError('E_USAGE', `unknown store URL scheme in "${url.replace(/\/\/[^@/]*@/, '//***@')}" (expected a SQLite file path, sqlite:PATH, or postgresql://…)`)
  }
  return 'sqlite'
}

/** The file a SQLite store URL names. */
export function sqliteFileOf(url: string): string {
  return url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url
}

export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (storeKindOf(url) === 'postgres') {
    const { openPostgresStore } = await import('./postgres/store.js')
    return openPostgresStore(url, { maxConnections: options.maxConnections })
  }
  return openSqliteStore(sqliteFileOf(url), options.sqlite)
}
